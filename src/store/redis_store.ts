/**
 * The Redis store (docs/architecture.md "State"): shared by every broker replica, survives broker restarts.
 *
 * Each operation on one incident is one Lua script on that incident's keys (one hash slot, see
 * redis_keys.ts); global keys (grant index, revocation queue, expiry set, closing set, audit log)
 * are written by separate commands, in an order chosen so that a crash between two steps leaves
 * something a later call or the worker repairs, never a grant that silently escapes revocation.
 * Each method's comment names its order.
 *
 * Connection loss makes operations reject quickly (no offline queue, few retries) so callers can
 * answer 503 instead of hanging; ioredis keeps reconnecting in the background.
 * docs/security.md §3: Redis replication is asynchronous; run it with AOF and keep workers idempotent.
 */
import { Redis } from 'ioredis';
import { describeCause } from '../errors.js';
import { TERMINAL_STATES, type AuditEvent, type Grant, type Incident } from '../model.js';
import { decodeGrant, encodeGrant, encodeHandle, requireFinite, toStoredJson } from './redis_codec.js';
import { redisAddress, watchConnection, type StoreLogger } from './redis_connection.js';
import { createRedisKeys } from './redis_keys.js';
import { createRedisMeta } from './redis_meta.js';
import { defineScripts } from './redis_scripts.js';
import type { RevocationJob, Store } from './store.js';

export interface RedisStoreOptions {
  readonly url: string;
  readonly password?: string;
  /** Prepended to every key; must not contain `{` or `}` (it would break the hash tags). */
  readonly keyPrefix: string;
  readonly logger?: StoreLogger;
}

const compareIds = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
/** Grant id → incident entries kept in-process; ~100 B each, so a few MB at most. */
const INCIDENT_CACHE_ENTRIES = 50_000;

export async function createRedisStore(opts: RedisStoreOptions): Promise<Store> {
  if (/[{}]/.test(opts.keyPrefix)) throw new Error('redis keyPrefix must not contain { or }');
  const redis = new Redis(opts.url, {
    lazyConnect: true,
    // Fail fast while Redis is away: a queued request would hold an HTTP request open instead of
    // letting it answer 503, and could run long after its caller gave up.
    enableOfflineQueue: false,
    maxRetriesPerRequest: 2,
    ...(opts.password !== undefined ? { password: opts.password } : {}),
  });
  // The watch is also ioredis's error listener (without one it prints errors to the console).
  const address = redisAddress(opts.url);
  const connection = watchConnection(redis, address, opts.logger);
  try {
    await redis.connect();
  } catch (err) {
    redis.disconnect();
    // ioredis's own message is only "Connection is closed."; say which Redis and why.
    throw new Error(`cannot connect to Redis at ${address}: ${describeCause(connection.lastError() ?? err)}`, { cause: err });
  }

  const keys = createRedisKeys(opts.keyPrefix);
  const s = defineScripts(redis);
  // A grant's incident never changes once its intent exists, so the id → incident index is cached
  // in-process (bounded, oldest out): the commit right after an intent, and most reads, skip a
  // round trip (docs/performance.md, S1 on Redis).
  const incidentById = new Map<string, string>();
  const remember = (grantId: string, incidentId: string): void => {
    if (incidentById.size >= INCIDENT_CACHE_ENTRIES) incidentById.delete(incidentById.keys().next().value as string);
    incidentById.set(grantId, incidentId);
  };
  const incidentOf = async (grantId: string): Promise<string | null> => {
    const cached = incidentById.get(grantId);
    if (cached !== undefined) return cached;
    const incidentId = await redis.get(keys.grantIndex(grantId));
    if (incidentId !== null) remember(grantId, incidentId);
    return incidentId;
  };
  const decodeOrNull = (id: string, incidentId: string, raw: unknown): Grant | null =>
    typeof raw === 'string' ? decodeGrant(id, incidentId, raw) : null;

  return {
    kind: 'redis',
    meta: createRedisMeta(redis, keys, s, connection.onConnectionChange),

    async ping() {
      await redis.ping();
    },

    async close() {
      if (redis.status === 'end') return;
      // quit() lets in-flight replies arrive; when the connection is already gone it rejects.
      await redis.quit().catch(() => redis.disconnect());
    },

    async createIncident(incident) {
      const text = toStoredJson(incident);
      if (await redis.set(keys.incident(incident.id), text, 'NX')) return { created: true, incident: JSON.parse(text) as Incident };
      const existing = await redis.get(keys.incident(incident.id));
      if (existing === null) throw new Error('incident vanished after SET NX refused it');
      return { created: false, incident: JSON.parse(existing) as Incident };
    },

    async updateIncident(id, patch) {
      const reply = (await s.qmUpdateIncident(keys.incident(id), JSON.stringify(patch))) as [string, number] | null;
      return reply === null ? null : { incident: JSON.parse(reply[0]) as Incident, updated: reply[1] === 1 };
    },

    async getIncident(id) {
      const text = await redis.get(keys.incident(id));
      return text === null ? null : (JSON.parse(text) as Incident);
    },

    // Order: SADD closing → script (tombstone, flip live grants to revoking) → ZADD NX jobs.
    // A crash after the SADD leaves the incident listed by listClosingIncidents, and the worker's
    // startup re-runs this close, which enqueues whatever the crash skipped. NX keeps the
    // schedule of jobs already in backoff. Once nothing is revoking the incident leaves the set:
    // after a close no grant can become revoking again (no new intents, none left active).
    async closeIncident(id, closedAt, closedBy) {
      await redis.sadd(keys.closing, id);
      const reply = await s.qmCloseIncident(keys.incident(id), keys.grants(id), requireFinite(closedAt, 'closedAt'), closedBy);
      if (reply === null) {
        await redis.srem(keys.closing, id);
        return null;
      }
      const [incidentText, closedNow, revoking] = reply as [string, number, string[]];
      if (revoking.length > 0) await redis.zadd(keys.revocationDue, 'NX', ...revoking.flatMap((g) => [closedAt, g]));
      else await redis.srem(keys.closing, id);
      return { incident: JSON.parse(incidentText) as Incident, closedNow: closedNow === 1, revoking };
    },

    // Order: index (SET NX) → script, sent back to back (one round trip; Redis runs them in order).
    // The index comes first so a stored grant is always findable by id; a refused intent removes
    // the index it wrote. A grant id is 128 random bits, so an index held by another incident
    // means a bug or tampering: the intent just written is taken back and the call fails.
    // The agent's incident set is written first too (a superset is harmless: an incident listed
    // there with none of the agent's grants lists nothing); the agent's per-incident set is written
    // by the script itself, atomically with the grant.
    async createGrantIntent(grant) {
      const incidentId = grant.incidentId;
      const indexKey = keys.grantIndex(grant.id);
      const [indexReply, , result] = await Promise.all([
        redis.set(indexKey, incidentId, 'NX'),
        redis.sadd(keys.agentIncidents(grant.agent), incidentId),
        s.qmCreateGrantIntent(keys.incident(incidentId), keys.grants(incidentId), keys.agentGrants(incidentId, grant.agent), grant.id, encodeGrant({ ...grant, state: 'issuing' })),
      ]);
      const indexed = indexReply !== null;
      if (!indexed && (await redis.get(indexKey)) !== incidentId) {
        if (result === 'ok') await redis.multi().hdel(keys.grants(incidentId), grant.id).srem(keys.agentGrants(incidentId, grant.agent), grant.id).exec();
        throw new Error(`grant id ${JSON.stringify(grant.id)} already exists`);
      }
      if (result === 'ok') {
        remember(grant.id, incidentId);
        return 'ok';
      }
      if (indexed) await redis.del(indexKey);
      if (result === 'incident_missing' || result === 'incident_closed') return result;
      throw new Error(`grant id ${JSON.stringify(grant.id)} already exists`);
    },

    // Order: ZADD expiry → script → (still revoking) ZADD NX job. Expiry first: an active grant
    // missing from the expiry set would stay `active` forever; an extra entry is dropped by the
    // sweep. ZADD and script go out back to back (one round trip, run in order); should the ZADD
    // alone fail, it is retried before the commit is reported.
    async commitGrant(id, input) {
      const incidentId = await incidentOf(id);
      if (incidentId === null) return null;
      const expiresAt = requireFinite(input.expiresAt, 'expiresAt');
      const [expiry, committed] = await Promise.allSettled([
        redis.zadd(keys.expiry, expiresAt, id),
        s.qmCommitGrant(keys.grants(incidentId), id, encodeHandle(input.handle), expiresAt),
      ]);
      if (committed.status === 'rejected') throw committed.reason;
      if (expiry.status === 'rejected') await redis.zadd(keys.expiry, expiresAt, id);
      const grant = decodeOrNull(id, incidentId, committed.value);
      if (grant?.state === 'revoking') await redis.zadd(keys.revocationDue, 'NX', grant.revokeRequestedAt ?? 0, id);
      return grant;
    },

    async failGrant(id, at, error) {
      const incidentId = await incidentOf(id);
      if (incidentId === null) return null;
      return decodeOrNull(id, incidentId, await s.qmFailGrant(keys.grants(incidentId), id, requireFinite(at, 'at'), error));
    },

    async getGrant(id) {
      const incidentId = await incidentOf(id);
      if (incidentId === null) return null;
      return decodeOrNull(id, incidentId, await redis.hget(keys.grants(incidentId), id));
    },

    async listGrantsByAgent(agentId, options) {
      const incidents = options?.incidentId === undefined ? await redis.smembers(keys.agentIncidents(agentId)) : [options.incidentId];
      const perIncident = await Promise.all(incidents.map(async (incidentId) => {
        const flat = (await s.qmListAgentGrants(keys.grants(incidentId), keys.agentGrants(incidentId, agentId))) as string[];
        const grants: Grant[] = [];
        for (let i = 0; i + 1 < flat.length; i += 2) grants.push(decodeGrant(flat[i] as string, incidentId, flat[i + 1] as string));
        return grants;
      }));
      return perIncident.flat().sort((a, b) => a.createdAt - b.createdAt || compareIds(a.id, b.id));
    },

    async listGrantsByIncident(incidentId) {
      const records = await redis.hgetall(keys.grants(incidentId));
      return Object.entries(records)
        .map(([id, raw]) => decodeGrant(id, incidentId, raw))
        .sort((a, b) => a.createdAt - b.createdAt || compareIds(a.id, b.id));
    },

    // Order: ZADD NX job → script. The job is the durable record of the request: if the script
    // never runs, the worker still revokes the grant (or finds it ended and drops the job).
    // Enqueueing after the script instead could strand a revoking grant with no job, and callers
    // do not ask again for a grant that is already revoking. An ended grant gets no job.
    async requestRevocation(id, reason, at) {
      const incidentId = await incidentOf(id);
      if (incidentId === null) return null;
      const current = decodeOrNull(id, incidentId, await redis.hget(keys.grants(incidentId), id));
      if (current === null || TERMINAL_STATES.has(current.state)) return current;
      await redis.zadd(keys.revocationDue, 'NX', at, id);
      return decodeOrNull(id, incidentId, await s.qmRequestRevocation(keys.grants(incidentId), id, reason, requireFinite(at, 'at')));
    },

    // Order: per incident, script (mark expired) → ZREM / re-score in the expiry set. A crash in
    // between leaves entries that the next sweep drops.
    async expireGrants(now, limit) {
      if (limit <= 0) return [];
      const ids = await redis.zrangebyscore(keys.expiry, '-inf', now, 'LIMIT', 0, limit);
      const byIncident = new Map<string, string[]>();
      const drop: string[] = [];
      await Promise.all(ids.map(async (id) => {
        const incidentId = await incidentOf(id);
        if (incidentId === null) drop.push(id);
        else byIncident.set(incidentId, [...(byIncident.get(incidentId) ?? []), id]);
      }));
      const expired = new Set<string>();
      const keep: Array<string | number> = [];
      for (const [incidentId, group] of byIncident) {
        const verdicts = (await s.qmExpireGrants(keys.grants(incidentId), now, ...group)) as string[];
        group.forEach((id, i) => {
          const verdict = verdicts[i];
          if (verdict === 'x') expired.add(id);
          else if (verdict === 'd' || verdict === undefined) drop.push(id);
          else keep.push(Number(verdict), id);
        });
      }
      const gone = [...expired, ...drop];
      if (gone.length > 0) await redis.zrem(keys.expiry, ...gone);
      if (keep.length > 0) await redis.zadd(keys.expiry, 'XX', ...keep);
      return ids.filter((id) => expired.has(id));
    },

    async claimRevocations(now, max, leaseMs) {
      if (max <= 0) return [];
      const leasedUntil = requireFinite(now, 'now') + requireFinite(leaseMs, 'leaseMs');
      const flat = (await s.qmClaimRevocations(keys.revocationDue, keys.revocationAttempts, now, max, leasedUntil)) as Array<string | number>;
      const jobs: RevocationJob[] = [];
      for (let i = 0; i + 1 < flat.length; i += 2) jobs.push({ grantId: String(flat[i]), attempt: Number(flat[i + 1]), leasedUntil });
      return jobs;
    },

    // One script on the {revq} queue: the fence (score still equals the lease's end) and the
    // extension are one atomic step, so a finish, retry or re-claim in between cannot be undone.
    async renewRevocationLeases(leases, newUntil) {
      if (leases.length === 0) return [];
      const args = leases.flatMap((l) => [l.grantId, requireFinite(l.leasedUntil, 'leasedUntil')]);
      return (await s.qmRenewRevocationLeases(keys.revocationDue, requireFinite(newUntil, 'newUntil'), ...args)) as string[];
    },

    // Order: script (grant terminal) → remove job. A crash in between leaves a job that is
    // claimed again, finds the grant ended, and is removed by this call's no-op repeat.
    async finishRevocation(id, finish) {
      const incidentId = await incidentOf(id);
      const attempts = await redis.hget(keys.revocationAttempts, id);
      const reply = incidentId === null
        ? null
        : ((await s.qmFinishRevocation(keys.grants(incidentId), id, finish.state, requireFinite(finish.at, 'at'), finish.confirmed ? 1 : 0, attempts ?? '')) as [number, string] | null);
      await redis.multi().zrem(keys.revocationDue, id).hdel(keys.revocationAttempts, id).exec();
      return reply !== null && incidentId !== null && reply[0] === 1 ? decodeGrant(id, incidentId, reply[1]) : null;
    },

    // Order: script (error, attempts; only while revoking) → re-score. A crash in between leaves
    // the job under its lease; it is claimed again when the lease ends.
    async retryRevocation(id, dueAt, error) {
      const incidentId = await incidentOf(id);
      if (incidentId === null) return;
      const attempts = await redis.hget(keys.revocationAttempts, id);
      const revoking = await s.qmRetryRevocation(keys.grants(incidentId), id, error, attempts ?? '');
      if (revoking === 1) await redis.zadd(keys.revocationDue, dueAt, id);
    },

    async revocationQueueDepth() {
      return redis.zcard(keys.revocationDue);
    },

    // A superset is fine for callers (re-closing is idempotent); entries whose close finished are
    // dropped here. An incident still open stays listed-but-unreturned: its close may be running.
    async listClosingIncidents() {
      const ids = await redis.smembers(keys.closing);
      const counts = await Promise.all(ids.map((id) => s.qmCountRevoking(keys.incident(id), keys.grants(id)) as Promise<number>));
      const done = ids.filter((_, i) => counts[i] === -1 || counts[i] === 0);
      if (done.length > 0) await redis.srem(keys.closing, ...done);
      return ids.filter((_, i) => (counts[i] ?? 0) > 0);
    },

    // One script appends to the global log and, for an incident's event, its seq to the
    // incident's index (both in the {audit} slot), deduplicated by the caller's key.
    async appendAudit(event, options) {
      const incidentIndex = keys.incidentAudit(event.incidentId ?? '');
      const text = (await s.qmAppendAudit(keys.auditSeq, keys.auditLog, keys.auditDedupe, incidentIndex, JSON.stringify(event), options?.dedupeKey ?? '', event.incidentId === undefined ? '0' : '1')) as string;
      return JSON.parse(text) as AuditEvent;
    },

    async listAudit(query) {
      if (query.limit <= 0) return [];
      const min = query.afterSeq === undefined ? '-inf' : `(${query.afterSeq}`;
      const rows = query.incidentId === undefined
        ? await redis.zrangebyscore(keys.auditLog, min, '+inf', 'LIMIT', 0, query.limit)
        : (await s.qmListIncidentAudit(keys.incidentAudit(query.incidentId), keys.auditLog, min, query.limit)) as string[];
      return rows.map((row) => JSON.parse(row) as AuditEvent);
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

    // SET NX PX: the check and the write are one atomic command. The TTL is relative to the
    // caller's clock so replicas agree with the verifier on when a token stops being accepted.
    async claimOnce(key, expiresAt, now) {
      const ttlMs = Math.max(1, Math.ceil(requireFinite(expiresAt, 'expiresAt') - requireFinite(now, 'now')));
      return (await redis.set(keys.claim(key), '1', 'PX', ttlMs, 'NX')) === 'OK';
    },
  };
}
