/**
 * Live-grant quotas (limits.activeGrants) across two brokers on one Redis: an agent holding its
 * quota of live grants is refused 429 ERR_GRANT_QUOTA on every replica while another agent is
 * served; releasing a grant gives its place back; an incident holds at most its own quota.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestBroker, type TestBroker } from '../support/broker_harness.js';
import { eventually } from '../support/eventually.js';
import { startRedisServer, type RedisServer } from '../support/redis_server.js';

let redis: RedisServer;
let brokers: TestBroker[];
const limits = {
  grantRequests: { perAgent: { perSecond: 0, burst: 1 }, perSource: { perSecond: 0, burst: 1 } },
  activeGrants: { perIncident: 4, perAgent: 2 },
};

beforeAll(async () => {
  redis = await startRedisServer();
  const store = { kind: 'redis' as const, url: redis.url, keyPrefix: 'qm-quotas:' };
  const first = await startTestBroker({ store, limits });
  brokers = [first, await startTestBroker({ store, limits, keyDir: first.keyDir })];
});
afterAll(async () => {
  for (const b of brokers ?? []) await b.stop();
  await redis?.stop();
});

async function open(broker: TestBroker, id: string): Promise<void> {
  const res = await broker.request('POST', '/v1/incidents', {
    token: await broker.operatorToken(),
    body: { id, title: 'q', severity: 'sev2' },
  });
  expect(res.status).toBe(201);
}
const ask = async (broker: TestBroker, agent: string, incidentId: string) =>
  broker.request('POST', '/v1/grants', {
    token: await broker.agentToken(`spiffe://dev.local/agent/${agent}`),
    body: { incident_id: incidentId, profile: 'demo', purpose: 'p' },
  });

describe('live-grant quotas', () => {
  it("refuses an agent at its quota on every replica, serves another, and gives a released grant's place back", async () => {
    const [a, b] = brokers as [TestBroker, TestBroker];
    await open(a, 'INC-Q1');
    await open(a, 'INC-Q2');
    const first = await ask(a, 'holder', 'INC-Q1');
    // The agent's quota spans incidents.
    expect([first.status, (await ask(b, 'holder', 'INC-Q2')).status]).toEqual([201, 201]);
    for (const broker of [a, b]) {
      const refused = await ask(broker, 'holder', 'INC-Q1');
      expect([refused.status, refused.body]).toEqual([
        429,
        { error: { code: 'ERR_GRANT_QUOTA', message: 'the agent holds its limit of 2 live grants; release one or wait for one to end' } },
      ]);
    }
    expect((await ask(b, 'other', 'INC-Q1')).status).toBe(201);
    // Released, and revoked by the worker: the place is free again.
    const released = await a.request('DELETE', `/v1/grants/${first.body.grant.id}`, {
      token: await a.agentToken('spiffe://dev.local/agent/holder'),
    });
    expect(released.status).toBe(202);
    await eventually(async () => (await ask(b, 'holder', 'INC-Q1')).status === 201);
    // The refusals were audited as a denial with their code: one event for both replicas' refusals
    // (one counted kind; the window's summary lands when the window ends).
    const audit = await a.request('GET', '/v1/audit?incident=INC-Q1', { token: await a.operatorToken() });
    const denied = audit.body.events.filter((e: { type: string }) => e.type === 'grant.denied');
    expect(denied.map((e: { reason: string; actor: string }) => [e.reason, e.actor])).toEqual([
      ['ERR_GRANT_QUOTA', 'spiffe://dev.local/agent/holder'],
    ]);
  });

  it('holds an incident to its own quota, whichever agents ask', async () => {
    const [a, b] = brokers as [TestBroker, TestBroker];
    await open(a, 'INC-Q3');
    const statuses = [];
    for (const [i, agent] of ['p1', 'p1', 'p2', 'p2', 'p3'].entries()) statuses.push((await ask(i % 2 ? a : b, agent, 'INC-Q3')).status);
    expect(statuses).toEqual([201, 201, 201, 201, 429]);
    const refused = await ask(a, 'p4', 'INC-Q3');
    expect(refused.body.error).toEqual({
      code: 'ERR_GRANT_QUOTA',
      message: 'the incident holds its limit of 4 live grants; release one or wait for one to end',
    });
  });
});
