/**
 * A fake of PagerDuty's REST API v2 "Get an incident"
 * (https://developer.pagerduty.com/api-reference/005299e63c5e2-get-an-incident):
 * `GET /incidents/{id}` with `Authorization: Token token=<token>`, answering PagerDuty's sample
 * incident (./samples.ts) with the id, status and status times set, or its error documents.
 */
import { pagerDutyError, pagerDutySample } from './samples.js';
import { startFakeServer, type IncidentToolFake } from './server.js';

/** PagerDuty's three incident statuses; any other string is sent as it is (a status PagerDuty might add). */
export type PagerDutyStatus = 'triggered' | 'acknowledged' | 'resolved' | (string & {});

export interface PagerDutyIncidentExtra {
  /** `last_status_change_at`; default: when setIncident was called. */
  readonly lastStatusChangeAt?: string;
  /** `resolved_at` when resolved; default: lastStatusChangeAt. Always null otherwise. */
  readonly resolvedAt?: string | null;
  /** Set on the incident object last, over everything else (`{ id: 'OTHER' }`, `{ status: 42 }`). */
  readonly fields?: Readonly<Record<string, unknown>>;
}

interface Entry {
  readonly status: string;
  readonly extra: PagerDutyIncidentExtra;
  readonly setAt: string;
}

export type PagerDutyFake = IncidentToolFake<PagerDutyStatus, PagerDutyIncidentExtra>;

/** PagerDuty writes times to the second: 2015-10-06T21:38:23Z. */
const now = (): string => new Date().toISOString().replace(/\.\d{3}Z$/u, 'Z');

export async function startPagerDutyFake(options: { readonly token?: string } = {}): Promise<PagerDutyFake> {
  const server = await startFakeServer<Entry>(
    {
      prefix: '/incidents',
      tokenPrefix: 'u+pdfake',
      authorization: (token) => `Token token=${token}`,
      render: (id, { status, extra, setAt }) => {
        const answer = pagerDutySample();
        const incident = answer['incident'] as Record<string, unknown>;
        const changedAt = extra.lastStatusChangeAt ?? setAt;
        Object.assign(incident, {
          id,
          self: `https://api.pagerduty.com/incidents/${encodeURIComponent(id)}`,
          html_url: `https://subdomain.pagerduty.com/incidents/${encodeURIComponent(id)}`,
          status,
          last_status_change_at: changedAt,
          resolved_at: status === 'resolved' ? (extra.resolvedAt === undefined ? changedAt : extra.resolvedAt) : null,
          ...extra.fields,
        });
        return answer;
      },
      error: (status) => pagerDutyError(status),
      // https://support.pagerduty.com/docs/rest-api-rate-limits: the headers a rate-limited answer carries.
      failureHeaders: (status, { retryAfterSeconds }) =>
        status === 429 ? { 'ratelimit-limit': '960', 'ratelimit-remaining': '0', 'ratelimit-reset': String(retryAfterSeconds ?? 60) } : {},
    },
    options.token,
  );
  return {
    ...server,
    setIncident: (id, status, extra = {}) => void server.incidents.set(id, { status, extra, setAt: now() }),
    removeIncident: (id) => void server.incidents.delete(id),
  };
}
