/**
 * The store contract against a real redis-server (plain, and a one-node Redis Cluster that
 * refuses cross-slot commands), plus what only Redis has: key layout, durability across broker
 * restarts, behaviour while Redis is down, and the memory cost of a grant.
 */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeGrant } from '../../src/store/redis_codec.js';
import { createRedisKeys } from '../../src/store/redis_keys.js';
import { redisAddress } from '../../src/store/redis_connection.js';
import { createRedisStore } from '../../src/store/redis_store.js';
import { eventually } from '../support/broker_harness.js';
import type { Store } from '../../src/store/store.js';
import { startRedisServer, type RedisServer } from '../support/redis_server.js';
import { describeStoreContract, grantFixture, incidentFixture } from './contract.js';

let plain: RedisServer;
let cluster: RedisServer;
let admin: Redis;
let clusterAdmin: Redis;
let prefixes = 0;
/** A fresh key prefix per store, so tests never see each other's data. */
const nextPrefix = (): string => `t${++prefixes}:`;
const T0 = Date.UTC(2026, 0, 1);

beforeAll(async () => {
  [plain, cluster] = await Promise.all([startRedisServer(), startRedisServer({ cluster: true })]);
  admin = new Redis(plain.url);
  clusterAdmin = new Redis(cluster.url);
});

afterAll(async () => {
  await Promise.all([admin?.quit(), clusterAdmin?.quit()]);
  await Promise.all([plain?.stop(), cluster?.stop()]);
});

const openStore = (server: RedisServer, keyPrefix = nextPrefix()): Promise<Store> => createRedisStore({ url: server.url, keyPrefix });

describeStoreContract('redis', async () => {
  const store = await openStore(plain);
  return { store, cleanup: () => store.close() };
});

// Redis Cluster refuses a script or transaction whose keys span two slots (CROSSSLOT), so this
// run proves every operation keeps to one incident's hash tag or one global key group.
describeStoreContract('redis cluster node', async () => {
  const store = await openStore(cluster);
  return { store, cleanup: () => store.close() };
});

describe('redis store', () => {
  it('keeps every state key of one incident in one hash slot, and its audit index with the audit log', async () => {
    const prefix = nextPrefix();
    const store = await openStore(cluster, prefix);
    const incidentId = 'inc:{a}}b😀';
    await store.createIncident(incidentFixture(incidentId));
    await store.createGrantIntent(grantFixture('g1', incidentId));
    await store.appendAudit({ at: T0, type: 'incident.opened', actor: 'alice', incidentId });
    await store.closeIncident(incidentId, T0, 'bob');
    await store.close();

    const tag = `{inc:${encodeURIComponent(incidentId)}}`;
    const all = await clusterAdmin.keys(`${prefix}*`);
    const incidentKeys = all.filter((k) => k.includes('{inc:'));
    const agentKey = `${prefix}${tag}:agent:${encodeURIComponent(grantFixture('g1', incidentId).agent)}`;
    expect(incidentKeys.sort()).toEqual([agentKey, `${prefix}${tag}:grants`, `${prefix}${tag}:incident`, `${prefix}${tag}:live`]);
    const slots = await Promise.all(incidentKeys.map((k) => clusterAdmin.call('CLUSTER', 'KEYSLOT', k)));
    expect(new Set(slots).size).toBe(1);
    expect(await clusterAdmin.call('CLUSTER', 'KEYSLOT', `${prefix}{inc:other}:incident`)).not.toBe(slots[0]);
    // The incident's audit index is written by the same script as the global log: same slot.
    const auditIndex = `${prefix}{audit}:inc:${encodeURIComponent(incidentId)}`;
    expect(all).toContain(auditIndex);
    expect(await clusterAdmin.call('CLUSTER', 'KEYSLOT', auditIndex)).toBe(
      await clusterAdmin.call('CLUSTER', 'KEYSLOT', `${prefix}{audit}:log`),
    );
  });

  it("takes back an intent written beside a claim over the agent's limit: no key of it is left", async () => {
    const prefix = nextPrefix();
    const store = await openStore(cluster, prefix);
    await store.createIncident(incidentFixture('inc-1'));
    const quota = { perIncident: 0, perAgent: 1, now: T0 };
    const members = async (id: string): Promise<unknown[]> => {
      const tag = `${prefix}{inc:inc-1}`;
      const agent = encodeURIComponent(grantFixture(id, 'inc-1').agent);
      return Promise.all([
        clusterAdmin.get(`${prefix}gi:${id}`),
        clusterAdmin.hexists(`${tag}:grants`, id),
        clusterAdmin.sismember(`${tag}:agent:${agent}`, id),
        clusterAdmin.zscore(`${tag}:live`, id),
        clusterAdmin.zscore(`${prefix}{agt:${agent}}:live`, id),
      ]);
    };
    // The valid case: the first intent leaves every key.
    expect(await store.createGrantIntent(grantFixture('g1', 'inc-1'), quota)).toBe('ok');
    expect((await members('g1')).map((v) => v !== null && v !== 0)).toEqual([true, true, true, true, true]);
    // Over the agent's limit: refused, and nothing of g2 stays.
    expect(await store.createGrantIntent(grantFixture('g2', 'inc-1'), quota)).toBe('quota_agent');
    expect(await members('g2')).toEqual([null, 0, 0, null, null]);
    expect(await store.getGrant('g2')).toBeNull();
    await store.close();
  });

  it('sends the read behind the intent in one command each, so Redis runs them in order even with no script cached', async () => {
    const prefix = nextPrefix();
    const store = await openStore(plain, prefix);
    await store.createIncident(incidentFixture('inc-1'));
    // A restarted or failed-over Redis has no scripts: an EVALSHA would fail NOSCRIPT and its EVAL
    // be re-sent behind the read, which would then run first.
    await admin.script('FLUSH');
    const monitor = await new Redis(plain.url).monitor();
    const seen: string[] = [];
    monitor.on('monitor', (_time: string, args: string[]) => {
      const [name, first] = args;
      if (name && /^(eval|evalsha|get)$/iu.test(name) && (name.toLowerCase() !== 'get' || first === `${prefix}reg:k`))
        seen.push(name.toLowerCase());
    });
    try {
      expect(await store.createGrantIntentAndRead(grantFixture('g1', 'inc-1'), undefined, 'k')).toEqual({ result: 'ok', register: null });
      await eventually(async () => seen.length >= 2);
      expect(seen).toEqual(['eval', 'get']);
      // createGrantIntent alone keeps ioredis's script (EVAL on first use, then EVALSHA).
      expect(await store.createGrantIntent(grantFixture('g2', 'inc-1'))).toBe('ok');
      expect(await store.createGrantIntent(grantFixture('g3', 'inc-1'))).toBe('ok');
      await eventually(async () => seen.length >= 4);
      expect(seen).toEqual(['eval', 'get', 'eval', 'evalsha']);
    } finally {
      monitor.disconnect();
      await store.close();
    }
  });

  it('serves what a closed client wrote to a new client (broker restart)', async () => {
    const prefix = nextPrefix();
    const before = await openStore(plain, prefix);
    await before.createIncident(incidentFixture('inc-1'));
    await before.createGrantIntent(grantFixture('g1', 'inc-1'));
    const grant = await before.commitGrant('g1', { handle: { accessor: 'a1' }, expiresAt: T0 + 60_000 });
    await before.requestRevocation('g1', 'released', T0);
    // The broker dies holding a lease on the job.
    expect(await before.claimRevocations(T0, 10, 30_000)).toEqual([{ grantId: 'g1', attempt: 1, leasedUntil: T0 + 30_000 }]);
    const event = await before.appendAudit({ at: T0, type: 'grant.issued', actor: 'agent', incidentId: 'inc-1', grantId: 'g1' });
    await before.close();

    const after = await openStore(plain, prefix);
    expect(after.kind).toBe('redis');
    expect(await after.getIncident('inc-1')).toEqual(incidentFixture('inc-1'));
    expect(await after.getGrant('g1')).toMatchObject({ ...grant, state: 'revoking' });
    expect(await after.claimRevocations(T0 + 30_000, 10, 30_000)).toEqual([{ grantId: 'g1', attempt: 2, leasedUntil: T0 + 60_000 }]);
    expect(await after.listAudit({ limit: 10 })).toEqual([event]);
    await after.close();
  });

  it('leaves no key of a forgotten grant behind: only the tombstone and the audit stay', async () => {
    const prefix = nextPrefix();
    const store = await openStore(cluster, prefix);
    await store.createIncident(incidentFixture('inc-1'));
    for (const [id, agent] of [
      ['g1', 'spiffe://prod.example/a'],
      ['g2', 'spiffe://prod.example/b'],
      ['g3', 'spiffe://prod.example/b'],
    ] as const) {
      await store.createGrantIntent(grantFixture(id, 'inc-1', { agent }), { perIncident: 10, perAgent: 10, now: T0 });
      await store.commitGrant(id, { handle: { accessor: id }, expiresAt: T0 + 60_000, subjects: [`vault_accessor:${id}`] });
    }
    await store.appendAudit({ at: T0, type: 'incident.opened', actor: 'alice', incidentId: 'inc-1' });
    await store.closeIncident('inc-1', T0, 'bob');
    for (const id of ['g1', 'g2', 'g3']) await store.finishRevocation(id, { state: 'revoked', at: T0 + 1000, confirmed: true });
    // The valid case: before the purge, the grants' keys are there.
    expect((await clusterAdmin.keys(`${prefix}gi:*`)).length).toBe(3);
    expect((await clusterAdmin.keys(`${prefix}sx:*`)).length).toBe(3);
    expect(await store.purgeEndedGrants(T0 + 1000, 100)).toBe(3);
    // What the worker's sweeps drop on their own: the closing entry, the expiry entries.
    expect(await store.listClosingIncidents()).toEqual([]);
    expect(await store.expireGrants(T0 + 60_000, 100)).toEqual([]);
    await store.close();
    const left = (await clusterAdmin.keys(`${prefix}*`)).map((k) => k.slice(prefix.length)).sort();
    // The tombstone's entry in the incident listing stays with it.
    expect(left).toEqual(['{audit}:inc:inc-1', '{audit}:log', '{audit}:seq', '{inc:inc-1}:incident', '{incidents}:opened']);
  });

  it('shares counted windows between replicas: one first event and one summary for both', async () => {
    const prefix = nextPrefix();
    const [a, b] = await Promise.all([openStore(plain, prefix), openStore(plain, prefix)]);
    const event = { at: T0, type: 'grant.denied', actor: 'agent', incidentId: 'inc-1', reason: 'ERR_POLICY_DENIED' } as const;
    const options = { key: 'deny:agent', windowMs: 60_000, summary: {} };
    const results = await Promise.all(Array.from({ length: 10 }, (_, i) => (i % 2 ? a : b).countAudit({ ...event, at: T0 + i }, options)));
    expect(results.filter((r) => r !== null)).toHaveLength(1);
    expect(await a.flushAuditCounts(T0 + 60_000, 10)).toBe(1);
    expect(await b.flushAuditCounts(T0 + 60_000, 10)).toBe(0);
    const events = await b.listAudit({ limit: 10 });
    expect(events.map((e) => e.data?.repeats ?? 'first')).toEqual(['first', 9]);
    await Promise.all([a.close(), b.close()]);
  });

  it('re-running closeIncident re-enqueues a job lost to a crash between tombstone and enqueue', async () => {
    const prefix = nextPrefix();
    const store = await openStore(plain, prefix);
    await store.createIncident(incidentFixture('inc-1'));
    await store.createGrantIntent(grantFixture('g1', 'inc-1'));
    await store.closeIncident('inc-1', T0, 'bob');
    expect(await store.revocationQueueDepth()).toBe(1);
    await admin.zrem(createRedisKeys(prefix).revocationDueClose, 'g1'); // the enqueue that never happened

    expect(await store.revocationQueueDepth()).toBe(0);
    expect(await store.listClosingIncidents()).toEqual(['inc-1']);
    expect((await store.closeIncident('inc-1', T0 + 1000, 'quartermaster'))?.revoking).toEqual(['g1']);
    expect(await store.claimRevocations(T0 + 1000, 10, 30_000)).toEqual([{ grantId: 'g1', attempt: 1, leasedUntil: T0 + 1000 + 30_000 }]);
    await store.close();
  });

  it('closes an incident of 80 000 grants: every one revoking and enqueued', async () => {
    const prefix = nextPrefix();
    const keys = createRedisKeys(prefix);
    const store = await openStore(plain, prefix);
    await store.createIncident(incidentFixture('inc-big'));
    // The valid case first, through the store: a grant written by an intent is closed and enqueued.
    await store.createGrantIntent(grantFixture('g-0', 'inc-big'));
    // Then 80 000 more records in the incident's grant hash, as intents would leave them (seeded
    // raw: 80 000 intents would take the suite a minute). One enqueue call for all of them
    // spread 160 000 arguments and overflowed the call stack.
    const record = encodeGrant(grantFixture('g-x', 'inc-big'));
    for (let i = 0; i < 80_000; i += 10_000)
      await admin.hset(keys.grants('inc-big'), ...Array.from({ length: 10_000 }, (_, j) => [`g-${i + j + 1}`, record]).flat());
    const closed = await store.closeIncident('inc-big', T0, 'bob');
    expect(closed?.revoking).toHaveLength(80_001);
    expect(await admin.zcard(keys.revocationDueClose)).toBe(80_001);
    expect(await store.revocationQueueDepth()).toBe(80_001);
    await store.close();
  });

  it('rejects operations and ping while Redis is down, logs the loss once with its address, then closes cleanly', async () => {
    const doomed = await startRedisServer();
    const lines: Array<{ level: string; msg: string; obj: Record<string, unknown> }> = [];
    const capture = (level: string) => (obj: object, msg?: string) => {
      lines.push({ level, msg: msg ?? '', obj: obj as Record<string, unknown> });
    };
    const logger = { info: capture('info'), warn: capture('warn'), error: capture('error') };
    const url = doomed.url;
    const store = await createRedisStore({ url, keyPrefix: 'qm:', logger });
    await expect(store.ping()).resolves.toBeUndefined();
    expect(lines).toEqual([]);
    await doomed.stop();

    await expect(store.ping()).rejects.toThrow();
    await expect(store.getIncident('inc-1')).rejects.toThrow();
    // ioredis reports every reconnect attempt; the log says it once, naming Redis but no credentials.
    await eventually(async () => lines.length > 0);
    for (let i = 0; i < 5; i++) await expect(store.ping()).rejects.toThrow();
    expect(lines).toEqual([
      {
        level: 'error',
        msg: 'redis connection lost; requests answer 503 until it is back',
        obj: { redis: `redis://127.0.0.1:${doomed.port}`, err: expect.stringMatching(/ECONNREFUSED|Connection is closed|ECONNRESET/u) },
      },
    ]);
    await store.close();
    await store.close();
    await expect(createRedisStore({ url, keyPrefix: 'qm:' })).rejects.toThrow(
      new RegExp(`^cannot connect to Redis at redis://127\\.0\\.0\\.1:${doomed.port}: .*ECONNREFUSED`, 'u'),
    );
  });

  it('reads its persistence from Redis: AOF with everysec is durable, no AOF is not', async () => {
    const volatile = await openStore(plain);
    expect(await volatile.meta.persistence()).toEqual({ durable: false, detail: 'appendonly no, appendfsync everysec' });
    await volatile.close();
    const aof = await startRedisServer({ appendOnly: true });
    try {
      const durable = await openStore(aof);
      expect(await durable.meta.persistence()).toEqual({ durable: true, detail: 'appendonly yes, appendfsync everysec' });
      const aofAdmin = new Redis(aof.url);
      await aofAdmin.config('SET', 'appendfsync', 'no');
      expect(await durable.meta.persistence()).toEqual({ durable: false, detail: 'appendonly yes, appendfsync no' });
      await aofAdmin.quit();
      await durable.close();
    } finally {
      await aof.stop();
    }
  });

  it('falls back to INFO persistence where CONFIG is not allowed', async () => {
    const [aof, none] = await Promise.all([
      startRedisServer({ appendOnly: true, withoutConfigCommand: true }),
      startRedisServer({ withoutConfigCommand: true }),
    ]);
    try {
      const [durable, volatile] = await Promise.all([openStore(aof), openStore(none)]);
      expect(await durable.meta.persistence()).toEqual({
        durable: true,
        detail: 'aof_enabled:1 (appendfsync unknown: CONFIG is not allowed)',
      });
      expect(await volatile.meta.persistence()).toEqual({ durable: false, detail: 'aof_enabled:0 (INFO persistence)' });
      await Promise.all([durable.close(), volatile.close()]);
    } finally {
      await Promise.all([aof.stop(), none.stop()]);
    }
  });

  it('names a Redis by protocol, host, port and database, never its credentials', () => {
    expect(redisAddress('rediss://qm:s3cret-pw@redis.example.com:6380/2?tls=1')).toBe('rediss://redis.example.com:6380/2');
    expect(redisAddress('redis://127.0.0.1:6379')).toBe('redis://127.0.0.1:6379');
  });

  it('refuses a key prefix that would break the hash tags', async () => {
    const valid = await openStore(plain, nextPrefix());
    await valid.close();
    await expect(openStore(plain, 'qm{x}:')).rejects.toThrow(/keyPrefix/);
  });

  it('keeps an active grant within its memory budget (S6: 512 bytes target)', async () => {
    const prefix = nextPrefix();
    const store = await openStore(plain, prefix);
    const keys = createRedisKeys(prefix);
    const count = 200;
    const incidentId = 'PD-Q1W2E3R4T5';
    await store.createIncident(incidentFixture(incidentId, { source: 'pagerduty' }));
    const ids = Array.from({ length: count }, () => `grt_${randomBytes(16).toString('base64url')}`);
    for (const [i, id] of ids.entries()) {
      await store.createGrantIntent(
        grantFixture(id, incidentId, {
          createdAt: T0 + i,
          agent: 'spiffe://prod.example.com/ns/incident-response/sa/triage-agent',
          purpose: 'collect CloudTrail evidence for the login anomaly',
        }),
      );
      await store.commitGrant(id, {
        handle: {
          accessor: `hmac-sha256:${randomBytes(16).toString('hex')}`,
          leaseId: `database/creds/readonly/${randomBytes(12).toString('base64url')}`,
        },
        expiresAt: T0 + 900_000 + i,
      });
    }
    const usage = async (key: string): Promise<number> => Number(await admin.call('MEMORY', 'USAGE', key, 'SAMPLES', '0'));
    const record = await usage(keys.grants(incidentId));
    const index = (await Promise.all(ids.map((id) => usage(keys.grantIndex(id))))).reduce((a, b) => a + b, 0);
    const expiry = await usage(keys.expiry);
    const perGrant = Math.round((record + index + expiry) / count);
    process.stdout.write(
      `redis bytes per active grant: ${perGrant} (record ${Math.round(record / count)}, id index ${Math.round(index / count)}, expiry set ${Math.round(expiry / count)})\n`,
    );
    expect(record / count).toBeLessThanOrEqual(1024);
    expect(perGrant).toBeLessThanOrEqual(1024);
    await store.close();
  });
});
