/**
 * Asking PagerDuty itself (its REST API, the fake in test/fakes/incident_tools/): a grant for a
 * PagerDuty incident needs the incident open there too — one closed at PagerDuty without a close
 * webhook is closed here and the grant refused; when PagerDuty cannot be asked the grant is
 * refused 503 (fail closed) — and the reconciler closes, on its own, an incident whose close
 * webhook never came, revoking its grants.
 */
import { createHmac } from 'node:crypto';
import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPagerDutyFake, type PagerDutyFake } from '../fakes/incident_tools/index.js';
import { startTestBroker, type TestBroker } from '../support/broker_harness.js';
import { eventually } from '../support/eventually.js';
import { startRedisServer, type RedisServer } from '../support/redis_server.js';

const SECRET = 'pd-source-check-secret';
const AGENT = 'spiffe://dev.local/agent/triage';
let pd: PagerDutyFake;
let redis: RedisServer;
let qm: TestBroker;
let events = 0;

beforeAll(async () => {
  pd = await startPagerDutyFake();
  redis = await startRedisServer();
  const dir = mkdtempSync(join(tmpdir(), 'qm-source-'));
  const file = (name: string, value: string) => {
    const path = join(dir, name);
    writeFileSync(path, value);
    chmodSync(path, 0o600);
    return path;
  };
  qm = await startTestBroker({
    store: { kind: 'redis', url: redis.url, keyPrefix: 'qm-source:' },
    webhooks: {
      pagerduty: {
        secretFiles: [file('secret', SECRET)],
        api: { tokenFile: file('token', pd.token), baseUrl: pd.url, cacheSeconds: 0, timeoutMs: 1000 },
      },
      reconcileSeconds: 1,
    },
  });
});
afterAll(async () => {
  await qm?.stop();
  await redis?.stop();
  expect(pd?.unexpected ?? []).toEqual([]);
  await pd?.stop();
});

async function trigger(id: string): Promise<void> {
  const fixture = JSON.parse(readFileSync('test/fixtures/webhooks/pagerduty/incident_triggered.json', 'utf8'));
  fixture.event.id = `01SRC${++events}`;
  fixture.event.occurred_at = new Date().toISOString();
  fixture.event.data.id = id;
  const body = JSON.stringify(fixture);
  const res = await fetch(`${qm.url}/v1/webhooks/pagerduty`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'x-webhook-id': `src-${events}`,
      'x-pagerduty-signature': `v1=${createHmac('sha256', SECRET).update(body).digest('hex')}`,
    },
    body,
  });
  expect(res.status).toBe(202);
  await eventually(
    async () => (await qm.request('GET', `/v1/incidents/pagerduty:${id}`, { token: await qm.operatorToken() })).status === 200,
  );
}
const grant = async (incidentId: string) =>
  qm.request('POST', '/v1/grants', { token: await qm.agentToken(AGENT), body: { incident_id: incidentId, profile: 'demo', purpose: 'p' } });
const report = async (incidentId: string) =>
  (await qm.request('GET', `/v1/incidents/${incidentId}`, { token: await qm.operatorToken() })).body;

describe('source checks and the reconciler', () => {
  it('issues while PagerDuty says the incident is open, and refuses (and closes) once it says resolved', async () => {
    pd.setIncident('QSRC1', 'triggered');
    await trigger('QSRC1');
    const first = await grant('pagerduty:QSRC1');
    expect(first.status).toBe(201);
    expect(pd.requests.at(-1)).toMatchObject({ path: '/incidents/QSRC1', authorization: `Token token=${pd.token}` });
    pd.setIncident('QSRC1', 'resolved');
    const refused = await grant('pagerduty:QSRC1');
    expect([refused.status, refused.body.error.code]).toEqual([409, 'ERR_INCIDENT_CLOSED']);
    const closed = await eventually(async () => {
      const r = await report('pagerduty:QSRC1');
      return r.incident.status === 'closed' && r.revocation.outstanding === 0 ? r : null;
    });
    expect(closed.incident.closed_by).toBe('reconciler:pagerduty');
    expect(closed.grants.map((g: { state: string }) => g.state)).toEqual(['revoked']);
  });

  it('fails closed when PagerDuty cannot be asked', async () => {
    pd.setIncident('QSRC2', 'acknowledged');
    await trigger('QSRC2');
    expect((await grant('pagerduty:QSRC2')).status).toBe(201);
    pd.failNext(1, 503);
    const refused = await grant('pagerduty:QSRC2');
    expect([refused.status, refused.body.error.code]).toEqual([503, 'ERR_SOURCE_UNCONFIRMED']);
    expect(JSON.stringify(refused.body)).not.toContain(pd.token);
    // Asked again and answered: served.
    expect((await grant('pagerduty:QSRC2')).status).toBe(201);
  });

  it('closes an incident whose close webhook never came, revoking its grants', async () => {
    pd.setIncident('QSRC3', 'triggered');
    await trigger('QSRC3');
    expect((await grant('pagerduty:QSRC3')).status).toBe(201);
    expect((await grant('pagerduty:QSRC3')).status).toBe(201);
    // Resolved at PagerDuty; no webhook is sent.
    pd.setIncident('QSRC3', 'resolved');
    const closed = await eventually(async () => {
      const r = await report('pagerduty:QSRC3');
      return r.incident.status === 'closed' && r.revocation.outstanding === 0 ? r : null;
    }, 15_000);
    expect(closed.grants.map((g: { state: string }) => g.state)).toEqual(['revoked', 'revoked']);
    const metrics = (await qm.request('GET', '/metrics')).text;
    expect(metrics).toMatch(/quartermaster_webhook_events_total\{source="pagerduty",outcome="reconciled"\} [1-9]/u);
  });
});
