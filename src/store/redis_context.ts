/**
 * What every area of the Redis store shares (redis_store.ts assembles them): the connection, the
 * key names, the scripts, and the grant → incident index, cached in-process. A grant's incident
 * never changes once its intent exists, so the cache (bounded, oldest out) lets the commit right
 * after an intent, and most reads, skip a round trip (docs/performance.md, S1 on Redis).
 */
import type { RedisClient } from './redis_connection.js';
import type { Grant } from '../model.js';
import { decodeGrant } from './redis_codec.js';
import type { RedisKeys } from './redis_keys.js';
import type { Scripts } from './redis_scripts.js';

/** Grant id → incident entries kept in-process; ~100 B each, so a few MB at most. */
const INCIDENT_CACHE_ENTRIES = 50_000;

export interface RedisContext {
  readonly redis: RedisClient;
  readonly keys: RedisKeys;
  readonly s: Scripts;
  /** The incident of a grant, from the cache or its index key; null for an unknown grant. */
  incidentOf(grantId: string): Promise<string | null>;
  remember(grantId: string, incidentId: string): void;
  /** Drops a forgotten grant (retention) from the cache. */
  forget(grantId: string): void;
  decodeOrNull(id: string, incidentId: string, raw: unknown): Grant | null;
}

export const compareIds = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

export function createRedisContext(redis: RedisClient, keys: RedisKeys, s: Scripts): RedisContext {
  const incidentById = new Map<string, string>();
  const remember = (grantId: string, incidentId: string): void => {
    if (incidentById.size >= INCIDENT_CACHE_ENTRIES) incidentById.delete(incidentById.keys().next().value as string);
    incidentById.set(grantId, incidentId);
  };
  return {
    redis,
    keys,
    s,
    remember,
    forget: (grantId) => {
      incidentById.delete(grantId);
    },
    async incidentOf(grantId) {
      const cached = incidentById.get(grantId);
      if (cached !== undefined) return cached;
      const incidentId = await redis.get(keys.grantIndex(grantId));
      if (incidentId !== null) remember(grantId, incidentId);
      return incidentId;
    },
    decodeOrNull: (id, incidentId, raw) => (typeof raw === 'string' ? decodeGrant(id, incidentId, raw) : null),
  };
}

/**
 * Runs a script that may end the listed grants, with their entries in the ended set (retention,
 * redis_ledger.ts purgeEndedGrants) scored by when each would end, sent back to back with it: the set is a superset
 * written first, so a grant never ends unlisted (it would never be forgotten). LT keeps an entry's
 * earliest score (the expiry sweep lists grants that ended otherwise long before); the purge reads
 * each grant's own end, re-scores one that ended later and drops one that did not end. Should the ZADD alone fail, it is retried before the
 * script's reply is returned.
 */
export async function markEnded(
  ctx: RedisContext,
  ended: ReadonlyArray<readonly [id: string, at: number]>,
  script: () => Promise<unknown>,
): Promise<unknown> {
  const members = ended.flatMap(([id, at]) => [at, id]);
  const [listed, result] = await Promise.allSettled([ctx.redis.zadd(ctx.keys.ended, 'LT', ...members), script()]);
  if (result.status === 'rejected') throw result.reason;
  if (listed.status === 'rejected') await ctx.redis.zadd(ctx.keys.ended, 'LT', ...members);
  return result.value;
}
