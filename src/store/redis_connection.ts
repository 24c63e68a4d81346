/**
 * What the broker says about its Redis connection. ioredis emits an `error` on every failed
 * reconnect attempt (several a second during an outage); the log gets one line when the
 * connection is lost, naming Redis and the cause, and one when it is back — at most one loss line
 * per LOSS_LOG_INTERVAL_MS, however often it flaps. Addresses are logged without credentials.
 */
import type { Cluster, Redis } from 'ioredis';
import { describeCause } from '../errors.js';

export interface StoreLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

/** One Redis (standalone or through Sentinel) or a Redis Cluster; the store's areas use either alike. */
export type RedisClient = Redis | Cluster;

const LOSS_LOG_INTERVAL_MS = 30_000;

/**
 * `redis://host:port/db` of a URL, without user, password or query (they may hold secrets); with
 * Sentinel, the monitored name and the sentinels asked: `rediss://mymaster/0 via sentinels s1:26379,…`;
 * with Cluster, the node it was learned from: `rediss://redis-cluster:6379 (cluster)`.
 */
export function redisAddress(
  url: string,
  sentinels?: readonly { readonly host: string; readonly port: number }[],
  cluster = false,
): string {
  try {
    const u = new URL(url);
    const via = sentinels ? ` via sentinels ${sentinels.map((s) => `${s.host}:${s.port}`).join(',')}` : cluster ? ' (cluster)' : '';
    return `${u.protocol}//${u.host}${u.pathname === '/' ? '' : u.pathname}${via}`;
  } catch {
    return 'redis (unparseable URL)';
  }
}

export interface ConnectionWatch {
  onConnectionChange(listener: (up: boolean) => void): void;
  /** The last connection error seen, for a boot failure's message. */
  lastError(): unknown;
}

export function watchConnection(
  redis: RedisClient,
  address: string,
  logger: StoreLogger | undefined,
  now: () => number = Date.now,
): ConnectionWatch {
  const listeners: Array<(up: boolean) => void> = [];
  let up = false;
  let everUp = false;
  let downSince = 0;
  let outageLogged = false;
  let outageSeen = false;
  let lastLossLogAt = -Infinity;
  let outagesNotLogged = 0;
  let last: unknown;
  const notify = (state: boolean): void => {
    for (const listener of listeners) listener(state);
  };

  redis.on('error', (err: unknown) => {
    last = err;
    if (!everUp || outageSeen) return;
    outageSeen = true;
    if (now() - lastLossLogAt < LOSS_LOG_INTERVAL_MS) {
      outagesNotLogged += 1;
      return;
    }
    lastLossLogAt = now();
    outageLogged = true;
    logger?.error({ redis: address, err: describeCause(err) }, 'redis connection lost; requests answer 503 until it is back');
  });
  redis.on('close', () => {
    if (!up) return;
    up = false;
    downSince = now();
    notify(false);
  });
  redis.on('ready', () => {
    if (everUp && outageLogged) {
      logger?.warn(
        { redis: address, downMs: now() - downSince, ...(outagesNotLogged > 0 ? { outagesNotLogged } : {}) },
        'redis connection restored',
      );
      outagesNotLogged = 0;
    } else if (everUp && now() - lastLossLogAt >= LOSS_LOG_INTERVAL_MS) {
      // Closed and back without a failed attempt in between (a quick Redis restart).
      lastLossLogAt = now();
      logger?.warn({ redis: address, downMs: now() - downSince }, 'redis connection closed and re-established');
    }
    up = true;
    everUp = true;
    outageSeen = false;
    outageLogged = false;
    notify(true);
  });
  return {
    onConnectionChange: (listener) => {
      listeners.push(listener);
    },
    lastError: () => last,
  };
}
