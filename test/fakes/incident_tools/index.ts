/**
 * Local fakes of the two incident tools' REST endpoints the broker asks (src/webhooks/source_api.ts):
 *
 *   const pd = await startPagerDutyFake();          // or startIncidentIoFake()
 *   pd.setIncident('Q2CKYRLH85UNN4', 'acknowledged');          // incident.io: setIncident(id, 'live')
 *   const api = createPagerDutyApi({ baseUrl: pd.url, token: pd.token, timeoutMs: 1000 });
 *   await api.status('Q2CKYRLH85UNN4', signal);                // { state: 'open', sourceStatus: 'acknowledged' }
 *   expect(pd.unexpected).toEqual([]);
 *   await pd.stop();
 *
 * Each fake listens on 127.0.0.1:0 and speaks its vendor's shapes:
 * - `url`: the base URL (give it to the client as `baseUrl`); `token`: the one key it accepts
 *   (random per fake unless `{ token }` is passed). Any other or no Authorization → 401 with the
 *   vendor's error document.
 * - `setIncident(id, status, extra?)`: PagerDuty takes `triggered` | `acknowledged` | `resolved`,
 *   incident.io a status category (`triage` … `canceled`); `extra` sets times, the status's name, or
 *   overrides any field of the answer (`fields`). `removeIncident(id)`: it answers 404 after.
 *   An id never set answers 404 (PagerDuty `{"error":{"message":"Not Found","code":2100}}`,
 *   incident.io `{"type":"not_found","status":404,…}`).
 * - `failNext(count, status, { retryAfterSeconds }?)`: the next `count` incident requests answer
 *   `status` with the vendor's error document, whatever the token; with `retryAfterSeconds`, a
 *   `Retry-After` header (and PagerDuty's `ratelimit-*` headers, incident.io's `rate_limit` field, on a 429).
 * - `misbehaveNext(count, how)`: the next `count` answers hang, stall mid-body, drip a byte at a time, redirect, are
 *   oversize (declared or chunked), are any raw status and body, or reset the connection.
 *   Failures and misbehaviours share one FIFO queue, consumed before the token is checked.
 * - `requests`: every incident request, in order: `{ method, path (raw, still encoded), id
 *   (decoded), authorization, accept }`. `unexpected`: `METHOD target` of every other request
 *   (another method or path, or any query string), answered 501; assert it empty.
 * - `stop()`: closes every connection (a hanging one included) and the server.
 *
 * Not modelled: PagerDuty's incident numbers as ids and `include[]`, incident.io's numeric
 * references as ids, 403 for a key without the scope (only with failNext), pagination, any other
 * endpoint, TLS, and the vendors' real rate-limit accounting.
 */
export {
  startIncidentIoFake,
  INCIDENTIO_CATEGORIES,
  type IncidentIoCategory,
  type IncidentIoFake,
  type IncidentIoIncidentExtra,
} from './incidentio.js';
export { startPagerDutyFake, type PagerDutyFake, type PagerDutyIncidentExtra, type PagerDutyStatus } from './pagerduty.js';
export type { FailOptions, IncidentToolFake, Misbehaviour, RecordedRequest } from './server.js';
