/** The revocation queue in memory (store.ts RevocationQueue), over the shared state (memory_state.ts). */
import { TERMINAL_STATES, type Grant } from '../model.js';
import { compareIds, copy, type MemoryState } from './memory_state.js';
import type { RevocationJob, RevocationQueue } from './store.js';

export function createMemoryQueue(state: MemoryState): RevocationQueue {
  const { grants, jobs } = state;
  return {
    async claimRevocations(now, max, leaseMs): Promise<RevocationJob[]> {
      const due = [...jobs.entries()]
        .filter(([, job]) => job.dueAt <= now)
        // A closed incident's jobs first (the Redis store's close lane), then by due time.
        .sort(([a, x], [b, y]) => Number(x.lane === 'other') - Number(y.lane === 'other') || x.dueAt - y.dueAt || compareIds(a, b))
        .slice(0, Math.max(0, max));
      const leasedUntil = now + leaseMs;
      return due.map(([grantId, job]) => {
        job.dueAt = leasedUntil;
        job.attempts += 1;
        return { grantId, attempt: job.attempts, leasedUntil };
      });
    },

    async renewRevocationLeases(leases, newUntil) {
      const renewed: string[] = [];
      for (const { grantId, leasedUntil } of leases) {
        const job = jobs.get(grantId);
        // The due time is the fence: a finished job is gone, a retried one is due at its backoff,
        // one claimed again is due at the other worker's lease end. Only the lease named here moves.
        if (!job || job.dueAt !== leasedUntil) continue;
        if (newUntil > job.dueAt) job.dueAt = newUntil;
        renewed.push(grantId);
      }
      return renewed;
    },

    async finishRevocation(id, finish) {
      const job = jobs.get(id);
      jobs.delete(id);
      const grant = grants.get(id);
      if (!grant || TERMINAL_STATES.has(grant.state)) return null;
      const ended: Grant = {
        ...grant,
        state: finish.state,
        endedAt: finish.at,
        revocationConfirmed: finish.confirmed,
        ...(job && job.attempts > 0 ? { revokeAttempts: job.attempts } : {}),
      };
      grants.set(id, ended);
      return copy(ended);
    },

    async retryRevocation(id, dueAt, error) {
      const grant = grants.get(id);
      if (!grant || grant.state !== 'revoking') return;
      const job = jobs.get(id);
      grants.set(id, { ...grant, lastError: error, ...(job && job.attempts > 0 ? { revokeAttempts: job.attempts } : {}) });
      jobs.set(id, { dueAt, attempts: job?.attempts ?? 0, lane: job?.lane ?? 'other' });
    },

    async revocationQueueDepth() {
      return jobs.size;
    },
  };
}
