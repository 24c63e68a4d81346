/**
 * Redis key names (docs/architecture.md "State"). Every key of one incident carries the hash tag
 * `{inc:<id>}`, so Redis Cluster puts them in one slot and one Lua script may touch them together
 * (https://redis.io/docs/latest/operate/oss_and_stack/reference/cluster-spec/#hash-tags).
 * The id is percent-encoded: a raw `}` in an incident id would end the tag early and scatter the
 * incident over several slots; a raw `{` could start a tag of the attacker's choosing.
 *
 * Global keys are grouped by the operation that must update them atomically: the queue and its
 * delivery counters share `{revq}` (claimed together by one script); the audit counter, log,
 * dedupe hashes, counted windows and the per-incident audit indexes share `{audit}`, so one script appends an event
 * to the log and to its incident's index together (a crash cannot leave one without the other).
 * The grant-id index is one small key per grant so it spreads over the cluster.
 */
export interface RedisKeys {
  /** Incident JSON. */
  incident(incidentId: string): string;
  /** Sorted sets: every incident's id, and the open ones', scored by openedAt (listIncidents). Supersets, written before the incident. */
  readonly incidentsOpened: string;
  readonly incidentsOpen: string;
  /** Hash: grant id → compact grant record (redis_codec.ts). */
  grants(incidentId: string): string;
  /** Set: ids of one agent's grants in the incident (in the incident's slot, written with the intent). */
  agentGrants(incidentId: string, agentId: string): string;
  /** Set: incidents an agent asked for grants in (its own slot; a superset: a refused intent may leave one). */
  agentIncidents(agentId: string): string;
  /** Sorted set: seqs of this incident's audit events (member and score), read from the log. In the `{audit}` slot, not the incident's. */
  incidentAudit(incidentId: string): string;
  /** String: a credential's subject (model.ts Grant.subjects) → its grant id (findGrantBySubject). One small key each. */
  subjectIndex(subject: string): string;
  /** Hash: a deviation window counter's counts by window index (countInWindow). One small key each. */
  window(name: string): string;
  /** String: grant id → incident id, so a grant is found by its id alone. */
  grantIndex(grantId: string): string;
  /** Sorted set: grant id scored by when its revocation job is due (or its lease ends). */
  readonly revocationDue: string;
  /** Sorted set: the same for the jobs of closed incidents, claimed before any other (a flood of releases never starves a close). */
  readonly revocationDueClose: string;
  /** Hash: grant id → deliveries of its revocation job. */
  readonly revocationAttempts: string;
  /** Sorted set: grant id scored by expiresAt (active grants, swept by expireGrants). */
  readonly expiry: string;
  /** Set: incident ids whose close may still have revoking grants. */
  readonly closing: string;
  /** Sorted set: grant id scored by when it ended (retention: purgeEndedGrants); a superset, written before the grant ends. */
  readonly ended: string;
  readonly auditSeq: string;
  /**
   * Hash: dedupe key → seq of the event appended with it, one per generation (`at` divided by the
   * retention) with an expiry, so keys are remembered between one and two retentions.
   */
  auditDedupe(retentionMs: number, generation: number): string;
  /** Hash: counted key → its open window (countAudit), and the sorted set of those keys by when their window ends. */
  readonly auditCounts: string;
  readonly auditCountsDue: string;
  /** Sorted set: every audit event, scored by seq. */
  readonly auditLog: string;
  /** String: the audit chain's sealed head (store.ts AuditChainHead, encodeChainHead). */
  readonly auditChainHead: string;
  /** Hash: seq → its chain link. */
  readonly auditLinks: string;
  /** Sorted set: signed checkpoint JWS, scored by seq. */
  readonly auditCheckpoints: string;
  /** String with a TTL: a claimOnce record (single-use agent tokens). One small key each, spread over the cluster. */
  claim(key: string): string;
  /** Hash with a TTL: a token bucket's tokens and when they were counted. One small key each. */
  bucket(name: string): string;
  /** String with a TTL: who holds the lock `name` (src/locks.ts), in the lock's own slot. */
  lockOwner(name: string): string;
  /** Sorted set: the incident's grants that have not ended, scored by expiresAt (the live-grant quota). */
  liveGrants(incidentId: string): string;
  /** Sorted set: one agent's grants in every incident that have not ended, scored by expiresAt. Its own slot. */
  agentLiveGrants(agentId: string): string;
  /** Set: the incidents of a namespace that have incident records. Slot `{rec:<namespace>}`. */
  recordIncidents(namespace: string): string;
  /** Set: one incident's records in a namespace; same slot as its index. */
  incidentRecords(namespace: string, incidentId: string): string;
  /** Counter: the fence of the lock `name`, incremented with every acquisition. */
  lockFence(name: string): string;
  /** String: a register (compareAndSetRegister). One small key each. */
  register(key: string): string;
  /** Webhook inbox, all in `{whk}`: deliveries (hash), their due times or lease ends (sorted set), deliveries so far (hash). */
  readonly inboxItems: string;
  readonly inboxDue: string;
  readonly inboxAttempts: string;
  /** Hash with expiry: the inbox's dedupe keys of one generation (now divided by the dedupe retention). */
  inboxSeen(retentionMs: number, generation: number): string;
  /** JSON: the store identity marker (store_meta.ts). Shares `{meta}` with the loss record. */
  readonly storeMarker: string;
  /** JSON: a detected, unacknowledged data loss. */
  readonly storeLoss: string;
}

/**
 * Key-safe and lossless: percent-encoding, and for text encodeURIComponent refuses (a lone UTF-16
 * surrogate, which JSON lets a token's `sub` carry) `%u` and the hex of every code unit — a form
 * percent-encoding never produces, so two ids never share a key.
 */
function enc(text: string): string {
  try {
    return encodeURIComponent(text);
  } catch {
    return `%u${[...Array(text.length).keys()].map((i) => text.charCodeAt(i).toString(16).padStart(4, '0')).join('')}`;
  }
}

export function createRedisKeys(prefix: string): RedisKeys {
  const tag = (incidentId: string): string => `${prefix}{inc:${enc(incidentId)}}`;
  return {
    incident: (id) => `${tag(id)}:incident`,
    grants: (id) => `${tag(id)}:grants`,
    incidentsOpened: `${prefix}{incidents}:opened`,
    incidentsOpen: `${prefix}{incidents}:open`,
    agentGrants: (id, agentId) => `${tag(id)}:agent:${enc(agentId)}`,
    agentIncidents: (agentId) => `${prefix}{agt:${enc(agentId)}}:incidents`,
    incidentAudit: (id) => `${prefix}{audit}:inc:${enc(id)}`,
    grantIndex: (grantId) => `${prefix}gi:${enc(grantId)}`,
    subjectIndex: (subject) => `${prefix}sx:${enc(subject)}`,
    window: (name) => `${prefix}win:${enc(name)}`,
    revocationDue: `${prefix}{revq}:due`,
    revocationDueClose: `${prefix}{revq}:due:close`,
    revocationAttempts: `${prefix}{revq}:attempts`,
    expiry: `${prefix}{expiry}`,
    closing: `${prefix}{closing}`,
    ended: `${prefix}{ended}`,
    auditSeq: `${prefix}{audit}:seq`,
    auditDedupe: (retentionMs, generation) => `${prefix}{audit}:dedupe:${retentionMs}:${generation}`,
    auditCounts: `${prefix}{audit}:counts`,
    auditCountsDue: `${prefix}{audit}:counts:due`,
    auditLog: `${prefix}{audit}:log`,
    auditChainHead: `${prefix}{audit}:chain:head`,
    auditLinks: `${prefix}{audit}:chain:links`,
    auditCheckpoints: `${prefix}{audit}:chain:checkpoints`,
    claim: (key) => `${prefix}once:${enc(key)}`,
    bucket: (name) => `${prefix}rl:${enc(name)}`,
    lockOwner: (name) => `${prefix}{lock:${enc(name)}}:owner`,
    liveGrants: (incidentId) => `${tag(incidentId)}:live`,
    agentLiveGrants: (agentId) => `${prefix}{agt:${enc(agentId)}}:live`,
    recordIncidents: (namespace) => `${prefix}{rec:${enc(namespace)}}:incidents`,
    incidentRecords: (namespace, incidentId) => `${prefix}{rec:${enc(namespace)}}:inc:${enc(incidentId)}`,
    lockFence: (name) => `${prefix}{lock:${enc(name)}}:fence`,
    register: (key) => `${prefix}reg:${enc(key)}`,
    inboxItems: `${prefix}{whk}:items`,
    inboxDue: `${prefix}{whk}:due`,
    inboxAttempts: `${prefix}{whk}:attempts`,
    inboxSeen: (retentionMs, generation) => `${prefix}{whk}:seen:${retentionMs}:${generation}`,
    storeMarker: `${prefix}{meta}:marker`,
    storeLoss: `${prefix}{meta}:loss`,
  };
}
