/**
 * The state port (docs/architecture.md "State"), in areas: the incident ledger, the revocation
 * queue, the audit log, and coordination (claims, locks); each area has its Redis and memory
 * implementation in its own file, and the shared contract suite has a file per area
 * (test/store/contract/). Operations are domain-shaped so each implementation can make
 * them atomic: the Redis store runs each per-incident operation as one Lua script on keys that
 * share the incident's hash tag; the memory store runs them synchronously.
 *
 * Guarantees every implementation must keep (checked by test/store/contract.ts):
 *  - createGrantIntent fails with `incident_closed` once closeIncident has run (no grant after the
 *    close tombstone), atomically with the incident's status check;
 *  - closeIncident is idempotent: it flips every issuing/active grant to revoking, enqueues every
 *    revoking grant of the incident (keeping an existing schedule), and returns them all;
 *  - commitGrant never resurrects a grant that a close flipped to revoking;
 *  - the revocation queue is at-least-once: a claimed job not completed within its lease is
 *    claimed again (a crashed worker loses nothing);
 *  - a lease renewal is fenced by the lease's end: it never re-queues a finished job, never moves
 *    a rescheduled job's backoff, and never extends a lease another worker has claimed since.
 */
import type {
  AuditEvent,
  AuditEventInput,
  AuditValue,
  Grant,
  GrantState,
  Incident,
  MajorMode,
  RevocationHandle,
  RevokeReason,
} from '../model.js';
import type { StoreMeta } from './store_meta.js';

/** What may change on an open incident; `agents: null` ends its assignment (every allowed agent may act). */
export type IncidentPatch = Partial<Pick<Incident, 'severity' | 'title'>> & {
  readonly agents?: readonly string[] | null;
  /** Adds a tier to the incident's tiersGranted (once): a grant of that tier was issued in it. */
  readonly tierGranted?: string;
  /** Starts (or replaces) major-incident mode. */
  readonly major?: MajorMode;
  /** Ends major-incident mode, only if it still ends at this instant (no end of a mode someone extended meanwhile). */
  readonly endMajorEndingAt?: number;
};

export type CreateGrantIntentResult = 'ok' | 'incident_missing' | 'incident_closed' | 'quota_incident' | 'quota_agent';

/** createGrantIntentAndRead's answer: the intent's result, and the register read after it. */
export type IntentAndRead =
  | { readonly result: CreateGrantIntentResult; readonly register: string | null }
  | { readonly result: CreateGrantIntentResult; readonly readError: unknown };

/**
 * Live-grant quotas checked atomically with an intent: grants of the incident, and of the agent
 * in every incident, that are issuing, active or revoking and whose expiresAt is after `now`.
 * 0 turns one off.
 */
export interface GrantQuota {
  readonly perIncident: number;
  readonly perAgent: number;
  readonly now: number;
}

export interface CloseIncidentResult {
  readonly incident: Incident;
  /** True when this call wrote the tombstone (false when it was already closed). */
  readonly closedNow: boolean;
  /** Ids of every grant of the incident that is revoking after the call. */
  readonly revoking: readonly string[];
}

export interface CommitGrantInput {
  readonly handle: RevocationHandle;
  readonly expiresAt: number;
  /** The credential's subjects (model.ts Grant.subjects), indexed so findGrantBySubject finds the grant. */
  readonly subjects?: readonly string[];
}

export interface RevocationJob {
  readonly grantId: string;
  /** Delivery count including this one. */
  readonly attempt: number;
  /**
   * When this delivery's lease ends (the claim's now + leaseMs). It is the job's fence: a renewal
   * naming it extends the lease only while the job is still held under exactly this lease.
   */
  readonly leasedUntil: number;
}

/** A lease a worker holds: the job and the end of the lease it was given (or last renewed to). */
export interface RevocationLease {
  readonly grantId: string;
  readonly leasedUntil: number;
}

export interface GrantFinish {
  readonly state: Extract<GrantState, 'revoked' | 'expired'>;
  readonly at: number;
  readonly confirmed: boolean;
}

export interface AuditQuery {
  readonly incidentId?: string;
  /** Return events with seq greater than this. */
  readonly afterSeq?: number;
  readonly limit: number;
}

/** Incidents and their grants: the ledger (redis_ledger.ts, memory_ledger.ts). */
export interface IncidentLedger {
  /** Creates the incident unless one with its id exists; returns the stored one either way. */
  createIncident(incident: Incident): Promise<{ readonly created: boolean; readonly incident: Incident }>;
  getIncident(id: string): Promise<Incident | null>;
  /**
   * Incidents newest first (by openedAt, then id), at most `limit`; with `status`, only the open
   * or the closed ones. Every incident createIncident stored is listed, from any replica, and its
   * status is the stored one.
   */
  listIncidents(query: { readonly status?: Incident['status']; readonly limit: number }): Promise<Incident[]>;
  /**
   * Changes an open incident's severity or title; a closed incident is final and is returned
   * unchanged (`updated: false`). Null when it does not exist.
   */
  updateIncident(id: string, patch: IncidentPatch): Promise<{ readonly incident: Incident; readonly updated: boolean } | null>;
  /** Null when the incident does not exist. See the guarantees above. */
  closeIncident(id: string, closedAt: number, closedBy: string): Promise<CloseIncidentResult | null>;

  /**
   * Records the grant (state `issuing`) if and only if its incident exists and is open and, with
   * `quota`, the incident and the agent hold fewer live grants than their quota (`quota_incident`
   * and `quota_agent` otherwise). Concurrent intents from any replica never exceed a quota.
   */
  createGrantIntent(grant: Grant, quota?: GrantQuota): Promise<CreateGrantIntentResult>;
  /**
   * createGrantIntent, then the register `registerKey` (getRegister) read after the intent is
   * written — in the same round trip where the store can order the two — so a register write that
   * completed before the intent was written is seen, and one after it finds the intent. A failed
   * read leaves the intent as it is: `readError` then says why, and the caller decides.
   */
  createGrantIntentAndRead(grant: Grant, quota: GrantQuota | undefined, registerKey: string): Promise<IntentAndRead>;
  /**
   * Stores the handle and expiry; `issuing` becomes `active`. A grant already `revoking` (its
   * incident closed meanwhile) keeps that state, gains the handle and is (re)enqueued.
   * Returns the grant after the update, or null if it does not exist.
   */
  commitGrant(id: string, input: CommitGrantInput): Promise<Grant | null>;
  /** The provider never issued it: `issuing` becomes `failed` (terminal). */
  failGrant(id: string, at: number, error: string): Promise<Grant | null>;
  getGrant(id: string): Promise<Grant | null>;
  listGrantsByIncident(incidentId: string): Promise<Grant[]>;
  /**
   * The id of the grant committed with `subject` among its subjects (CommitGrantInput.subjects),
   * until the grant is purged; null for a subject no grant has. Indexed when the commit resolves.
   */
  findGrantBySubject(subject: string): Promise<string | null>;
  /** One agent's grants, oldest first: in every incident, or in one (without reading the others' grants). */
  listGrantsByAgent(agentId: string, options?: { readonly incidentId?: string }): Promise<Grant[]>;
  /**
   * `active` (or `issuing`) becomes `revoking` with the reason, and the grant is enqueued due now.
   * Idempotent; returns the grant after the call (unchanged if already revoking or terminal).
   */
  requestRevocation(id: string, reason: RevokeReason, at: number): Promise<Grant | null>;
  /** Marks `active` grants whose expiresAt ≤ now as `expired`; returns their ids. */
  expireGrants(now: number, limit: number): Promise<string[]>;
  /** Grants of the incident that have not ended (issuing, active, revoking) and whose expiry is after `now`. O(log n). */
  countLiveGrants(incidentId: string, now: number): Promise<number>;
  /** Incidents that are closed and still have revoking grants; used on startup to re-enqueue. */
  listClosingIncidents(): Promise<string[]>;
  /**
   * Retention: forgets up to `limit` grants that ended (revoked, released, expired or failed) at or
   * before `endedBefore`, oldest first — their records and every index entry; their audit events
   * stay. A forgotten grant is unknown to getGrant and the lists. Once an agent has no grant left
   * in a closed incident, its list of incidents drops that one. Returns how many were forgotten
   * (fewer than `limit`: none older is left). Idempotent; concurrent calls never forget a grant
   * that had not ended.
   */
  purgeEndedGrants(endedBefore: number, limit: number): Promise<number>;
}

/**
 * The durable revocation queue (redis_queue.ts, memory_queue.ts). The ledger enqueues (a close, a
 * revocation request, a commit of a grant a close flipped); the worker claims, renews, finishes
 * and reschedules here.
 */
export interface RevocationQueue {
  /** Jobs due at `now`, leased until now + leaseMs (each job says so in `leasedUntil`). */
  claimRevocations(now: number, max: number, leaseMs: number): Promise<RevocationJob[]>;
  /**
   * Extends to `newUntil` the lease of every listed job that is still held under the listed lease
   * (the job is queued and still due exactly at that lease's end); returns their ids. Any other
   * job is left alone: a finished job stays finished (never re-queued), a rescheduled job keeps
   * its backoff, a job another worker claimed since keeps that worker's lease. Never shortens a
   * lease (a renewal with `newUntil` not after the lease's end leaves it as it is, and still
   * returns the id: the job is still held). One atomic step for the whole list.
   */
  renewRevocationLeases(leases: readonly RevocationLease[], newUntil: number): Promise<string[]>;
  /**
   * Terminal revocation outcome; removes the job. No-op on a grant already terminal. Returns the
   * grant when this call ended it; null when it is missing or had already ended (so a job
   * delivered twice is audited once).
   */
  finishRevocation(id: string, finish: GrantFinish): Promise<Grant | null>;
  /** Reschedules the job for `dueAt`, recording the attempt count and an error (no secrets). */
  retryRevocation(id: string, dueAt: number, error: string): Promise<void>;
  /** Jobs in the queue (leased or not); for metrics and tests. */
  revocationQueueDepth(): Promise<number>;
}

export interface AuditAppendOptions {
  /** Appends the event once per key (see appendAudit). */
  readonly dedupeKey?: string;
  /**
   * How long a dedupe key is remembered: at least this long after the event's `at`, at most
   * twice as long (keys are kept in generations of this length). Default DEFAULT_AUDIT_DEDUPE_MS.
   */
  readonly dedupeMs?: number;
}

/** Seven days: far beyond any retry of an at-least-once caller (a lease, a backoff, a repeated close). */
export const DEFAULT_AUDIT_DEDUPE_MS = 7 * 24 * 3600 * 1000;

/** How a repeating kind of event is counted instead of appended each time (AuditStore.countAudit). */
export interface AuditCountOptions {
  /** Events of one key are one kind: same type, actor, incident, reason (the caller composes it). */
  readonly key: string;
  readonly windowMs: number;
  /** The summary's data, beside `repeats` and `of`; secret-free like every event's. */
  readonly summary: Readonly<Record<string, AuditValue>>;
}

/** The audit log (redis_audit.ts, memory_audit.ts): one global order, deduplicated appends. */
export interface AuditStore {
  /**
   * Appends an event with the next seq. With a dedupeKey, an append whose key was already used
   * (within its retention, `dedupeMs`) returns the earlier event and appends nothing:
   * at-least-once callers (the revocation worker records before it finishes a grant) get each
   * event exactly once.
   */
  appendAudit(event: AuditEventInput, options?: AuditAppendOptions): Promise<AuditEvent>;
  /**
   * For events that may repeat at volume (refusals, introspections): the first event of `key` in
   * a window of `windowMs` from its `at` is appended and returned; later ones before the window
   * ends are only counted (null). The count becomes one summary event — the first's type, actor,
   * incident, profile and reason, `at` the last counted event's, data `{...summary, repeats, of}`
   * with `of` the first's seq — appended when flushAuditCounts finds the window over, or before
   * the next event of the key, whichever comes first. Shared by every replica: N brokers counting
   * one key append one first event and one summary per window.
   */
  countAudit(event: AuditEventInput, options: AuditCountOptions): Promise<AuditEvent | null>;
  /** Appends the summaries of up to `limit` windows that ended at or before `now`; returns how many windows it closed. */
  flushAuditCounts(now: number, limit: number): Promise<number>;
  listAudit(query: AuditQuery): Promise<AuditEvent[]>;
}

/** Where the audit hash chain has been sealed to (audit/sealer.ts): the last linked event and the last checkpoint. */
export interface AuditChainHead {
  /** The last seq whose link is stored (0: nothing sealed). */
  readonly seq: number;
  /** Its link (audit/chain.ts). */
  readonly hash: string;
  /** The seq of the last signed checkpoint (0: none yet), and when it was signed (ms). */
  readonly checkpointSeq: number;
  readonly checkpointAt: number;
}

/** The head as one string, fields in a fixed order: both stores compare heads by it. */
export const encodeChainHead = (head: AuditChainHead): string =>
  JSON.stringify([head.seq, head.hash, head.checkpointSeq, head.checkpointAt]);

export function decodeChainHead(text: string): AuditChainHead {
  const [seq, hash, checkpointSeq, checkpointAt] = JSON.parse(text) as [number, string, number, number];
  return { seq, hash, checkpointSeq, checkpointAt };
}

export interface AuditCheckpointRecord {
  readonly seq: number;
  /** The compact JWS (audit/checkpoints.ts). */
  readonly jws: string;
}

/**
 * The audit chain's links and checkpoints (redis_audit.ts, memory_audit.ts), beside the log in
 * the same slot. Links are written by the sealer after the events, never by the append, so an
 * append stays one round trip; `sealAudit` moves the head only from where the caller read it, so
 * sealers on several replicas never fork the chain.
 */
export interface AuditChainStore {
  getAuditChainHead(): Promise<AuditChainHead | null>;
  /**
   * Stores `links` (seq → link, the seqs right after `expected`'s), the new head and, if given, a
   * checkpoint, atomically, if the head is still `expected` (null: nothing sealed yet). False,
   * writing nothing, when another sealer moved it first.
   */
  sealAudit(
    expected: AuditChainHead | null,
    links: readonly { readonly seq: number; readonly hash: string }[],
    head: AuditChainHead,
    checkpoint?: AuditCheckpointRecord,
  ): Promise<boolean>;
  /** The stored links of seqs `from` to `to` (inclusive), by seq; a seq without one is absent. */
  getAuditLinks(from: number, to: number): Promise<Map<number, string>>;
  /** Checkpoints with seq above `afterSeq`, oldest first. */
  listAuditCheckpoints(afterSeq: number, limit: number): Promise<AuditCheckpointRecord[]>;
  /** The last seq the log has handed out (its counter): the log must reach it. */
  lastAuditSeq(): Promise<number>;
}

/** What replicas coordinate through (redis_coordination.ts, memory_coordination.ts): one-time claims and leased locks. */
export interface CoordinationStore {
  /**
   * Records `key` unless it is already recorded; true when this call recorded it. Of concurrent
   * claims of one key — from any replica — exactly one wins. The record lives until `expiresAt`
   * (`expiresAt - now` ms by the caller's clock, at least 1 ms), then the key may be claimed again.
   * Backs single-use agent tokens (grants/steps/claim_single_use.ts).
   */
  claimOnce(key: string, expiresAt: number, now: number): Promise<boolean>;

  /**
   * Leased locks shared by every replica (src/locks.ts). `acquireLock` takes the lock unless
   * another owner holds an unexpired lease, and returns its fence: a number that grows with every
   * acquisition of that name, by anyone. `renewLock` extends and `releaseLock` ends a lease, each
   * only while `owner` still holds it. `now` is the caller's clock (the memory store's; Redis
   * counts the lease itself).
   */
  acquireLock(name: string, owner: string, leaseMs: number, now: number): Promise<number | null>;
  /**
   * Takes one token from the bucket `name` (capacity `burst`, refilled at `perSecond`), shared
   * by every replica; a bucket nobody used is full. Returns 0 when a token was taken, else the
   * milliseconds until one will be there. Times are the caller's clock, so replicas agree only as
   * far as their clocks do.
   */
  takeToken(name: string, burst: number, perSecond: number, now: number): Promise<number>;
  /**
   * Counts `by` (default 1) occurrences of `name` at `now` and answers how many occurred in the `windowMs`
   * before it, shared by every replica: a sliding window estimated from two fixed ones (the
   * current window's count plus the previous one's, weighted by how much of it still overlaps),
   * so a burst across a window boundary is still seen. Deviation detectors count with it
   * (src/deviation/detectors.ts). Times are the caller's clock.
   */
  countInWindow(name: string, windowMs: number, now: number, by?: number): Promise<number>;
  renewLock(name: string, owner: string, leaseMs: number, now: number): Promise<boolean>;
  releaseLock(name: string, owner: string): Promise<void>;

  /**
   * Incident records: small non-secret values a provider keeps per incident in the shared store
   * (src/incident_records.ts; Vault's parent-token accessors), under a namespace (the provider's
   * name). `addIncidentRecord` is durable once it resolves. `listIncidentRecords` answers every
   * incident of the namespace that has records, with them; with `incidentId`, that incident only.
   * `removeIncidentRecords` drops the listed values, and the incident once none is left. Each is
   * one atomic step: concurrent adds and removes never lose a value nobody removed.
   */
  addIncidentRecord(namespace: string, incidentId: string, value: string): Promise<void>;
  listIncidentRecords(namespace: string, incidentId?: string): Promise<IncidentRecordSet[]>;
  removeIncidentRecords(namespace: string, incidentId: string, values: readonly string[]): Promise<void>;

  /**
   * Registers: a small value per key (a webhook source incident's state: its epoch, its times),
   * changed only by compare-and-set, so concurrent writers on any replica never lose an update:
   * `compareAndSetRegister` writes `value` only while the register holds `expected` (null: absent)
   * and says whether it did. Durable once it resolves.
   */
  getRegister(key: string): Promise<string | null>;
  compareAndSetRegister(key: string, expected: string | null, value: string): Promise<boolean>;
}

/**
 * The sliding-window count countInWindow answers: the current fixed window's count, plus the
 * previous window's weighted by the part of it the sliding window still covers. Shared by both stores.
 */
export function windowEstimate(current: number, previous: number, now: number, windowMs: number): number {
  const overlap = 1 - (now - Math.floor(now / windowMs) * windowMs) / windowMs;
  return current + previous * overlap;
}

/** A verified, mapped webhook delivery waiting to be applied (src/webhooks/). JSON values only. */
export interface InboxDelivery {
  readonly source: string;
  /** The sender's delivery id (X-Webhook-Id, webhook-id): with `source`, the dedupe key. */
  readonly deliveryId: string;
  /** The source's own event id, when it has one: a second dedupe key (PagerDuty `event.id`). */
  readonly eventId?: string;
  readonly receivedAt: number;
  /** The mapped event (src/webhooks/sources/event.ts IncidentEvent). */
  readonly event: Readonly<Record<string, unknown>>;
}

export interface InboxClaim {
  readonly delivery: InboxDelivery;
  /** Deliveries of it to a processor, this one included. */
  readonly attempt: number;
}

/**
 * The durable webhook inbox (redis_inbox.ts, memory_inbox.ts): a receiver answers 2xx only after
 * `recordDelivery` resolved, and processors on any replica claim, apply and finish deliveries,
 * at least once (a claimed delivery not finished within its lease is claimed again).
 */
export interface WebhookInbox {
  /**
   * Records the delivery unless one with the same (source, deliveryId), or the same (source,
   * eventId), was recorded within `dedupeMs` of `now`: then 'duplicate' and nothing changes.
   * Concurrent records of one key from any replica: exactly one is 'recorded'.
   */
  recordDelivery(delivery: InboxDelivery, options: { readonly dedupeMs: number; readonly now: number }): Promise<'recorded' | 'duplicate'>;
  /** Up to `max` deliveries due at `now`, oldest first, leased until now + leaseMs. */
  claimDeliveries(now: number, max: number, leaseMs: number): Promise<InboxClaim[]>;
  /** Applied (or dropped for good): removed from the inbox. Idempotent. */
  finishDelivery(source: string, deliveryId: string): Promise<void>;
  /** Due again at `dueAt` (a failed apply); no-op for a finished delivery. */
  retryDelivery(source: string, deliveryId: string, dueAt: number): Promise<void>;
  /** Deliveries not yet finished; for metrics and tests. */
  inboxDepth(): Promise<number>;
}

export interface IncidentRecordSet {
  readonly incidentId: string;
  readonly values: readonly string[];
}

/** The whole state port: its areas, plus what the store is and whether it answers. */
export interface Store extends IncidentLedger, RevocationQueue, AuditStore, AuditChainStore, CoordinationStore, WebhookInbox {
  readonly kind: 'memory' | 'redis';
  /** Persistence and the identity marker (store_meta.ts); never refused by the integrity guard. */
  readonly meta: StoreMeta;
  /** Throws if the store cannot serve requests (readiness). */
  ping(): Promise<void>;
  close(): Promise<void>;
}
