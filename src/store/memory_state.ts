/**
 * The records the memory store's ledger and queue share (memory_store.ts assembles the areas):
 * incidents, grants and their indexes, and revocation jobs. A close or a revocation request
 * enqueues as part of the ledger operation, and finishing a job ends its grant, so both areas
 * work on the same maps, synchronously (each method is atomic the way a Lua script is).
 *
 * Records go in and out as deep copies: a caller that mutates an object it passed or got back
 * cannot change the ledger behind the store's back.
 */
import type { Grant, Incident } from '../model.js';

export interface Job {
  /** When the job may be claimed: its due time, or the end of its current lease. */
  dueAt: number;
  /** Deliveries so far. */
  attempts: number;
  /** A closed incident's jobs are claimed before any other: a flood of releases never starves a close. */
  readonly lane: 'close' | 'other';
}

export interface MemoryState {
  readonly incidents: Map<string, Incident>;
  readonly grants: Map<string, Grant>;
  readonly jobs: Map<string, Job>;
  /** Grant ids by incident, in creation order (the Redis store's per-incident hash). */
  readonly idsByIncident: Map<string, string[]>;
  /** Agent → incident → grant ids (the Redis store's per-agent sets). */
  readonly idsByAgent: Map<string, Map<string, string[]>>;
  grantsOf(incidentId: string): Grant[];
  /** Enqueues a job due at `dueAt` in its lane, keeping an existing job's schedule (backoff or lease) and lane. */
  enqueue(grantId: string, dueAt: number, lane: Job['lane']): void;
}

/**
 * Deep copy of a record. Records hold JSON values only (strings, numbers, booleans, null, plain
 * objects and arrays), so a plain recursive copy does; it is ~7× cheaper than structuredClone
 * on a grant, and a grant passes through several copies per issue (docs/performance.md).
 */
export function copy<T>(value: T): T {
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

export const compareIds = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
export const byCreation = (a: Grant, b: Grant): number => a.createdAt - b.createdAt || compareIds(a.id, b.id);

export function createMemoryState(): MemoryState {
  const grants = new Map<string, Grant>();
  const jobs = new Map<string, Job>();
  const idsByIncident = new Map<string, string[]>();
  return {
    incidents: new Map(),
    grants,
    jobs,
    idsByIncident,
    idsByAgent: new Map(),
    grantsOf: (incidentId) => (idsByIncident.get(incidentId) ?? []).map((id) => grants.get(id) as Grant),
    enqueue(grantId, dueAt, lane) {
      // Keep an existing schedule: a job in backoff or under lease is not pulled forward.
      if (!jobs.has(grantId)) jobs.set(grantId, { dueAt, attempts: 0, lane });
    },
  };
}
