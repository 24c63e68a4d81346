/**
 * StoreMeta on Redis: persistence read from Redis's own settings, the marker and loss records in
 * the `{meta}` slot (redis_keys.ts).
 *
 * Durable means AOF with `appendfsync everysec` or `always`: RDB snapshots alone lose every write
 * since the last one, and `appendfsync no` leaves the flush to the OS. Managed Redis services
 * often refuse CONFIG; INFO persistence still says whether AOF is on (not its fsync policy).
 */
import { Cluster, type Redis } from 'ioredis';
import type { RedisClient } from './redis_connection.js';
import type { RedisKeys } from './redis_keys.js';
import type { Scripts } from './redis_scripts.js';
import type { StoreLoss, StoreMarker, StoreMeta, StorePersistence } from './store_meta.js';

const DURABLE_FSYNC = new Set(['always', 'everysec']);

export function createRedisMeta(
  redis: RedisClient,
  keys: RedisKeys,
  scripts: Scripts,
  onConnectionChange: StoreMeta['onConnectionChange'],
): StoreMeta {
  const parse = <T>(text: string | null): T | null => (text === null ? null : (JSON.parse(text) as T));
  return {
    persistence: () => readPersistence(redis),
    async read() {
      const [marker, loss] = await redis.mget(keys.storeMarker, keys.storeLoss);
      return { marker: parse<StoreMarker>(marker ?? null), loss: parse<StoreLoss>(loss ?? null) };
    },
    async createMarker(marker) {
      return JSON.parse((await scripts.qmSetIfAbsent(keys.storeMarker, JSON.stringify(marker))) as string) as StoreMarker;
    },
    async recordLoss(loss) {
      return JSON.parse((await scripts.qmSetIfAbsent(keys.storeLoss, JSON.stringify(loss))) as string) as StoreLoss;
    },
    async acknowledgeLoss(lossId, marker) {
      return (await scripts.qmAcknowledgeLoss(keys.storeMarker, keys.storeLoss, lossId, JSON.stringify(marker))) === 1;
    },
    onConnectionChange,
  };
}

/**
 * A cluster is durable only if every primary is: each one holds the grants of its slots. Each
 * primary is asked directly (a command sent to the cluster would reach one node only).
 */
async function readPersistence(redis: RedisClient): Promise<StorePersistence> {
  if (!(redis instanceof Cluster)) return readNodePersistence(redis);
  const primaries = redis.nodes('master');
  if (primaries.length === 0) return { durable: false, detail: 'no cluster primary is connected' };
  const each = await Promise.all(primaries.map(async (node) => ({ node, persistence: await readNodePersistence(node) })));
  const volatile = each.filter((e) => !e.persistence.durable);
  const named = (e: (typeof each)[number]): string => `${e.node.options.host ?? '?'}:${e.node.options.port ?? '?'} ${e.persistence.detail}`;
  return volatile.length === 0
    ? {
        durable: true,
        detail: `every one of ${each.length} cluster primaries: ${[...new Set(each.map((e) => e.persistence.detail))].join('; ')}`,
      }
    : {
        durable: false,
        detail: `${volatile.length} of ${each.length} cluster primaries not persistent: ${volatile.map(named).join('; ')}`,
      };
}

async function readNodePersistence(redis: Redis): Promise<StorePersistence> {
  let settings: string[];
  try {
    const [appendonly, appendfsync] = await Promise.all([redis.config('GET', 'appendonly'), redis.config('GET', 'appendfsync')]);
    settings = [...(appendonly as string[]), ...(appendfsync as string[])];
  } catch {
    // CONFIG renamed or forbidden (managed Redis, ACLs): INFO still tells whether AOF is on.
    const info = await redis.info('persistence');
    const aof = /^aof_enabled:(\d)/mu.exec(info)?.[1];
    return aof === '1'
      ? { durable: true, detail: 'aof_enabled:1 (appendfsync unknown: CONFIG is not allowed)' }
      : { durable: false, detail: 'aof_enabled:0 (INFO persistence)' };
  }
  const value = (name: string): string | undefined => {
    const at = settings.indexOf(name);
    return at === -1 ? undefined : settings[at + 1];
  };
  const appendonly = value('appendonly') ?? 'unknown';
  const appendfsync = value('appendfsync') ?? 'unknown';
  return {
    durable: appendonly === 'yes' && DURABLE_FSYNC.has(appendfsync),
    detail: `appendonly ${appendonly}, appendfsync ${appendfsync}`,
  };
}
