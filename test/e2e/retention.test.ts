/**
 * Retention (retention.*) on a running broker over Redis, with windows of a second: a released
 * grant is forgotten by the ledger once its retention is over while its audit events stay;
 * repeated refusals and introspections are audited as one event and one counted summary per kind
 * and window; a kind's next event after its window opens a new one.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mintAgentToken } from '../../src/identity/dev_issuer.js';
import { startTestBroker, type TestBroker } from '../support/broker_harness.js';
import { eventually } from '../support/eventually.js';
import { startRedisServer, type RedisServer } from '../support/redis_server.js';
import { AGENT_ISSUER, INTROSPECTION_AUDIENCE } from '../support/test_config.js';

const AGENT = 'spiffe://dev.local/agent/triage';
const STRANGER = 'spiffe://dev.local/agent/stranger';
const ALERTS_API = 'spiffe://dev.local/rs/alerts-api';
let redis: RedisServer;
let qm: TestBroker;
let operator: string;

interface Event {
  seq: number;
  type: string;
  actor: string;
  reason?: string;
  grantId?: string;
  data?: Record<string, unknown>;
}

beforeAll(async () => {
  redis = await startRedisServer();
  qm = await startTestBroker({
    store: { kind: 'redis', url: redis.url, keyPrefix: 'qm-retention:' },
    retention: { endedGrantsSeconds: 1, repeatWindowSeconds: 1, sweepSeconds: 1 },
    profiles: {
      demo: {
        provider: 'jwt',
        maxTtl: 900,
        defaultTtl: 300,
        tier: 'read',
        agents: ['spiffe://dev\\.local/agent/triage'],
        params: { audience: 'urn:alerts-api', scope: 'alerts:read' },
      },
    },
    introspection: { clients: [{ name: 'alerts-api', id: ALERTS_API, audiences: ['urn:alerts-api'] }] },
  });
  operator = await qm.operatorToken();
  const opened = await qm.request('POST', '/v1/incidents', { token: operator, body: { id: 'INC-R', title: 'r', severity: 'sev3' } });
  expect(opened.status).toBe(201);
});
afterAll(async () => {
  await qm?.stop();
  await redis?.stop();
});

const ask = async (agent: string) =>
  qm.request('POST', '/v1/grants', {
    token: await qm.agentToken(agent),
    body: { incident_id: 'INC-R', profile: 'demo', purpose: 'triage' },
  });
const audit = async (): Promise<Event[]> => (await qm.request('GET', '/v1/audit?limit=1000', { token: operator })).body.events as Event[];

describe('retention', () => {
  it('forgets a released grant once its retention is over, and keeps its audit events', async () => {
    const granted = await ask(AGENT);
    expect(granted.status).toBe(201);
    const id = granted.body.grant.id as string;
    const agentToken = await qm.agentToken(AGENT);
    // The valid case: the grant is there, and released it is still there while it is revoked.
    expect((await qm.request('GET', `/v1/grants/${id}`, { token: agentToken })).status).toBe(200);
    expect((await qm.request('DELETE', `/v1/grants/${id}`, { token: agentToken })).status).toBe(202);
    await eventually(async () => (await qm.request('GET', `/v1/grants/${id}`, { token: agentToken })).status === 404, 15_000);
    expect((await qm.request('GET', '/v1/incidents/INC-R', { token: operator })).body.grants).toEqual([]);
    const events = (await audit()).filter((e) => e.grantId === id).map((e) => e.type);
    expect(events).toEqual(['grant.issued', 'grant.released', 'grant.revoked']);
    const metrics = (await qm.request('GET', '/metrics')).text;
    expect(Number(/^quartermaster_grants_forgotten_total (\d+)$/mu.exec(metrics)?.[1])).toBeGreaterThanOrEqual(1);
  });

  it('audits repeated refusals of one kind as one event and one summary counting the rest', async () => {
    const before = (await audit()).length;
    const refusals = await Promise.all([ask(STRANGER), ask(STRANGER), ask(STRANGER)]);
    expect(refusals.map((r) => r.status)).toEqual([403, 403, 403]);
    const denials = async () => (await audit()).slice(before).filter((e) => e.type === 'grant.denied' && e.actor === STRANGER);
    await eventually(async () => (await denials()).length === 2, 15_000);
    const [first, summary] = await denials();
    expect(first?.data?.requestId).toEqual(expect.any(String));
    expect(summary).toMatchObject({ reason: first?.reason, data: { repeats: 2, of: first?.seq } });
    expect(summary?.data?.requestId).toBeUndefined();
    // A kind's next refusal after its window opens a new window: a new full event.
    expect((await ask(STRANGER)).status).toBe(403);
    await eventually(async () => (await denials()).length === 3, 15_000);
    expect((await denials())[2]?.data?.repeats).toBeUndefined();
  });

  it("audits a client's introspections as counted events per outcome", async () => {
    const granted = await ask(AGENT);
    expect(granted.status).toBe(201);
    const client = await mintAgentToken({
      keyDir: qm.keyDir,
      issuer: AGENT_ISSUER,
      audience: INTROSPECTION_AUDIENCE,
      agentId: ALERTS_API,
      ttlSeconds: 600,
      now: Date.now(),
    });
    const before = (await audit()).length;
    for (let i = 0; i < 3; i++) {
      const answer = await qm.request('POST', '/oauth2/introspect', {
        token: client,
        form: { token: granted.body.credential.access_token },
      });
      expect(answer.body.active).toBe(true);
    }
    const introspections = async () => (await audit()).slice(before).filter((e) => e.type === 'token.introspected');
    await eventually(async () => (await introspections()).length === 2, 15_000);
    const [first, summary] = await introspections();
    expect(first).toMatchObject({ actor: ALERTS_API, data: { caller: 'alerts-api', active: true } });
    expect(summary).toMatchObject({ actor: ALERTS_API, data: { caller: 'alerts-api', active: true, repeats: 2, of: first?.seq } });
    // The token itself is never in the audit.
    expect(JSON.stringify(await audit())).not.toContain(granted.body.credential.access_token);
  });
});
