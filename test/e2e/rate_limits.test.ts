/**
 * A flood of grant requests from one agent is refused with 429 and Retry-After while another
 * agent is served (limits.grantRequests), across two brokers on one Redis: the buckets live in the
 * store, so a second replica is no way around them. Refusals are counted, not audited one by one.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestBroker, type TestBroker } from '../support/broker_harness.js';
import { startRedisServer, type RedisServer } from '../support/redis_server.js';

let redis: RedisServer;
let brokers: TestBroker[];
const limits = {
  grantRequests: { perAgent: { perSecond: 0.01, burst: 3 }, perSource: { perSecond: 1000, burst: 1000 } },
  activeGrants: { perIncident: 0, perAgent: 0 },
};

beforeAll(async () => {
  redis = await startRedisServer();
  const store = { kind: 'redis' as const, url: redis.url, keyPrefix: 'qm-limits:' };
  const first = await startTestBroker({ store, limits });
  brokers = [first, await startTestBroker({ store, limits, keyDir: first.keyDir })];
});
afterAll(async () => {
  for (const b of brokers ?? []) await b.stop();
  await redis?.stop();
});

describe('grant request limits', () => {
  it('refuses the flooding agent with 429 and Retry-After on every replica, and serves another agent', async () => {
    const [a, b] = brokers as [TestBroker, TestBroker];
    const operator = await a.operatorToken();
    expect(
      (await a.request('POST', '/v1/incidents', { token: operator, body: { id: 'INC-FLOOD', title: 'flood', severity: 'sev2' } })).status,
    ).toBe(201);
    const flooder = await a.agentToken('spiffe://dev.local/agent/flooder');
    const body = { incident_id: 'INC-FLOOD', profile: 'demo', purpose: 'p' };

    const answers = [];
    for (let i = 0; i < 6; i++) answers.push(await (i % 2 === 0 ? a : b).request('POST', '/v1/grants', { token: flooder, body }));
    expect(answers.map((r) => r.status)).toEqual([201, 201, 201, 429, 429, 429]);
    const refused = answers[3]!;
    expect(refused.body).toEqual({ error: { code: 'ERR_RATE_LIMITED', message: 'too many grant requests; retry later' } });
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);

    const other = await b.request('POST', '/v1/grants', { token: await b.agentToken('spiffe://dev.local/agent/triage'), body });
    expect(other.status).toBe(201);

    const audit = await a.request('GET', '/v1/audit?incident=INC-FLOOD', { token: operator });
    const types = audit.body.events.map((e: { type: string }) => e.type);
    expect(types.filter((t: string) => t === 'grant.issued')).toHaveLength(4);
    expect(types).not.toContain('grant.denied');
    const metrics = await (await fetch(`${b.url}/metrics`)).text();
    expect(metrics).toMatch(/quartermaster_grants_denied_total\{code="ERR_RATE_LIMITED"\} [12]\b/u);
  });
});
