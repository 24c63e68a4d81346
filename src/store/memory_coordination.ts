/** Claims and leased locks in memory (store.ts CoordinationStore), on the callers' clock. */
import type { CoordinationStore } from './store.js';

const CLAIM_SWEEP_EVERY = 1024;

export function createMemoryCoordination(): CoordinationStore {
  /** claimOnce records: key → expiresAt. Swept of expired records every CLAIM_SWEEP_EVERY claims. */
  const claims = new Map<string, number>();
  let claimsSinceSweep = 0;
  /** Lock name → its lease; and the fence counter of every name ever locked. */
  const locks = new Map<string, { owner: string; until: number }>();
  const fences = new Map<string, number>();
  return {
    async acquireLock(name, owner, leaseMs, now) {
      const held = locks.get(name);
      if (held && held.owner !== owner && held.until > now) return null;
      const fence = (fences.get(name) ?? 0) + 1;
      fences.set(name, fence);
      locks.set(name, { owner, until: now + leaseMs });
      return fence;
    },

    async renewLock(name, owner, leaseMs, now) {
      const held = locks.get(name);
      if (!held || held.owner !== owner || held.until <= now) return false;
      locks.set(name, { owner, until: now + leaseMs });
      return true;
    },

    async releaseLock(name, owner) {
      if (locks.get(name)?.owner === owner) locks.delete(name);
    },

    async claimOnce(key, expiresAt, now) {
      if (++claimsSinceSweep >= CLAIM_SWEEP_EVERY) {
        claimsSinceSweep = 0;
        for (const [k, until] of claims) if (until <= now) claims.delete(k);
      }
      const until = claims.get(key);
      if (until !== undefined && until > now) return false;
      claims.set(key, Math.max(expiresAt, now + 1));
      return true;
    },
  };
}
