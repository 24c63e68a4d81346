/**
 * Store-backed provider locks (src/locks.ts): one holder per name across brokers, fences that
 * grow, leases renewed while the work runs, a lost lease reported to the work, and a dead
 * holder's lock freed by its lease. On a real Redis with two lock instances (two brokers), and on
 * the memory store with fake timers where only the clock may decide.
 */
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { createLocks } from '../src/locks.js';
import { createMemoryStore } from '../src/store/memory_store.js';
import { createRedisKeys } from '../src/store/redis_keys.js';
import { createRedisStore } from '../src/store/redis_store.js';
import type { Store } from '../src/store/store.js';
import { startRedisServer, type RedisServer } from './support/redis_server.js';

const silent = { warn: () => undefined };

describe('provider locks on one Redis, from two brokers', () => {
  let redis: RedisServer;
  let stores: Store[];
  beforeAll(async () => {
    redis = await startRedisServer();
    stores = await Promise.all([1, 2].map(() => createRedisStore({ url: redis.url, keyPrefix: 'qm-locks:' })));
  });
  afterAll(async () => {
    await Promise.all(stores.map((s) => s.close()));
    await redis?.stop();
  });

  it('runs read-modify-write of one name one broker at a time, so no write is lost, with growing fences', async () => {
    const [a, b] = stores.map((store) => createLocks({ store: store as Store, now: Date.now, logger: silent }).within('provider:aws_sts'));
    let shared = 0;
    let inside = 0;
    let maxInside = 0;
    const fences: number[] = [];
    const increment = (locks: typeof a) =>
      locks!.withLock('role:ir-readonly', async ({ fence }) => {
        inside += 1;
        maxInside = Math.max(maxInside, inside);
        fences.push(fence);
        const read = shared;
        await new Promise((resolve) => setImmediate(resolve)); // the other broker's turn, were it let in
        shared = read + 1;
        inside -= 1;
      });
    await Promise.all(Array.from({ length: 8 }, (_, i) => increment(i % 2 === 0 ? a : b)));
    expect(shared).toBe(8);
    expect(maxInside).toBe(1);
    expect(fences).toEqual([...fences].sort((x, y) => x - y));
    expect(new Set(fences).size).toBe(8);
  });

  it('does not make different names wait for each other', async () => {
    const locks = createLocks({ store: stores[0] as Store, now: Date.now, logger: silent });
    let release!: () => void;
    const holding = locks.withLock(
      'role:a',
      () =>
        new Promise<void>((resolve) => {
          release = resolve;
        }),
    );
    await expect(locks.withLock('role:b', async () => 'ran', { waitMs: 0 })).resolves.toBe('ran');
    await expect(locks.withLock('role:a', async () => 'ran', { waitMs: 0 })).rejects.toMatchObject({ code: 'ERR_PROVIDER_UNAVAILABLE' });
    release();
    await holding;
  });

  it('frees the lock of a broker that died holding it once its lease runs out', async () => {
    // A broker that took the lock and was killed: its lease is never renewed nor released.
    expect(await (stores[1] as Store).acquireLock('provider:aws_sts:role:dead', 'dead-broker', 200, Date.now())).toEqual(
      expect.any(Number),
    );
    const locks = createLocks({ store: stores[0] as Store, now: Date.now, logger: silent }).within('provider:aws_sts');
    await expect(locks.withLock('role:dead', async ({ fence }) => fence, { waitMs: 5_000 })).resolves.toBeGreaterThan(1);
  });

  it('tells the work when its lease was lost, so it can stop before writing', async () => {
    const warnings: string[] = [];
    const locks = createLocks({
      store: stores[0] as Store,
      now: Date.now,
      logger: {
        warn: (_o, msg) => {
          warnings.push(msg ?? '');
        },
      },
      leaseMs: 300,
    });
    const aborted = await locks.withLock('role:stolen', async ({ signal }) => {
      // The lease vanishes (a Redis failover that lost it): the next renewal finds it gone.
      const client = new Redis(redis.url);
      await client.del(createRedisKeys('qm-locks:').lockOwner('role:stolen'));
      client.disconnect();
      await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
      return signal.aborted;
    });
    expect(aborted).toBe(true);
    expect(warnings).toContain('lock lease lost while its work ran; the work is told to stop');
  });
});

describe('provider locks on the clock', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('keeps the lock while work outlasts the lease, and frees it when the work ends', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'setInterval', 'clearInterval', 'Date'] });
    const store = createMemoryStore();
    const holder = createLocks({ store, now: Date.now, logger: silent, leaseMs: 1_000 });
    const rival = createLocks({ store, now: Date.now, logger: silent, leaseMs: 1_000 });
    let finish!: () => void;
    const work = holder.withLock(
      'role',
      () =>
        new Promise<void>((resolve) => {
          finish = resolve;
        }),
    );
    await vi.advanceTimersByTimeAsync(5_000); // five leases: kept alive by renewal alone
    const tryNow = rival.withLock('role', async () => 'rival ran', { waitMs: 0 });
    await expect(tryNow).rejects.toMatchObject({ code: 'ERR_PROVIDER_UNAVAILABLE' });
    finish();
    await work;
    await expect(rival.withLock('role', async () => 'rival ran', { waitMs: 0 })).resolves.toBe('rival ran');
  });

  it('gives up waiting after waitMs, and not before', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'setInterval', 'clearInterval', 'Date'] });
    const store = createMemoryStore();
    await store.acquireLock('role', 'someone-else', 60_000, Date.now());
    const locks = createLocks({ store, now: Date.now, logger: silent });
    let settled: unknown = 'pending';
    locks
      .withLock('role', async () => 'ran', { waitMs: 1_000 })
      .then(
        (v) => {
          settled = v;
        },
        (err: unknown) => {
          settled = err;
        },
      );
    await vi.advanceTimersByTimeAsync(900);
    expect(settled).toBe('pending');
    await vi.advanceTimersByTimeAsync(400);
    expect(settled).toMatchObject({ code: 'ERR_PROVIDER_UNAVAILABLE' });
  });
});
