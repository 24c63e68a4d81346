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
import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';
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
  /** Redis Sentinel: ask these where the primary is; the url's host is the name they monitor it by. */
  readonly sentinels?: readonly { readonly host: string; readonly port: number }[];
  readonly sentinelPassword?: string;
  /** Redis Cluster: the url names one node; the others and the slot map are learned from it. */
  readonly cluster?: boolean;
}

export async function createRedisStore(opts: RedisStoreOptions): Promise<Store> {
  if (/[{}]/.test(opts.keyPrefix)) throw new Error('redis keyPrefix must not contain { or }');
  // What every connection to a Redis node shares (the Cluster client opens one per node).
  const node = {
    maxRetriesPerRequest: 2,
    ...(opts.password !== undefined ? { password: opts.password } : {}),
  };
  const common = {
    ...node,
    lazyConnect: true,
    // Fail fast while Redis is away: a queued request would hold an HTTP request open instead of
    // letting it answer 503, and could run long after its caller gave up.
    enableOfflineQueue: false,
  };
  const redis = opts.cluster
    ? clusterClient(opts, node)
    : opts.sentinels
      ? new Redis(sentinelOptions(opts, opts.sentinels, common))
      : new Redis(opts.url, common);
  // The watch is also ioredis's error listener (without one it prints errors to the console).
  const address = redisAddress(opts.url, opts.sentinels, opts.cluster);
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

/**
 * ioredis's Sentinel mode from the url: its host is the monitored name, its scheme says TLS (to
 * the primary and to the sentinels alike), its user and db apply to the primary. ioredis asks the
 * sentinels for the primary, and again after every disconnect, so a failover is followed.
 */
function sentinelOptions(
  opts: RedisStoreOptions,
  sentinels: NonNullable<RedisStoreOptions['sentinels']>,
  common: Record<string, unknown>,
): RedisOptions {
  const url = new URL(opts.url);
  const tls = url.protocol === 'rediss:';
  const db = url.pathname.length > 1 ? Number(url.pathname.slice(1)) : 0;
  return {
    ...common,
    sentinels: sentinels.map((s) => ({ host: s.host, port: s.port })),
    name: monitoredName(opts.url),
    // Subscribe to the sentinels' +switch-master: reconnect to a new primary at once, not at the next error.
    failoverDetector: true,
    ...(Number.isInteger(db) ? { db } : {}),
    ...(url.username ? { username: decodeURIComponent(url.username) } : {}),
    ...(opts.sentinelPassword !== undefined ? { sentinelPassword: opts.sentinelPassword } : {}),
    ...(tls ? { tls: {}, sentinelTLS: {}, enableTLSForSentinelMode: true } : {}),
  };
}

/**
 * ioredis's Cluster client seeded with the url's node: it reads the slot map there, connects to
 * each primary as needed, follows MOVED and ASK, and re-reads the map after a failover. Per-node
 * options (TLS, user, password, fail-fast) are the standalone client's.
 */
function clusterClient(opts: RedisStoreOptions, node: RedisOptions): Cluster {
  const url = new URL(opts.url);
  const tls = url.protocol === 'rediss:';
  // Each node keeps ioredis's own offline queue and connects on first use (a node's first command
  // waits for its connection); the cluster as a whole fails fast (enableOfflineQueue below).
  const redisOptions: RedisOptions = {
    ...node,
    ...(url.username ? { username: decodeURIComponent(url.username) } : {}),
    ...(tls ? { tls: {} } : {}),
  };
  const options: ClusterOptions = {
    lazyConnect: true,
    enableOfflineQueue: false,
    redisOptions,
    // Redirections and "cluster down" retries are bounded, so a request still answers 503 promptly.
    maxRedirections: 8,
    retryDelayOnClusterDown: 100,
    retryDelayOnFailover: 100,
    // A TLS cluster's certificates name the node's hostname, not the address CLUSTER SLOTS reports.
    ...(tls ? { dnsLookup: (address: string, callback: (err: null, address: string) => void) => callback(null, address) } : {}),
  };
  return new Cluster([{ host: url.hostname, port: url.port === '' ? 6379 : Number(url.port) }], options);
}

/**
 * The url's host as written: sentinel names are case-sensitive, and `new URL` lower-cases a host
 * (`redis://MyPrimary` would ask the sentinels for `myprimary`).
 */
export function monitoredName(url: string): string {
  const host = /^rediss?:\/\/(?:[^@/?#]*@)?([^/:?#]+)/iu.exec(url)?.[1];
  if (host === undefined) throw new Error('store.url names no host: with store.sentinels it is the monitored name');
  return decodeURIComponent(host);
}
