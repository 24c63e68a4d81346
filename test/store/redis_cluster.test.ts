/**
 * The store on a real three-primary Redis Cluster (store.cluster), through ioredis's Cluster
 * client: the whole store contract with keys spread over the nodes (redirections followed, no
 * script reaching outside its slot), persistence read from every primary, and a primary's
 * failover to its replica followed with the data it had, and a broker on it. The one-node cluster of
 * redis_store.test.ts proves the slot layout; this proves the client.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { redisAddress } from '../../src/store/redis_connection.js';
import { createRedisStore } from '../../src/store/redis_store.js';
import type { Store } from '../../src/store/store.js';
import { startTestBroker } from '../support/broker_harness.js';
import { eventually } from '../support/eventually.js';
import { startRedisCluster, type RedisCluster } from '../support/redis_cluster.js';
import { testConfigObject } from '../support/test_config.js';
import { stringify } from 'yaml';
import { describeStoreContract, grantFixture, incidentFixture } from './contract.js';

let cluster: RedisCluster;
let prefixes = 0;
const nextPrefix = (): string => `c${++prefixes}:`;
const openStore = (url: string, keyPrefix = nextPrefix()): Promise<Store> => createRedisStore({ url, keyPrefix, cluster: true });

beforeAll(async () => {
  cluster = await startRedisCluster();
}, 60_000);
afterAll(async () => {
  await cluster?.stop();
});

describeStoreContract('redis cluster (3 primaries)', async () => {
  const store = await openStore(cluster.url);
  return { store, cleanup: () => store.close() };
});

describe('redis cluster store', () => {
  it('spreads incidents over the primaries and serves each from any seed', async () => {
    const prefix = nextPrefix();
    const store = await openStore(cluster.url, prefix);
    const ids = Array.from({ length: 24 }, (_, i) => `INC-${i}`);
    for (const id of ids) {
      await store.createIncident(incidentFixture(id));
      await store.createGrantIntent(grantFixture(`g-${id}`, id));
    }
    await store.close();
    const perNode = await Promise.all(cluster.primaries.map(async (p) => (await cluster.admin(p).keys(`${prefix}{inc:*`)).length));
    // Every primary holds some incident's keys: the client was redirected to each.
    expect(perNode.every((n) => n > 0)).toBe(true);
    // Learned from another node, the same data.
    const viaThird = await openStore(cluster.primaries[2]!.url, prefix);
    for (const id of ids) expect((await viaThird.getGrant(`g-${id}`))?.incidentId).toBe(id);
    await viaThird.close();
  });

  it('is durable only when every primary persists, and names the ones that do not', async () => {
    const store = await openStore(cluster.url);
    const set = (i: number, value: 'yes' | 'no') => cluster.admin(cluster.primaries[i]!).config('SET', 'appendonly', value);
    try {
      expect(await store.meta.persistence()).toMatchObject({ durable: false, detail: expect.stringMatching(/^3 of 3 cluster primaries/u) });
      await set(0, 'yes');
      await set(1, 'yes');
      const one = await store.meta.persistence();
      expect(one.durable).toBe(false);
      expect(one.detail).toMatch(/^1 of 3 cluster primaries not persistent: 127\.0\.0\.1:\d+ appendonly no/u);
      expect(one.detail).toContain(String(cluster.primaries[2]!.port));
      await set(2, 'yes');
      expect(await store.meta.persistence()).toEqual({
        durable: true,
        detail: 'every one of 3 cluster primaries: appendonly yes, appendfsync everysec',
      });
    } finally {
      await Promise.all([0, 1, 2].map((i) => set(i, 'no')));
      await store.close();
    }
  });

  it('follows a primary failing over to its replica, with what was replicated', async () => {
    const withReplica = await startRedisCluster({ replica: true });
    const store = await openStore(withReplica.url);
    try {
      const first = withReplica.admin(withReplica.primaries[0]!);
      const ids = Array.from({ length: 12 }, (_, i) => `FO-${i}`);
      for (const id of ids) await store.createIncident(incidentFixture(id));
      // Some incident lives on the primary about to die; its replica has every write (WAIT).
      const onFirst = (await first.keys('*{inc:*:incident')).length;
      expect(onFirst).toBeGreaterThan(0);
      expect(await first.call('WAIT', '1', '5000')).toBe(1);

      await withReplica.primaries[0]!.stop();
      // The replica is promoted by the other primaries' vote (cluster-node-timeout 1 s); the
      // client re-reads the slot map and carries on.
      const replica = withReplica.admin(withReplica.replica!);
      await eventually(async () => /role:master/u.test(await replica.info('replication')), 30_000);
      for (const id of ids) {
        const incident = await eventually(() => store.getIncident(id).catch(() => null), 30_000);
        expect(incident?.id).toBe(id);
      }
      await store.createGrantIntent(grantFixture('g-after', ids[0]!));
      expect((await store.getGrant('g-after'))?.incidentId).toBe(ids[0]);
    } finally {
      await store.close();
      await withReplica.stop();
    }
  }, 90_000);

  it('runs the broker on it: issue, close, every grant revoked, ready and durable', async () => {
    await Promise.all(cluster.primaries.map((p) => cluster.admin(p).config('SET', 'appendonly', 'yes')));
    const qm = await startTestBroker({ store: { kind: 'redis', url: cluster.url, keyPrefix: nextPrefix(), cluster: true } });
    try {
      const operator = await qm.operatorToken();
      const token = await qm.agentToken('spiffe://dev.local/agent/triage');
      const ids = ['INC-C1', 'INC-C2', 'INC-C3', 'INC-C4'];
      for (const id of ids) {
        expect(
          (await qm.request('POST', '/v1/incidents', { token: operator, body: { id, title: 'cluster', severity: 'sev2' } })).status,
        ).toBe(201);
        const issued = await qm.request('POST', '/v1/grants', { token, body: { incident_id: id, profile: 'demo', purpose: 'cluster' } });
        expect(issued.status).toBe(201);
      }
      for (const id of ids) expect((await qm.request('POST', `/v1/incidents/${id}/close`, { token: operator })).status).toBe(202);
      for (const id of ids) {
        await eventually(async () => {
          const { body } = await qm.request('GET', `/v1/incidents/${id}?grants=false`, { token: operator });
          return body.revocation.by_state.revoked === 1 && body.revocation.total === 1;
        }, 15_000);
      }
      expect((await qm.request('GET', '/readyz')).body).toMatchObject({ status: 'ready', persistence: 'durable' });
    } finally {
      await qm.stop();
      await Promise.all(cluster.primaries.map((p) => cluster.admin(p).config('SET', 'appendonly', 'no')));
    }
  }, 60_000);

  it('takes store.cluster from config, and refuses it with sentinels or a db other than 0', () => {
    const redis = (store: Record<string, unknown>) => () => {
      const config = testConfigObject({ store: { kind: 'redis', url: 'redis://127.0.0.1:7000', keyPrefix: 'p:' } }) as Record<string, any>;
      return parseConfig(stringify({ ...config, store: { ...config.store, ...store } }), 'test');
    };
    // The valid case first.
    expect(redis({ cluster: true })().store).toMatchObject({ kind: 'redis', cluster: true });
    expect(redis({})().store).toMatchObject({ cluster: false });
    expect(redis({ cluster: true, url: 'redis://127.0.0.1:7000/0' })().store).toMatchObject({ cluster: true });
    expect(redis({ cluster: true, sentinels: [{ host: '127.0.0.1', port: 26379 }] })).toThrow(
      /store\.cluster.*set store\.cluster or store\.sentinels, not both/su,
    );
    expect(redis({ cluster: true, url: 'redis://127.0.0.1:7000/3' })).toThrow(/store\.url.*names db 3; a Redis Cluster has only db 0/su);
    expect(redisAddress('rediss://qm@redis-cluster:6379', undefined, true)).toBe('rediss://redis-cluster:6379 (cluster)');
  });

  it('refuses plain redis:// to a cluster in production, even with a loopback seed: the other nodes are wherever the slot map says', () => {
    const production = (store: Record<string, unknown>): string => {
      const config = testConfigObject({ store: { kind: 'redis', url: 'redis://x', keyPrefix: 'p:' } }) as Record<string, any>;
      try {
        parseConfig(stringify({ ...config, mode: 'production', store: { kind: 'redis', keyPrefix: 'p:', ...store } }), 'test');
        return '';
      } catch (err) {
        return String(err);
      }
    };
    // The valid case first: TLS to the cluster, and a plain loopback Redis that is no cluster.
    expect(production({ url: 'rediss://redis-cluster:6379', cluster: true })).not.toMatch(/store\.url/u);
    expect(production({ url: 'redis://127.0.0.1:6379' })).not.toMatch(/store\.url/u);
    expect(production({ url: 'redis://127.0.0.1:6379', cluster: true })).toMatch(/store\.url.*rediss/su);
    expect(production({ url: 'redis://redis-cluster:6379', cluster: true })).toMatch(/store\.url.*rediss/su);
  });

  it('says which node it could not learn the cluster from', async () => {
    await expect(openStore('redis://127.0.0.1:1')).rejects.toThrow(/^cannot connect to Redis at redis:\/\/127\.0\.0\.1:1 \(cluster\): /u);
  });
});
