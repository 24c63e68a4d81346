/**
 * The in-process store for the embedded default and unit tests (docs/architecture.md "State"). Each method
 * does all its work before its first (and only) resolution, so it is atomic the way the Redis
 * store's Lua scripts are. Records go in and out as deep copies: a caller that mutates an object
 * it passed or got back cannot change the ledger behind the store's back.
 *
 * Everything is lost on restart; config refuses this store in production mode.
 */
import { isLive, TERMINAL_STATES, type AuditEvent, type AuditEventInput, type Grant, type Incident } from '../model.js';
import { createMemoryMeta } from './memory_meta.js';
import type { CloseIncidentResult, RevocationJob, Store } from './store.js';

interface Job {
  /** When the job may be claimed: its due time, or the end of its current lease. */
  dueAt: number;
  /** Deliveries so far. */
  attempts: number;
}

/**
 * Deep copy of a record. Records hold JSON values only (strings, numbers, booleans, null, plain
 * objects and arrays), so a plain recursive copy does; it is ~7× cheaper than structuredClone
 * on a grant, and a grant passes through several copies per issue (docs/performance.md).
 */
function copy<T>(value: T): T {
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map(copy) as T;
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(value)) {
    const item = copy((value as Record<string, unknown>)[key]);
    // An own "__proto__" member stays a member, never the copy's prototype.
    if (key === '__proto__') Object.defineProperty(out, key, { value: item, enumerable: true, writable: true, configurable: true });
    else out[key] = item;
  }
  return out as T;
}
const CLAIM_SWEEP_EVERY = 1024;
const compareIds = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

export function createMemoryStore(): Store {
  const incidents = new Map<string, Incident>();
  const grants = new Map<string, Grant>();
  const jobs = new Map<string, Job>();
  const audit: AuditEvent[] = [];
  const auditByDedupeKey = new Map<string, AuditEvent>();
  /** claimOnce records: key → expiresAt. Swept of expired records every CLAIM_SWEEP_EVERY claims. */
  const claims = new Map<string, number>();
  let claimsSinceSweep = 0;
  /** Lock name → its lease; and the fence counter of every name ever locked. */
  const locks = new Map<string, { owner: string; until: number }>();
  const fences = new Map<string, number>();
  let seq = 0;

  const enqueue = (grantId: string, dueAt: number): void => {
    // Keep an existing schedule: a job in backoff or under lease is not pulled forward.
    if (!jobs.has(grantId)) jobs.set(grantId, { dueAt, attempts: 0 });
  };
  /** Grant ids by incident, in creation order (the Redis store's per-incident hash). */
  const idsByIncident = new Map<string, string[]>();
  const grantsOf = (incidentId: string): Grant[] => (idsByIncident.get(incidentId) ?? []).map((id) => grants.get(id) as Grant);
  /** Agent → incident → grant ids (the Redis store's per-agent sets). */
  const idsByAgent = new Map<string, Map<string, string[]>>();
  const byCreation = (a: Grant, b: Grant): number => a.createdAt - b.createdAt || compareIds(a.id, b.id);

  return {
    kind: 'memory',
    meta: createMemoryMeta(),
    async ping() {},
    async close() {},

    async createIncident(incident) {
      const existing = incidents.get(incident.id);
      if (existing) return { created: false, incident: copy(existing) };
      incidents.set(incident.id, copy(incident));
      return { created: true, incident: copy(incident) };
    },

    async updateIncident(id, patch) {
      const incident = incidents.get(id);
      if (!incident) return null;
      if (incident.status !== 'open') return { incident: copy(incident), updated: false };
      const updated: Incident = { ...incident, ...(patch.severity === undefined ? {} : { severity: patch.severity }), ...(patch.title === undefined ? {} : { title: patch.title }) };
      incidents.set(id, updated);
      return { incident: copy(updated), updated: true };
    },

    async getIncident(id) {
      const incident = incidents.get(id);
      return incident ? copy(incident) : null;
    },

    async closeIncident(id, closedAt, closedBy): Promise<CloseIncidentResult | null> {
      const incident = incidents.get(id);
      if (!incident) return null;
      const closedNow = incident.status !== 'closed';
      if (closedNow) incidents.set(id, { ...incident, status: 'closed', closedAt, closedBy });
      const revoking: string[] = [];
      for (const grant of grantsOf(id)) {
        if (isLive(grant)) {
          grants.set(grant.id, { ...grant, state: 'revoking', revokeReason: 'incident_closed', revokeRequestedAt: closedAt });
        }
        if (grants.get(grant.id)?.state === 'revoking') {
          revoking.push(grant.id);
          enqueue(grant.id, closedAt);
        }
      }
      return { incident: copy(incidents.get(id) as Incident), closedNow, revoking };
    },

    async createGrantIntent(grant) {
      const incident = incidents.get(grant.incidentId);
      if (!incident) return 'incident_missing';
      if (incident.status !== 'open') return 'incident_closed';
      if (grants.has(grant.id)) throw new Error(`grant id ${JSON.stringify(grant.id)} already exists`);
      grants.set(grant.id, { ...copy(grant), state: 'issuing' });
      const ids = idsByIncident.get(grant.incidentId);
      if (ids) ids.push(grant.id);
      else idsByIncident.set(grant.incidentId, [grant.id]);
      const ofAgent = idsByAgent.get(grant.agent) ?? new Map<string, string[]>();
      idsByAgent.set(grant.agent, ofAgent);
      const agentIds = ofAgent.get(grant.incidentId);
      if (agentIds) agentIds.push(grant.id);
      else ofAgent.set(grant.incidentId, [grant.id]);
      return 'ok';
    },

    async commitGrant(id, input) {
      const grant = grants.get(id);
      if (!grant) return null;
      if (grant.state === 'issuing' || grant.state === 'revoking') {
        // A close that won the race keeps the grant revoking; the handle lets the worker revoke it.
        const state = grant.state === 'issuing' ? 'active' : 'revoking';
        grants.set(id, { ...grant, state, handle: copy(input.handle), expiresAt: input.expiresAt });
        if (state === 'revoking') enqueue(id, grant.revokeRequestedAt ?? 0);
      }
      return copy(grants.get(id) as Grant);
    },

    async failGrant(id, at, error) {
      const grant = grants.get(id);
      if (!grant) return null;
      if (grant.state === 'issuing') grants.set(id, { ...grant, state: 'failed', endedAt: at, lastError: error });
      return copy(grants.get(id) as Grant);
    },

    async getGrant(id) {
      const grant = grants.get(id);
      return grant ? copy(grant) : null;
    },

    async listGrantsByIncident(incidentId) {
      return grantsOf(incidentId).sort(byCreation).map(copy);
    },

    async listGrantsByAgent(agentId, options) {
      const ofAgent = idsByAgent.get(agentId);
      if (!ofAgent) return [];
      const ids = options?.incidentId === undefined ? [...ofAgent.values()].flat() : ofAgent.get(options.incidentId) ?? [];
      return ids.map((id) => grants.get(id) as Grant).sort(byCreation).map(copy);
    },

    async requestRevocation(id, reason, at) {
      const grant = grants.get(id);
      if (!grant) return null;
      if (isLive(grant)) {
        grants.set(id, { ...grant, state: 'revoking', revokeReason: reason, revokeRequestedAt: at });
      }
      if (grants.get(id)?.state === 'revoking') enqueue(id, at);
      return copy(grants.get(id) as Grant);
    },

    async expireGrants(now, limit) {
      const due = [...grants.values()]
        .filter((g) => g.state === 'active' && g.expiresAt <= now)
        .sort((a, b) => a.expiresAt - b.expiresAt || compareIds(a.id, b.id))
        .slice(0, Math.max(0, limit));
      for (const grant of due) grants.set(grant.id, { ...grant, state: 'expired', endedAt: grant.expiresAt });
      return due.map((g) => g.id);
    },

    async claimRevocations(now, max, leaseMs): Promise<RevocationJob[]> {
      const due = [...jobs.entries()]
        .filter(([, job]) => job.dueAt <= now)
        .sort(([a, x], [b, y]) => x.dueAt - y.dueAt || compareIds(a, b))
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
      jobs.set(id, { dueAt, attempts: job?.attempts ?? 0 });
    },

    async revocationQueueDepth() {
      return jobs.size;
    },

    async listClosingIncidents() {
      const closing = new Set<string>();
      for (const grant of grants.values()) {
        if (grant.state === 'revoking' && incidents.get(grant.incidentId)?.status === 'closed') closing.add(grant.incidentId);
      }
      return [...closing];
    },

    async appendAudit(event: AuditEventInput, options?: { readonly dedupeKey?: string }) {
      const earlier = options?.dedupeKey === undefined ? undefined : auditByDedupeKey.get(options.dedupeKey);
      if (earlier) return copy(earlier);
      seq += 1;
      const stored: AuditEvent = { seq, ...copy(event) };
      audit.push(stored);
      if (options?.dedupeKey !== undefined) auditByDedupeKey.set(options.dedupeKey, stored);
      return copy(stored);
    },

    async listAudit(query) {
      if (query.limit <= 0) return [];
      const after = query.afterSeq ?? -Infinity;
      const out: AuditEvent[] = [];
      for (const event of audit) {
        if (event.seq <= after) continue;
        if (query.incidentId !== undefined && event.incidentId !== query.incidentId) continue;
        out.push(copy(event));
        if (out.length >= query.limit) break;
      }
      return out;
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
