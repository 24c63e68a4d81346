/**
 * Incident webhooks on a running broker over Redis (two replicas): PagerDuty (v3 signatures) and
 * the generic source (Standard Webhooks). The HTTP answers of the delivery corpus (docs/security.md
 * §2), then what deliveries do to incidents and grants: triggered makes the incident known and
 * issues nothing; resolved closes it and revokes every grant; duplicates and out-of-order
 * deliveries (resolved before triggered, resolved twice, a stale acknowledge after the resolve,
 * a reopen after it) give exactly the right grants revoked and issued.
 */
import { createHmac } from 'node:crypto';
import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestBroker, type TestBroker } from '../support/broker_harness.js';
import { eventually } from '../support/eventually.js';
import { startRedisServer, type RedisServer } from '../support/redis_server.js';

const PD_SECRET = 'pd-e2e-secret-0123456789abcdef';
const GENERIC_SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
const AGENT = 'spiffe://dev.local/agent/triage';
let redis: RedisServer;
let brokers: TestBroker[] = [];
let deliveries = 0;

beforeAll(async () => {
  redis = await startRedisServer();
  const dir = mkdtempSync(join(tmpdir(), 'qm-webhooks-'));
  const file = (name: string, value: string): string => {
    const path = join(dir, name);
    writeFileSync(path, `${value}\n`);
    chmodSync(path, 0o600);
    return path;
  };
  const webhooks = {
    pagerduty: { secretFiles: [file('pd-old', 'pd-retired-secret'), file('pd', PD_SECRET)] },
    generic: { secretFiles: [file('generic', GENERIC_SECRET)] },
    bodyLimitBytes: 4096,
  };
  const start = (keyDir?: string) =>
    startTestBroker({ store: { kind: 'redis', url: redis.url, keyPrefix: 'qm-webhooks:' }, webhooks, ...(keyDir ? { keyDir } : {}) });
  const first = await start();
  brokers = [first, await start(first.keyDir)];
});
afterAll(async () => {
  await Promise.all(brokers.map((b) => b.stop()));
  await redis?.stop();
});

const post = async (broker: TestBroker, source: string, body: string | Buffer, headers: Record<string, string>) => {
  const res = await fetch(`${broker.url}/v1/webhooks/${source}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body,
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
};

/** A generic delivery, signed as Standard Webhooks prescribes. */
function generic(event: Record<string, unknown>, overrides: { id?: string; timestamp?: number; body?: string } = {}) {
  const id = overrides.id ?? `msg_${++deliveries}`;
  const timestamp = String(overrides.timestamp ?? Math.floor(Date.now() / 1000));
  const body = overrides.body ?? JSON.stringify(event);
  const key = Buffer.from(GENERIC_SECRET.slice('whsec_'.length), 'base64');
  const signature = `v1,${createHmac('sha256', key).update(`${id}.${timestamp}.${body}`).digest('base64')}`;
  return { body, headers: { 'webhook-id': id, 'webhook-timestamp': timestamp, 'webhook-signature': signature } };
}
const event = (incidentId: string, kind: string, occurredAt: number, extra: Record<string, unknown> = {}) => ({
  incident_id: incidentId,
  event: kind,
  occurred_at: new Date(occurredAt).toISOString(),
  ...extra,
});
const send = async (broker: TestBroker, payload: Record<string, unknown>, overrides: Parameters<typeof generic>[1] = {}) => {
  const d = generic(payload, overrides);
  return post(broker, 'generic', d.body, d.headers);
};

/** A PagerDuty delivery: the real fixture, its event id and time made fresh. */
function pagerduty(kind: 'triggered' | 'resolved', incidentId: string, options: { secret?: string; occurredAt?: number } = {}) {
  const fixture = JSON.parse(readFileSync(`test/fixtures/webhooks/pagerduty/incident_${kind}.json`, 'utf8'));
  fixture.event.id = `01E2E${++deliveries}`;
  fixture.event.occurred_at = new Date(options.occurredAt ?? Date.now()).toISOString();
  fixture.event.data.id = incidentId;
  const body = JSON.stringify(fixture);
  const signature = createHmac('sha256', options.secret ?? PD_SECRET)
    .update(body)
    .digest('hex');
  return { body, headers: { 'x-pagerduty-signature': `v1=${signature}`, 'x-webhook-id': `pd-delivery-${deliveries}` } };
}

/** Whether some replica applied a generic event with this outcome. */
const applied = async (outcome: string): Promise<boolean> => {
  const texts = await Promise.all(brokers.map(async (b) => (await b.request('GET', '/metrics')).text));
  return texts.some((t) => t.includes(`quartermaster_webhook_events_total{source="generic",outcome="${outcome}"}`));
};
const incidentOf = async (broker: TestBroker, id: string) =>
  broker.request('GET', `/v1/incidents/${id}`, { token: await broker.operatorToken() });
const grant = async (broker: TestBroker, incidentId: string) =>
  broker.request('POST', '/v1/grants', {
    token: await broker.agentToken(AGENT),
    body: { incident_id: incidentId, profile: 'demo', purpose: 'p' },
  });

describe('webhook deliveries over HTTP', () => {
  it('answers each delivery of the corpus with the right status', async () => {
    const [a] = brokers as [TestBroker];
    const t = Date.now();
    const valid = generic(event('corpus-1', 'triggered', t));
    expect(await post(a, 'generic', valid.body, valid.headers)).toMatchObject({
      status: 202,
      body: { status: 'accepted', delivery_id: valid.headers['webhook-id'] },
    });
    // Replayed: the same delivery id, whichever replica gets it.
    expect(await post(brokers[1] as TestBroker, 'generic', valid.body, valid.headers)).toMatchObject({
      status: 200,
      body: { status: 'duplicate' },
    });
    const changed = { ...valid, body: valid.body.replace('corpus-1', 'corpus-2') };
    expect((await post(a, 'generic', changed.body, changed.headers)).status).toBe(401);
    const { 'webhook-signature': _sig, ...unsigned } = valid.headers;
    void _sig;
    expect(await post(a, 'generic', valid.body, unsigned)).toMatchObject({
      status: 400,
      body: { error: { code: 'ERR_WEBHOOK_MALFORMED' } },
    });
    const stale = generic(event('corpus-3', 'triggered', t), { timestamp: Math.floor(t / 1000) - 600 });
    expect(await post(a, 'generic', stale.body, stale.headers)).toMatchObject({
      status: 401,
      body: { error: { code: 'ERR_WEBHOOK_SIGNATURE' } },
    });
    const notUtf8 = generic({}, { body: '{"incident_id":"x\xff"}' });
    const raw = Buffer.concat([Buffer.from('{"incident_id":"'), Buffer.from([0xff]), Buffer.from('"}')]);
    const key = Buffer.from(GENERIC_SECRET.slice(6), 'base64');
    const rawSig = `v1,${createHmac('sha256', key)
      .update(Buffer.concat([Buffer.from(`${notUtf8.headers['webhook-id']}.${notUtf8.headers['webhook-timestamp']}.`), raw]))
      .digest('base64')}`;
    expect(await post(a, 'generic', raw, { ...notUtf8.headers, 'webhook-signature': rawSig })).toMatchObject({
      status: 400,
      body: { error: { code: 'ERR_WEBHOOK_PAYLOAD' } },
    });
    const oversize = generic(event('corpus-4', 'triggered', t, { title: 'x'.repeat(5000) }));
    expect((await post(a, 'generic', oversize.body, oversize.headers)).status).toBe(413);
    const wrongShape = generic({ incident_id: 'corpus-5', event: 'exploded', occurred_at: new Date(t).toISOString() });
    expect(await post(a, 'generic', wrongShape.body, wrongShape.headers)).toMatchObject({
      status: 400,
      body: { error: { code: 'ERR_WEBHOOK_PAYLOAD' } },
    });
    expect((await post(a, 'incidentio', valid.body, valid.headers)).status).toBe(404);
    const asText = await fetch(`${a.url}/v1/webhooks/generic`, {
      method: 'POST',
      headers: { ...valid.headers, 'content-type': 'text/plain' },
      body: valid.body,
    });
    expect(asText.status).toBe(415);
    // PagerDuty: the real fixture with a fresh time; a rotated-out secret still configured verifies too.
    const pd = pagerduty('triggered', 'QCORPUS1');
    expect((await post(a, 'pagerduty', pd.body, pd.headers)).status).toBe(202);
    const retired = pagerduty('triggered', 'QCORPUS2', { secret: 'pd-retired-secret' });
    expect((await post(a, 'pagerduty', retired.body, retired.headers)).status).toBe(202);
    const wrongSecret = pagerduty('triggered', 'QCORPUS3', { secret: 'guess' });
    expect((await post(a, 'pagerduty', wrongSecret.body, wrongSecret.headers)).status).toBe(401);
    // The same PagerDuty event under a new delivery id is still a duplicate (its event id).
    expect((await post(a, 'pagerduty', pd.body, { ...pd.headers, 'x-webhook-id': 'pd-delivery-other' })).status).toBe(200);
    const replayedLate = pagerduty('resolved', 'QCORPUS1', { occurredAt: t - 2 * 86_400_000 });
    expect((await post(a, 'pagerduty', replayedLate.body, replayedLate.headers)).status).toBe(401);
    await eventually(async () => (await incidentOf(a, 'pagerduty:QCORPUS1')).status === 200);
  });

  it('makes a triggered incident known without issuing anything, and revokes every grant when it resolves', async () => {
    const [a, b] = brokers as [TestBroker, TestBroker];
    const t = Date.now();
    expect((await send(a, event('INC-W1', 'triggered', t, { title: 'Checkout down', severity: 'sev1' }))).status).toBe(202);
    const opened = await eventually(async () => {
      const res = await incidentOf(b, 'generic:INC-W1');
      return res.status === 200 ? res.body : null;
    });
    expect(opened.incident).toMatchObject({
      id: 'generic:INC-W1',
      source: 'generic',
      status: 'open',
      severity: 'sev1',
      title: 'Checkout down',
    });
    expect(opened.grants).toEqual([]);
    const issued = [await grant(a, 'generic:INC-W1'), await grant(b, 'generic:INC-W1')];
    expect(issued.map((r) => r.status)).toEqual([201, 201]);
    expect((await send(b, event('INC-W1', 'resolved', t + 1000))).status).toBe(202);
    const closed = await eventually(async () => {
      const res = await incidentOf(a, 'generic:INC-W1');
      return res.body.revocation.outstanding === 0 && res.body.incident.status === 'closed' ? res.body : null;
    });
    expect(closed.grants.map((g: { state: string }) => g.state)).toEqual(['revoked', 'revoked']);
    // Close → all revoked, once for the incident, on whichever replica revoked the last grant.
    await eventually(async () => {
      const texts = await Promise.all(brokers.map(async (x) => (await x.request('GET', '/metrics')).text));
      const counts = texts.map((t) => Number(/^quartermaster_incident_close_to_all_revoked_seconds_count (\d+)$/mu.exec(t)?.[1] ?? 0));
      return counts.reduce((x, y) => x + y, 0) >= 1;
    });
    expect((await grant(a, 'generic:INC-W1')).status).toBe(409);
    const audit = await a.request('GET', '/v1/audit?incident=generic:INC-W1', { token: await a.operatorToken() });
    expect(audit.body.events.map((e: { type: string }) => e.type)).toEqual([
      'incident.opened',
      'grant.issued',
      'grant.issued',
      'incident.closed',
      'grant.revoked',
      'grant.revoked',
      // The request after the close.
      'grant.denied',
    ]);
    expect(audit.body.events[0]).toMatchObject({ actor: 'webhook:generic', data: { sourceIncidentId: 'INC-W1', epoch: 1 } });
  });

  it('keeps an incident resolved before its trigger arrived closed, and a second resolve changes nothing', async () => {
    const [a] = brokers as [TestBroker];
    const t = Date.now();
    expect((await send(a, event('INC-W2', 'resolved', t + 1000))).status).toBe(202);
    await eventually(async () => (await incidentOf(a, 'generic:INC-W2')).body?.incident?.status === 'closed');
    expect((await send(a, event('INC-W2', 'triggered', t))).status).toBe(202);
    expect((await send(a, event('INC-W2', 'resolved', t + 2000))).status).toBe(202);
    // Either replica's worker may apply it: the outcome is counted where it was applied.
    await eventually(async () => applied('unchanged'));
    expect((await incidentOf(a, 'generic:INC-W2')).body.incident.status).toBe('closed');
    expect((await grant(a, 'generic:INC-W2')).status).toBe(409);
  });

  it('never reopens a closed incident with a stale acknowledge; a reopen after the resolve starts a new epoch with new grants', async () => {
    const [a, b] = brokers as [TestBroker, TestBroker];
    const t = Date.now();
    await send(a, event('INC-W3', 'triggered', t));
    await eventually(async () => (await incidentOf(a, 'generic:INC-W3')).status === 200);
    const first = await grant(a, 'generic:INC-W3');
    expect(first.status).toBe(201);
    await send(b, event('INC-W3', 'resolved', t + 2000));
    await eventually(
      async () =>
        (await incidentOf(a, 'generic:INC-W3')).body.revocation.outstanding === 0 &&
        (await incidentOf(a, 'generic:INC-W3')).body.incident.status === 'closed',
    );
    // An acknowledge from before the resolve, delivered late: stale.
    await send(a, event('INC-W3', 'acknowledged', t + 1000, { severity: 'sev1' }));
    await eventually(async () => applied('stale'));
    expect((await grant(a, 'generic:INC-W3')).status).toBe(409);
    // Reopened after the resolve: a new epoch, under the id agents know.
    await send(b, event('INC-W3', 'reopened', t + 3000));
    await eventually(async () => (await incidentOf(a, 'generic:INC-W3:r2')).body?.incident?.status === 'open');
    const second = await grant(a, 'generic:INC-W3');
    expect(second.status).toBe(201);
    expect(second.body.grant.incident_id).toBe('generic:INC-W3:r2');
    // The first epoch's grant stays revoked; resolving again ends the new epoch's grant only.
    await send(a, event('INC-W3', 'resolved', t + 4000));
    const epoch2 = await eventually(async () => {
      const res = await incidentOf(a, 'generic:INC-W3:r2');
      return res.body.incident.status === 'closed' && res.body.revocation.outstanding === 0 ? res.body : null;
    });
    expect(epoch2.grants.map((g: { id: string; state: string }) => [g.id, g.state])).toEqual([[second.body.grant.id, 'revoked']]);
    const epoch1 = await incidentOf(a, 'generic:INC-W3');
    expect(epoch1.body.grants.map((g: { id: string; state: string }) => [g.id, g.state])).toEqual([[first.body.grant.id, 'revoked']]);
  });
});
