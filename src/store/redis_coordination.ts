/** What replicas coordinate through, on Redis (store.ts CoordinationStore): one-time claims and leased locks, one small key each. */
import { execReplies, requireFinite } from './redis_codec.js';
import type { RedisContext } from './redis_context.js';
import { windowEstimate, type CoordinationStore } from './store.js';

export function createRedisCoordination(ctx: RedisContext): CoordinationStore {
  const { redis, keys, s } = ctx;
  return {
    async takeToken(name, burst, perSecond, now) {
      return Number(await s.qmTakeToken(keys.bucket(name), burst, perSecond, requireFinite(now, 'now')));
    },

    async countInWindow(name, windowMs, now, by = 1) {
      const index = Math.floor(requireFinite(now, 'now') / windowMs);
      const [current, previous] = (await s.qmCountInWindow(keys.window(name), index, windowMs, Math.max(1, Math.floor(by)))) as [
        number,
        number,
      ];
      return windowEstimate(current, previous, now, windowMs);
    },

    async acquireLock(name, owner, leaseMs) {
      const fence = await s.qmAcquireLock(keys.lockOwner(name), keys.lockFence(name), owner, Math.max(1, Math.ceil(leaseMs)));
      return typeof fence === 'number' ? fence : null;
    },

    async renewLock(name, owner, leaseMs) {
      return (await s.qmRenewLock(keys.lockOwner(name), owner, Math.max(1, Math.ceil(leaseMs)))) === 1;
    },

    async releaseLock(name, owner) {
      await s.qmReleaseLock(keys.lockOwner(name), owner);
    },

    // An incident's values and the namespace's index of incidents share one slot ({rec:<ns>}), so
    // each call is one atomic step: MULTI for the add, a script for the remove (it drops the
    // incident from the index only when its last value went).
    async addIncidentRecord(namespace, incidentId, value) {
      await redis
        .multi()
        .sadd(keys.recordIncidents(namespace), incidentId)
        .sadd(keys.incidentRecords(namespace, incidentId), value)
        .exec()
        .then(execReplies);
    },

    async listIncidentRecords(namespace, incidentId) {
      const ids = incidentId === undefined ? await redis.smembers(keys.recordIncidents(namespace)) : [incidentId];
      const sets = await Promise.all(
        ids.map(async (id) => ({ incidentId: id, values: await redis.smembers(keys.incidentRecords(namespace, id)) })),
      );
      return sets.filter((set) => set.values.length > 0);
    },

    async removeIncidentRecords(namespace, incidentId, values) {
      if (values.length === 0) return;
      await s.qmRemoveIncidentRecords(keys.incidentRecords(namespace, incidentId), keys.recordIncidents(namespace), incidentId, ...values);
    },

    async getRegister(key) {
      return redis.get(keys.register(key));
    },

    // One script: the compare and the set cannot be split by another writer.
    async compareAndSetRegister(key, expected, value) {
      return (await s.qmCompareAndSetRegister(keys.register(key), expected ?? '', value, expected === null ? '1' : '0')) === 1;
    },

    // SET NX PX: the check and the write are one atomic command. The TTL is relative to the
    // caller's clock so replicas agree with the verifier on when a token stops being accepted.
    async claimOnce(key, expiresAt, now) {
      const ttlMs = Math.max(1, Math.ceil(requireFinite(expiresAt, 'expiresAt') - requireFinite(now, 'now')));
      return (await redis.set(keys.claim(key), '1', 'PX', ttlMs, 'NX')) === 'OK';
    },
  };
}
