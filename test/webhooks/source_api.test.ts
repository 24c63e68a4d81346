/**
 * The incident tools' REST clients (src/webhooks/source_api.ts) against local fakes that speak
 * PagerDuty's and incident.io's shapes (test/fakes/incident_tools/). Every refusal first shows the
 * same client answering the valid case, then changes one thing.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  createIncidentIoApi,
  createPagerDutyApi,
  INCIDENTIO_API_URL,
  PAGERDUTY_API_URL,
  SourceApiError,
  type IncidentSourceApi,
  type SourceApiConfig,
} from '../../src/webhooks/source_api.js';
import {
  INCIDENTIO_CATEGORIES,
  startIncidentIoFake,
  startPagerDutyFake,
  type IncidentIoFake,
  type IncidentToolFake,
  type PagerDutyFake,
} from '../fakes/incident_tools/index.js';

const PD_ID = 'Q2CKYRLH85UNN4';
const IIO_ID = '01FDAG4SAP5TYPT98WGR2N7W91';

const signal = (): AbortSignal => new AbortController().signal;

/** The SourceApiError `promise` rejects with (fails the test if it resolves or rejects otherwise). */
async function refusal(promise: Promise<unknown>): Promise<SourceApiError> {
  const outcome = await promise.then(
    (value) => ({ value }),
    (err: unknown) => ({ err }),
  );
  if (!('err' in outcome)) throw new Error(`expected a SourceApiError, got ${JSON.stringify(outcome.value)}`);
  expect(outcome.err).toBeInstanceOf(SourceApiError);
  return outcome.err as SourceApiError;
}

/** What the shared behaviours need to know of each source. */
interface Source {
  readonly name: 'pagerduty' | 'incidentio';
  readonly id: string;
  readonly open: string;
  readonly openStatus: string;
  readonly prefix: string;
  start(): Promise<IncidentToolFake<string, never>>;
  create(config: SourceApiConfig): IncidentSourceApi;
  authorization(token: string): string;
}

const SOURCES: readonly Source[] = [
  {
    name: 'pagerduty',
    id: PD_ID,
    open: 'acknowledged',
    openStatus: 'acknowledged',
    prefix: '/incidents/',
    start: startPagerDutyFake,
    create: createPagerDutyApi,
    authorization: (token) => `Token token=${token}`,
  },
  {
    name: 'incidentio',
    id: IIO_ID,
    open: 'live',
    openStatus: 'Investigating',
    prefix: '/v2/incidents/',
    start: startIncidentIoFake,
    create: createIncidentIoApi,
    authorization: (token) => `Bearer ${token}`,
  },
];

describe.each(SOURCES)('$name client, every source', (source) => {
  let fake: IncidentToolFake<string, never>;
  let api: IncidentSourceApi;
  const config = (over: Partial<SourceApiConfig> = {}): SourceApiConfig => ({
    baseUrl: fake.url,
    token: fake.token,
    timeoutMs: 2000,
    ...over,
  });
  const expectOpen = async (client = api): Promise<void> =>
    expect(await client.status(source.id, signal())).toEqual({ state: 'open', sourceStatus: source.openStatus });

  beforeEach(async () => {
    fake = await source.start();
    fake.setIncident(source.id, source.open);
    api = source.create(config());
  });
  afterEach(async () => {
    expect(fake.unexpected).toEqual([]);
    await fake.stop();
  });

  it('sends one GET of the incident with the source token, the id URL-encoded into the path', async () => {
    const odd = 'a/b c?#%..';
    fake.setIncident(odd, source.open);
    await expectOpen();
    expect(await api.status(odd, signal())).toEqual({ state: 'open', sourceStatus: source.openStatus });
    expect(fake.requests.map(({ path, id, authorization }) => ({ path, id, authorization }))).toEqual([
      { path: `${source.prefix}${source.id}`, id: source.id, authorization: source.authorization(fake.token) },
      { path: `${source.prefix}a%2Fb%20c%3F%23%25..`, id: odd, authorization: source.authorization(fake.token) },
    ]);
  });

  it('answers not_found for an incident the source does not have, and after it is removed', async () => {
    await expectOpen();
    expect(await api.status('NEVERSEEN', signal())).toEqual({ state: 'not_found' });
    fake.removeIncident(source.id);
    expect(await api.status(source.id, signal())).toEqual({ state: 'not_found' });
  });

  it('refuses a wrong token as HTTP 401', async () => {
    await expectOpen();
    const err = await refusal(source.create(config({ token: 'wrong-token' })).status(source.id, signal()));
    expect(err).toMatchObject({ source: source.name, reason: 'HTTP 401', httpStatus: 401 });
  });

  it.each([403, 500, 502, 503, 429])('refuses HTTP %i', async (status) => {
    await expectOpen();
    fake.failNext(1, status);
    expect(await refusal(api.status(source.id, signal()))).toMatchObject({ reason: `HTTP ${status}`, httpStatus: status });
    await expectOpen(); // the failure was for one request only
  });

  it('reports Retry-After on a 429 as retryAfterMs', async () => {
    fake.failNext(1, 429, { retryAfterSeconds: 30 });
    expect(await refusal(api.status(source.id, signal()))).toMatchObject({ reason: 'HTTP 429', retryAfterMs: 30_000 });
  });

  it('times out on a source that never answers', async () => {
    const quick = source.create(config({ timeoutMs: 300 }));
    await expectOpen(quick);
    fake.misbehaveNext(1, { kind: 'hang' });
    expect(await refusal(quick.status(source.id, signal()))).toMatchObject({ reason: 'timeout' });
  });

  it('times out on a body that stalls after the headers: the deadline covers the body', async () => {
    const quick = source.create(config({ timeoutMs: 300 }));
    await expectOpen(quick);
    fake.misbehaveNext(1, { kind: 'stall' });
    expect(await refusal(quick.status(source.id, signal()))).toMatchObject({ reason: 'timeout' });
  });

  it('times out on a body that keeps dripping: one deadline for the whole call, not an idle timeout', async () => {
    const quick = source.create(config({ timeoutMs: 300 }));
    await expectOpen(quick);
    fake.misbehaveNext(1, { kind: 'drip', everyMs: 50 });
    expect(await refusal(quick.status(source.id, signal()))).toMatchObject({ reason: 'timeout' });
  });

  it.each([false, true])('refuses an answer over maxBytes (chunked: %s)', async (chunked) => {
    const capped = source.create(config({ maxBytes: 64 * 1024 }));
    await expectOpen(capped); // the vendor's sample incident is well under the cap
    fake.misbehaveNext(1, { kind: 'oversize', bytes: 512 * 1024, chunked });
    expect(await refusal(capped.status(source.id, signal()))).toMatchObject({ reason: 'too large' });
  });

  it.each([301, 302, 307, 308] as const)('does not follow a %i redirect', async (status) => {
    const elsewhere = await source.start();
    elsewhere.setIncident(source.id, source.open);
    try {
      await expectOpen();
      fake.misbehaveNext(1, { kind: 'redirect', status, location: `${elsewhere.url}${source.prefix}${source.id}` });
      expect(await refusal(api.status(source.id, signal()))).toMatchObject({ reason: `HTTP ${status} redirect` });
      expect(elsewhere.requests).toEqual([]);
    } finally {
      await elsewhere.stop();
    }
  });

  it('refuses an answer that is not JSON, or not an incident', async () => {
    await expectOpen();
    fake.misbehaveNext(1, { kind: 'raw', status: 200, body: '<html>maintenance</html>', contentType: 'text/html' });
    expect(await refusal(api.status(source.id, signal()))).toMatchObject({ reason: 'unparsable' });
    fake.misbehaveNext(1, { kind: 'raw', status: 200, body: JSON.stringify({ incident: { id: source.id } }) });
    expect(await refusal(api.status(source.id, signal()))).toMatchObject({ reason: 'unparsable' });
  });

  it('refuses an answer about another incident than the one asked for', async () => {
    await expectOpen();
    fake.setIncident(source.id, source.open, { fields: { id: 'SOMEONEELSE' } } as never);
    expect(await refusal(api.status(source.id, signal()))).toMatchObject({ reason: 'another incident' });
  });

  it('does not take a 404 that is not the source API’s own error document as not_found', async () => {
    expect(await api.status('NEVERSEEN', signal())).toEqual({ state: 'not_found' });
    fake.misbehaveNext(1, { kind: 'raw', status: 404, body: '<html>404 Not Found</html>', contentType: 'text/html' });
    expect(await refusal(api.status('NEVERSEEN', signal()))).toMatchObject({ reason: 'HTTP 404 unrecognised', httpStatus: 404 });
    fake.misbehaveNext(1, { kind: 'raw', status: 404, body: '{"message":"no route"}' });
    expect(await refusal(api.status('NEVERSEEN', signal()))).toMatchObject({ reason: 'HTTP 404 unrecognised' });
  });

  it('refuses a connection reset and a refused connection as network errors', async () => {
    await expectOpen();
    fake.misbehaveNext(1, { kind: 'reset' });
    expect((await refusal(api.status(source.id, signal()))).reason).toMatch(/^network E[A-Z]+$/u);
    const gone = await source.start();
    await gone.stop();
    const nobody = source.create(config({ baseUrl: gone.url }));
    expect(await refusal(nobody.status(source.id, signal()))).toMatchObject({ reason: 'network ECONNREFUSED' });
  });

  it("stops when the caller's signal aborts, before or during the call", async () => {
    await expectOpen();
    expect(await refusal(api.status(source.id, AbortSignal.abort()))).toMatchObject({ reason: 'aborted' });
    expect(fake.requests).toHaveLength(1); // nothing was sent for the aborted call
    const controller = new AbortController();
    fake.misbehaveNext(1, { kind: 'hang' });
    const pending = api.status(source.id, controller.signal);
    await expect.poll(() => fake.requests.length).toBe(2);
    controller.abort();
    expect(await refusal(pending)).toMatchObject({ reason: 'aborted' });
  });

  it('refuses an empty id and dot segments without sending anything', async () => {
    await expectOpen();
    for (const id of ['', '.', '..', 'x'.repeat(257)]) {
      expect(await refusal(api.status(id, signal()))).toMatchObject({ reason: 'invalid id' });
    }
    expect(fake.requests).toHaveLength(1);
  });

  it('never puts the token in an error', async () => {
    const errors: SourceApiError[] = [await refusal(source.create(config({ token: `${fake.token}x` })).status(source.id, signal()))];
    for (const status of [401, 403, 429, 500, 503]) {
      fake.failNext(1, status, { retryAfterSeconds: 5 });
      errors.push(await refusal(api.status(source.id, signal())));
    }
    fake.misbehaveNext(1, { kind: 'raw', status: 200, body: `{"echo":"${fake.token}"}` });
    fake.misbehaveNext(1, { kind: 'redirect', location: `http://127.0.0.1:1/?token=${fake.token}` });
    fake.misbehaveNext(1, { kind: 'oversize', bytes: 4 * 1024 * 1024 });
    fake.misbehaveNext(1, { kind: 'reset' });
    for (let i = 0; i < 4; i += 1) errors.push(await refusal(api.status(source.id, signal())));
    expect(errors.map((err) => err.reason)).toEqual([
      'HTTP 401',
      'HTTP 401',
      'HTTP 403',
      'HTTP 429',
      'HTTP 500',
      'HTTP 503',
      'unparsable',
      'HTTP 302 redirect',
      'too large',
      expect.stringMatching(/^network /u),
    ]);
    for (const err of errors) {
      for (const text of [err.message, err.reason, String(err), err.stack ?? '', JSON.stringify(err)])
        expect(text).not.toContain(fake.token);
    }
  });

  it('refuses a base URL that would send the token in clear, and a token that would split the header, without echoing it', () => {
    expect(() => source.create(config({ baseUrl: 'http://127.0.0.1:9' }))).not.toThrow();
    expect(() => source.create(config({ baseUrl: 'http://api.example.com' }))).toThrow(TypeError);
    expect(() => source.create(config({ baseUrl: 'https://user:pw@api.example.com' }))).toThrow(TypeError);
    expect(() => source.create(config({ baseUrl: `https://api.example.com/?t=1` }))).toThrow(TypeError);
    for (const token of ['', 'two words', 'caf\u00e9']) expect(() => source.create(config({ token }))).toThrow(TypeError);
    const bad = `${fake.token}\r\nx-injected: 1`;
    expect(() => source.create(config({ token: bad }))).toThrow(TypeError);
    try {
      source.create(config({ token: bad }));
    } catch (err) {
      expect(String(err)).not.toContain(fake.token);
    }
  });
});

describe('PagerDuty client', () => {
  let pd: PagerDutyFake;
  let api: IncidentSourceApi;
  beforeEach(async () => {
    pd = await startPagerDutyFake();
    api = createPagerDutyApi({ baseUrl: pd.url, token: pd.token, timeoutMs: 2000 });
  });
  afterEach(async () => {
    expect(pd.unexpected).toEqual([]);
    await pd.stop();
  });

  it('sends PagerDuty’s documented headers: Token token=…, and the v2 Accept', async () => {
    pd.setIncident(PD_ID, 'triggered');
    await api.status(PD_ID, signal());
    expect(pd.requests).toEqual([
      {
        method: 'GET',
        path: `/incidents/${PD_ID}`,
        id: PD_ID,
        authorization: `Token token=${pd.token}`,
        accept: 'application/vnd.pagerduty+json;version=2',
      },
    ]);
  });

  it.each(['triggered', 'acknowledged'])('reads %s as open', async (status) => {
    pd.setIncident(PD_ID, status);
    expect(await api.status(PD_ID, signal())).toEqual({ state: 'open', sourceStatus: status });
  });

  it('reads resolved as closed, at resolved_at', async () => {
    pd.setIncident(PD_ID, 'resolved', { lastStatusChangeAt: '2026-11-30T10:00:00Z', resolvedAt: '2026-11-30T09:59:58Z' });
    expect(await api.status(PD_ID, signal())).toEqual({
      state: 'closed',
      sourceStatus: 'resolved',
      closedAt: Date.parse('2026-11-30T09:59:58Z'),
    });
  });

  it('takes last_status_change_at as the close time when resolved_at is null, and none when neither is a time', async () => {
    pd.setIncident(PD_ID, 'resolved', { lastStatusChangeAt: '2026-11-30T10:00:00Z', resolvedAt: null });
    expect(await api.status(PD_ID, signal())).toEqual({
      state: 'closed',
      sourceStatus: 'resolved',
      closedAt: Date.parse('2026-11-30T10:00:00Z'),
    });
    pd.setIncident(PD_ID, 'resolved', { lastStatusChangeAt: 'yesterday', resolvedAt: null });
    expect(await api.status(PD_ID, signal())).toEqual({ state: 'closed', sourceStatus: 'resolved' });
  });

  it('answers PagerDuty’s own 404 document as not_found', async () => {
    const answer = await fetch(`${pd.url}/incidents/NOPE`, { headers: { authorization: `Token token=${pd.token}` } });
    expect({ status: answer.status, body: await answer.json() }).toEqual({
      status: 404,
      body: { error: { message: 'Not Found', code: 2100 } },
    });
    expect(await api.status('NOPE', signal())).toEqual({ state: 'not_found' });
  });

  it('refuses a status PagerDuty does not document rather than guess open or closed', async () => {
    pd.setIncident(PD_ID, 'acknowledged');
    expect(await api.status(PD_ID, signal())).toMatchObject({ state: 'open' });
    pd.setIncident(PD_ID, 'snoozed');
    expect(await refusal(api.status(PD_ID, signal()))).toMatchObject({ source: 'pagerduty', reason: 'unknown status' });
  });

  it('reads PagerDuty’s ratelimit-reset as the retry delay of a 429', async () => {
    pd.setIncident(PD_ID, 'triggered');
    pd.failNext(1, 429, { retryAfterSeconds: 12 });
    const answer = await fetch(`${pd.url}/incidents/${PD_ID}`);
    expect(answer.headers.get('ratelimit-reset')).toBe('12');
    pd.failNext(1, 429, { retryAfterSeconds: 12 });
    expect(await refusal(api.status(PD_ID, signal()))).toMatchObject({ reason: 'HTTP 429', retryAfterMs: 12_000 });
  });
});

describe('incident.io client', () => {
  let iio: IncidentIoFake;
  let api: IncidentSourceApi;
  beforeEach(async () => {
    iio = await startIncidentIoFake();
    api = createIncidentIoApi({ baseUrl: iio.url, token: iio.token, timeoutMs: 2000 });
  });
  afterEach(async () => {
    expect(iio.unexpected).toEqual([]);
    await iio.stop();
  });

  it('sends Authorization: Bearer <key> to /v2/incidents/{id}', async () => {
    iio.setIncident(IIO_ID, 'triage');
    await api.status(IIO_ID, signal());
    expect(iio.requests).toEqual([
      { method: 'GET', path: `/v2/incidents/${IIO_ID}`, id: IIO_ID, authorization: `Bearer ${iio.token}`, accept: 'application/json' },
    ]);
  });

  const expected: Readonly<Record<(typeof INCIDENTIO_CATEGORIES)[number], 'open' | 'closed'>> = {
    triage: 'open',
    live: 'open',
    paused: 'open',
    learning: 'closed',
    closed: 'closed',
    declined: 'closed',
    merged: 'closed',
    canceled: 'closed',
  };
  it.each(INCIDENTIO_CATEGORIES.map((category) => [category, expected[category]] as const))(
    'reads the category %s as %s, with the status name as sourceStatus',
    async (category, state) => {
      iio.setIncident(IIO_ID, category, { statusName: `Our ${category}` });
      expect(await api.status(IIO_ID, signal())).toEqual({ state, sourceStatus: `Our ${category}` });
    },
  );

  it('answers incident.io’s own 404 document as not_found', async () => {
    const answer = await fetch(`${iio.url}/v2/incidents/NOPE`, { headers: { authorization: `Bearer ${iio.token}` } });
    expect({ status: answer.status, body: await answer.json() }).toMatchObject({ status: 404, body: { type: 'not_found', status: 404 } });
    expect(await api.status('NOPE', signal())).toEqual({ state: 'not_found' });
  });

  it('refuses a status category incident.io does not document rather than guess open or closed', async () => {
    iio.setIncident(IIO_ID, 'live');
    expect(await api.status(IIO_ID, signal())).toMatchObject({ state: 'open' });
    iio.setIncident(IIO_ID, 'snoozed');
    expect(await refusal(api.status(IIO_ID, signal()))).toMatchObject({ source: 'incidentio', reason: 'unknown status' });
  });

  it('answers a missing key with incident.io’s documented 401 document', async () => {
    const answer = await fetch(`${iio.url}/v2/incidents/${IIO_ID}`);
    expect(await answer.json()).toMatchObject({
      type: 'authentication_error',
      status: 401,
      errors: [{ code: 'missing_authorization_material', message: 'No authorization material provided in request' }],
    });
  });
});

it('defaults to the vendors’ public API hosts', () => {
  expect([PAGERDUTY_API_URL, INCIDENTIO_API_URL]).toEqual(['https://api.pagerduty.com', 'https://api.incident.io']);
  expect(() => createPagerDutyApi({ token: 't', timeoutMs: 1000 })).not.toThrow();
  expect(() => createIncidentIoApi({ token: 't', timeoutMs: 1000 })).not.toThrow();
});
