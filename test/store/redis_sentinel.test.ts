/**
 * The broker on Redis Sentinel (store.sentinels): a primary with AOF and its replica, one sentinel
 * monitoring them as `qm-primary`. The broker finds the primary through the sentinel, issues,
 * follows a failover to the replica (SENTINEL FAILOVER: promoted, the old primary demoted), and
 * keeps serving with the data replicated before it — the grants issued before are still there.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { redisAddress } from '../../src/store/redis_connection.js';
import { monitoredName } from '../../src/store/redis_store.js';
import { startTestBroker, type TestBroker } from '../support/broker_harness.js';
import { eventually } from '../support/eventually.js';
import { startRedisServer, type RedisServer } from '../support/redis_server.js';
import { startRedisSentinel, type RedisSentinel } from '../support/redis_sentinel.js';
import { testConfigObject } from '../support/test_config.js';
import { stringify } from 'yaml';

const NAME = 'qm-primary';
const AGENT = 'spiffe://dev.local/agent/triage';
let primary: RedisServer;
let replica: RedisServer;
let sentinel: RedisSentinel;
let qm: TestBroker;
const clients: Redis[] = [];

const client = (server: RedisServer): Redis => {
  const r = new Redis(server.url);
  clients.push(r);
  return r;
};
const role = async (server: RedisServer): Promise<string> => /role:(\w+)/u.exec(await client(server).info('replication'))?.[1] ?? '';

beforeAll(async () => {
  primary = await startRedisServer({ appendOnly: true });
  replica = await startRedisServer({ appendOnly: true });
  await client(replica).call('REPLICAOF', '127.0.0.1', String(primary.port));
  await eventually(async () => /master_link_status:up/u.test(await client(replica).info('replication')), 10_000);
  sentinel = await startRedisSentinel(NAME, primary.port);
  // The sentinel learns the replica from the primary's INFO; a failover needs it known.
  await eventually(async () => ((await sentinel.admin.call('SENTINEL', 'REPLICAS', NAME)) as unknown[]).length === 1, 15_000);
  qm = await startTestBroker({
    store: { kind: 'redis', url: `redis://${NAME}`, keyPrefix: 'qm-sentinel:', sentinels: [{ host: '127.0.0.1', port: sentinel.port }] },
  });
}, 60_000);
afterAll(async () => {
  await qm?.stop();
  for (const c of clients) c.disconnect();
  await sentinel?.stop();
  await replica?.stop();
  await primary?.stop();
});

const grant = async (incident: string) =>
  qm.request('POST', '/v1/grants', {
    token: await qm.agentToken(AGENT),
    body: { incident_id: incident, profile: 'demo', purpose: 'sentinel' },
  });

it('finds the primary through the sentinel, and follows a failover to the replica with the data it had', async () => {
  const operator = await qm.operatorToken();
  expect(
    (await qm.request('POST', '/v1/incidents', { token: operator, body: { id: 'INC-SENT', title: 'sentinel', severity: 'sev2' } })).status,
  ).toBe(201);
  expect((await grant('INC-SENT')).status).toBe(201);
  // Written on the primary the sentinel named, and replicated.
  expect(await client(primary).dbsize()).toBeGreaterThan(0);
  await eventually(async () => (await client(replica).dbsize()) === (await client(primary).dbsize()), 10_000);

  await sentinel.admin.call('SENTINEL', 'FAILOVER', NAME);
  await eventually(async () => {
    const [, port] = (await sentinel.admin.call('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', NAME)) as [string, string];
    return Number(port) === replica.port && (await role(replica)) === 'master' && (await role(primary)) === 'slave';
  }, 30_000);

  // The broker now writes to the promoted replica; what it issued before the failover is still there.
  const after = await eventually(async () => {
    const res = await grant('INC-SENT');
    return res.status === 201 ? res : null;
  }, 30_000);
  expect(after.status).toBe(201);
  const incident = await qm.request('GET', '/v1/incidents/INC-SENT?grants=false', { token: operator });
  expect(incident.body.revocation.total).toBe(2);
  expect((await qm.request('GET', '/readyz')).body).toMatchObject({ status: 'ready', persistence: 'durable' });
}, 90_000);

it('names the sentinels in its address, and production refuses plain redis:// through sentinels beyond loopback', () => {
  // The name as written, case and all (new URL would lower-case it).
  expect(monitoredName('rediss://qm@MyPrimary/2')).toBe('MyPrimary');
  expect(monitoredName('redis://qm-primary:6379')).toBe('qm-primary');
  expect(redisAddress(`rediss://user@${NAME}/2`, [{ host: 's1.internal', port: 26379 }])).toBe(
    `rediss://${NAME}/2 via sentinels s1.internal:26379`,
  );
  const production = (store: Record<string, unknown>) => {
    const config = testConfigObject({ store: { kind: 'redis', url: 'redis://x', keyPrefix: 'p:' } }) as Record<string, any>;
    return { ...config, mode: 'production', store: { kind: 'redis', keyPrefix: 'p:', ...store } };
  };
  const problems = (store: Record<string, unknown>): string => {
    try {
      parseConfig(stringify(production(store)), 'test');
      return '';
    } catch (err) {
      return String(err);
    }
  };
  const tls = { url: `rediss://${NAME}`, sentinels: [{ host: 'sentinel-0.redis.internal', port: 26379 }] };
  expect(problems(tls)).not.toMatch(/store\.url/u);
  expect(problems({ ...tls, url: `redis://${NAME}` })).toMatch(/store\.url.*rediss/u);
  expect(problems({ ...tls, url: `redis://${NAME}`, sentinels: [{ host: '127.0.0.1', port: 26379 }] })).not.toMatch(/store\.url/u);
  expect(problems({ url: `rediss://${NAME}`, sentinelPasswordFile: '/run/s' })).toMatch(/sentinelPasswordFile/u);
});
