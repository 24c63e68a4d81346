/**
 * The Redis store (docs/architecture.md "State"): shared by every broker replica, survives broker
 * restarts. This file connects and assembles the areas, each in its own file: the incident ledger
 * (redis_ledger.ts), the revocation queue (redis_queue.ts), the audit log (redis_audit.ts),
 * claims, locks and registers (redis_coordination.ts), the webhook inbox (redis_inbox.ts), and the store's own marker and persistence
 * (redis_meta.ts).
 *
 * Connection loss makes operations reject quickly (no offline queue, few retries) so callers can
 * answer 503 instead of hanging; ioredis keeps reconnecting in the background.
 * docs/security.md §3: Redis replication is asynchronous; run it with AOF and keep workers idempotent.
 */
import { Redis } from 'ioredis';
import { describeCause } from '../errors.js';
import { createRedisAudit } from './redis_audit.js';
import { redisAddress, watchConnection, type StoreLogger } from './redis_connection.js';
import { createRedisContext } from './redis_context.js';
import { createRedisCoordination } from './redis_coordination.js';
import { createRedisInbox } from './redis_inbox.js';
import { createRedisKeys } from './redis_keys.js';
import { createRedisLedger } from './redis_ledger.js';
import { createRedisMeta } from './redis_meta.js';
import { createRedisQueue } from './redis_queue.js';
import { defineScripts } from './redis_scripts.js';
import type { Store } from './store.js';

export interface RedisStoreOptions {
  readonly url: string;
  readonly password?: string;
  /** Prepended to every key; must not contain `{` or `}` (it would break the hash tags). */
  readonly keyPrefix: string;
  readonly logger?: StoreLogger;
}

export async function createRedisStore(opts: RedisStoreOptions): Promise<Store> {
  if (/[{}]/.test(opts.keyPrefix)) throw new Error('redis keyPrefix must not contain { or }');
  const redis = new Redis(opts.url, {
    lazyConnect: true,
    // Fail fast while Redis is away: a queued request would hold an HTTP request open instead of
    // letting it answer 503, and could run long after its caller gave up.
    enableOfflineQueue: false,
    maxRetriesPerRequest: 2,
    ...(opts.password !== undefined ? { password: opts.password } : {}),
  });
  // The watch is also ioredis's error listener (without one it prints errors to the console).
  const address = redisAddress(opts.url);
  const connection = watchConnection(redis, address, opts.logger);
  try {
    await redis.connect();
  } catch (err) {
    redis.disconnect();
    // ioredis's own message is only "Connection is closed."; say which Redis and why.
    throw new Error(`cannot connect to Redis at ${address}: ${describeCause(connection.lastError() ?? err)}`, { cause: err });
  }

  const keys = createRedisKeys(opts.keyPrefix);
  const s = defineScripts(redis);
  const ctx = createRedisContext(redis, keys, s);

  return {
    kind: 'redis',
    meta: createRedisMeta(redis, keys, s, connection.onConnectionChange),

    async ping() {
      await redis.ping();
    },

    async close() {
      if (redis.status === 'end') return;
      // quit() lets in-flight replies arrive; when the connection is already gone it rejects.
      await redis.quit().catch(() => redis.disconnect());
    },

    ...createRedisLedger(ctx),
    ...createRedisQueue(ctx),
    ...createRedisAudit(ctx),
    ...createRedisCoordination(ctx),
    ...createRedisInbox(ctx),
  };
}
