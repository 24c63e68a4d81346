/**
 * The revocation queue on Redis (store.ts RevocationQueue): two sorted sets of grant ids scored by
 * when each job is due or when its lease ends — closed incidents' jobs, claimed first, and all
 * others — and their delivery counts, all in the `{revq}` slot so one script claims atomically (a
 * visibility timeout: a worker that dies mid-job loses nothing, the job comes back when its lease
 * ends).
 */
import { decodeGrant, requireFinite } from './redis_codec.js';
import { markEnded, type RedisContext } from './redis_context.js';
import type { RevocationJob, RevocationQueue } from './store.js';

export function createRedisQueue(ctx: RedisContext): RevocationQueue {
  const { redis, keys, s, incidentOf } = ctx;
  return {
    async claimRevocations(now, max, leaseMs) {
      if (max <= 0) return [];
      const leasedUntil = requireFinite(now, 'now') + requireFinite(leaseMs, 'leaseMs');
      const flat = (await s.qmClaimRevocations(
        keys.revocationDueClose,
        keys.revocationDue,
        keys.revocationAttempts,
        now,
        max,
        leasedUntil,
      )) as Array<string | number>;
      const jobs: RevocationJob[] = [];
      for (let i = 0; i + 1 < flat.length; i += 2) jobs.push({ grantId: String(flat[i]), attempt: Number(flat[i + 1]), leasedUntil });
      return jobs;
    },

    // One script on the {revq} queue: the fence (score still equals the lease's end) and the
    // extension are one atomic step, so a finish, retry or re-claim in between cannot be undone.
    async renewRevocationLeases(leases, newUntil) {
      if (leases.length === 0) return [];
      const args = leases.flatMap((l) => [l.grantId, requireFinite(l.leasedUntil, 'leasedUntil')]);
      return (await s.qmRenewRevocationLeases(
        keys.revocationDueClose,
        keys.revocationDue,
        requireFinite(newUntil, 'newUntil'),
        ...args,
      )) as string[];
    },

    // Order: ZADD ended with the script (redis_context.ts markEnded) → remove job. A crash in between leaves a job that is
    // claimed again, finds the grant ended, and is removed by this call's no-op repeat.
    async finishRevocation(id, finish) {
      const incidentId = await incidentOf(id);
      const attempts = await redis.hget(keys.revocationAttempts, id);
      const reply =
        incidentId === null
          ? null
          : ((await markEnded(ctx, [[id, requireFinite(finish.at, 'at')]], () =>
              s.qmFinishRevocation(
                keys.grants(incidentId),
                keys.liveGrants(incidentId),
                id,
                finish.state,
                finish.at,
                finish.confirmed ? 1 : 0,
                attempts ?? '',
              ),
            )) as [number, string] | null);
      await redis.multi().zrem(keys.revocationDueClose, id).zrem(keys.revocationDue, id).hdel(keys.revocationAttempts, id).exec();
      const ended = reply !== null && incidentId !== null && reply[0] === 1 ? decodeGrant(id, incidentId, reply[1]) : null;
      // The agent's place in its live-grant quota (redis_ledger.ts createGrantIntent); one missed here ends at its expiry.
      if (ended) await redis.zrem(keys.agentLiveGrants(ended.agent), id);
      return ended;
    },

    // Order: script (error, attempts; only while revoking) → re-score. A crash in between leaves
    // the job under its lease; it is claimed again when the lease ends.
    async retryRevocation(id, dueAt, error) {
      const incidentId = await incidentOf(id);
      if (incidentId === null) return;
      const attempts = await redis.hget(keys.revocationAttempts, id);
      const revoking = await s.qmRetryRevocation(keys.grants(incidentId), id, error, attempts ?? '');
      if (revoking === 1) await s.qmRescheduleRevocation(keys.revocationDueClose, keys.revocationDue, id, requireFinite(dueAt, 'dueAt'));
    },

    async revocationQueueDepth() {
      const [close, other] = await Promise.all([redis.zcard(keys.revocationDueClose), redis.zcard(keys.revocationDue)]);
      return close + other;
    },
  };
}
