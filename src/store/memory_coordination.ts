/** Claims and leased locks in memory (store.ts CoordinationStore), on the callers' clock. */
import { windowEstimate, type CoordinationStore, type IncidentRecordSet } from './store.js';

const CLAIM_SWEEP_EVERY = 1024;
const BUCKET_SWEEP_EVERY = 4096;

export function createMemoryCoordination(): CoordinationStore {
  /** claimOnce records: key → expiresAt. Swept of expired records every CLAIM_SWEEP_EVERY claims. */
  const claims = new Map<string, number>();
  let claimsSinceSweep = 0;
  /** Lock name → its lease; and the fence counter of every name ever locked. */
  const locks = new Map<string, { owner: string; until: number }>();
  const fences = new Map<string, number>();
  /** Token buckets: name → tokens left at `at`, and the bucket's own size and rate. */
  const buckets = new Map<string, { tokens: number; at: number; burst: number; perSecond: number }>();
  let bucketSweepIn = BUCKET_SWEEP_EVERY;
  /** Incident records: namespace → incident id → values (insertion order). */
  const records = new Map<string, Map<string, Set<string>>>();
  const registers = new Map<string, string>();
  /** Window counters: name → the index of its last window, and the counts of it and the one before. */
  const windows = new Map<string, { index: number; current: number; previous: number }>();
  let windowSweepIn = BUCKET_SWEEP_EVERY;
  return {
    async countInWindow(name, windowMs, now, by = 1) {
      const n = Math.max(1, Math.floor(by));
      const index = Math.floor(now / windowMs);
      if (--windowSweepIn <= 0) {
        windowSweepIn = BUCKET_SWEEP_EVERY;
        for (const [key, w] of windows) if (w.index < index - 1) windows.delete(key);
      }
      const held = windows.get(name);
      const counts =
        held === undefined || held.index < index - 1
          ? { index, current: n, previous: 0 }
          : held.index === index - 1
            ? { index, current: n, previous: held.current }
            : { index: held.index, current: held.current + n, previous: held.previous };
      windows.set(name, counts);
      return windowEstimate(counts.current, counts.previous, now, windowMs);
    },
    async getRegister(key) {
      return registers.get(key) ?? null;
    },
    async compareAndSetRegister(key, expected, value) {
      if ((registers.get(key) ?? null) !== expected) return false;
      registers.set(key, value);
      return true;
    },
    async addIncidentRecord(namespace, incidentId, value) {
      const ofNamespace = records.get(namespace) ?? new Map<string, Set<string>>();
      records.set(namespace, ofNamespace);
      const values = ofNamespace.get(incidentId) ?? new Set<string>();
      ofNamespace.set(incidentId, values);
      values.add(value);
    },

    async listIncidentRecords(namespace, incidentId) {
      const ofNamespace = records.get(namespace);
      if (!ofNamespace) return [];
      const sets: IncidentRecordSet[] = [];
      for (const [id, values] of ofNamespace)
        if (incidentId === undefined || id === incidentId) sets.push({ incidentId: id, values: [...values] });
      return sets;
    },

    async removeIncidentRecords(namespace, incidentId, values) {
      const ofNamespace = records.get(namespace);
      const held = ofNamespace?.get(incidentId);
      if (!ofNamespace || !held) return;
      for (const value of values) held.delete(value);
      if (held.size === 0) ofNamespace.delete(incidentId);
      if (ofNamespace.size === 0) records.delete(namespace);
    },

    async takeToken(name, burst, perSecond, now) {
      if (--bucketSweepIn <= 0) {
        // A bucket that would be full again by now holds no information: forget it.
        bucketSweepIn = BUCKET_SWEEP_EVERY;
        for (const [key, b] of buckets) if (b.tokens + ((now - b.at) / 1000) * b.perSecond >= b.burst) buckets.delete(key);
      }
      const held = buckets.get(name);
      const tokens = held === undefined ? burst : Math.min(burst, held.tokens + (Math.max(0, now - held.at) / 1000) * perSecond);
      if (tokens >= 1) {
        buckets.set(name, { tokens: tokens - 1, at: now, burst, perSecond });
        return 0;
      }
      buckets.set(name, { tokens, at: now, burst, perSecond });
      return Math.ceil(((1 - tokens) / perSecond) * 1000);
    },

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
