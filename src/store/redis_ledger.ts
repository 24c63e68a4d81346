/**
 * The incident ledger on Redis (store.ts IncidentLedger). Each operation on one incident is one Lua
 * script on that incident's keys (one hash slot, redis_keys.ts); global keys (grant index, expiry
 * set, closing set, the agent's incidents, the revocation queue) are written by separate commands,
 * in an order chosen so that a crash between two steps leaves something a later call or the
 * worker repairs, never a grant that silently escapes revocation. Each method's comment names its
 * order.
 */
import { TERMINAL_STATES, type Grant, type Incident, type RevokeReason } from '../model.js';
import { decodeGrant, encodeGrant, encodeHandle, encodeSubjects, execReplies, requireFinite, toStoredJson } from './redis_codec.js';
import { compareIds, markEnded, type RedisContext } from './redis_context.js';
import { Cluster } from 'ioredis';
import { evalInOrder, type Arg } from './redis_scripts.js';
import type { CreateGrantIntentResult, GrantQuota, IncidentLedger } from './store.js';

/** Newest first by openedAt, then by id (descending) for the same instant. */
const newestFirst = (a: Incident, b: Incident): number => b.openedAt - a.openedAt || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0);

/** Grants enqueued per script call when an incident closes. */
const ENQUEUE_CHUNK = 1000;

const chunksOf = <T>(items: readonly T[], size: number): T[][] =>
  Array.from({ length: Math.ceil(items.length / size) }, (_, i) => items.slice(i * size, (i + 1) * size));

/** Past the longest retention (retention.endedGrantsSeconds, ten years at most) and a day: the purge drops the index long before. */
const SUBJECT_INDEX_BACKSTOP_MS = (10 * 365 + 1) * 86_400_000;

export function createRedisLedger(ctx: RedisContext): IncidentLedger {
  const { redis, keys, s, incidentOf, remember, forget, decodeOrNull } = ctx;
  /** Into the close lane when an incident's close revokes it, the other lane for anything else. */
  const enqueue = (reason: RevokeReason | undefined, pairs: readonly (string | number)[]): Promise<unknown> =>
    reason === 'incident_closed'
      ? s.qmEnqueueRevocations(keys.revocationDueClose, keys.revocationDue, ...pairs)
      : s.qmEnqueueRevocations(keys.revocationDue, keys.revocationDueClose, ...pairs);
  /**
   * createGrantIntent (its order: the comment on createGrantIntent below), and with `readAfter` the register of
   * that key read right behind the intent's script: createGrantIntentAndRead.
   */
  async function writeIntent(
    grant: Grant,
    quota: GrantQuota | undefined,
    readAfter?: string,
  ): Promise<{ result: CreateGrantIntentResult; read?: PromiseSettledResult<string | null> }> {
    const incidentId = grant.incidentId;
    const indexKey = keys.grantIndex(grant.id);
    const agentLive = keys.agentLiveGrants(grant.agent);
    const now = requireFinite(quota?.now ?? 0, 'now');
    const expiresAt = requireFinite(grant.expiresAt, 'expiresAt');
    const sent = Promise.allSettled([
      redis.multi().zremrangebyscore(agentLive, '-inf', now).zadd(agentLive, expiresAt, grant.id).zcard(agentLive).exec(),
      redis.set(indexKey, incidentId, 'NX'),
      redis.sadd(keys.agentIncidents(grant.agent), incidentId),
      (readAfter === undefined ? s.qmCreateGrantIntent : (...args: Arg[]) => evalInOrder(redis, 'qmCreateGrantIntent', ...args))(
        keys.incident(incidentId),
        keys.grants(incidentId),
        keys.agentGrants(incidentId, grant.agent),
        keys.liveGrants(incidentId),
        grant.id,
        encodeGrant({ ...grant, state: 'issuing' }),
        now,
        quota?.perIncident ?? 0,
        expiresAt,
      ),
    ]);
    // Sent right after the script, on the same connection, before anything is awaited: Redis runs it after the intent.
    const reading = readAfter === undefined ? undefined : Promise.allSettled([redis.get(keys.register(readAfter))]);
    const [claimed, index, agentIncident, intent] = await sent;
    const read = reading === undefined ? undefined : (await reading)[0];
    const answer = (result: CreateGrantIntentResult) => (read ? { result, read } : { result });
    const giveBack = (): Promise<unknown> => redis.zrem(agentLive, grant.id);
    const written = intent.status === 'fulfilled' && intent.value === 'ok';
    const indexed = index.status === 'fulfilled' && index.value !== null;
    const takeBack = async (): Promise<void> => {
      if (written)
        await s.qmWithdrawIntent(keys.grants(incidentId), keys.agentGrants(incidentId, grant.agent), keys.liveGrants(incidentId), grant.id);
      if (indexed) await redis.del(indexKey);
    };
    let agentLiveCount: number;
    try {
      const failed = [claimed, index, agentIncident, intent].find((r) => r.status === 'rejected');
      if (failed) throw failed.reason;
      agentLiveCount = Number(execReplies((claimed as PromiseFulfilledResult<Parameters<typeof execReplies>[0]>).value)[2]);
    } catch (err) {
      await takeBack().catch(() => undefined);
      await giveBack().catch(() => undefined);
      throw err;
    }
    if (quota && quota.perAgent > 0 && agentLiveCount > quota.perAgent) {
      await takeBack();
      await giveBack();
      return answer('quota_agent');
    }
    const result = (intent as PromiseFulfilledResult<unknown>).value;
    if (!indexed && (await redis.get(indexKey)) !== incidentId) {
      if (result === 'ok')
        await redis
          .multi()
          .hdel(keys.grants(incidentId), grant.id)
          .srem(keys.agentGrants(incidentId, grant.agent), grant.id)
          .zrem(keys.liveGrants(incidentId), grant.id)
          .exec();
      await giveBack();
      throw new Error(`grant id ${JSON.stringify(grant.id)} already exists`);
    }
    if (result === 'ok') {
      remember(grant.id, incidentId);
      return answer('ok');
    }
    await giveBack();
    if (indexed) await redis.del(indexKey);
    if (result === 'incident_missing' || result === 'incident_closed' || result === 'quota_incident') return answer(result);
    throw new Error(`grant id ${JSON.stringify(grant.id)} already exists`);
  }

  return {
    // Order: the listing indexes (one slot, one MULTI) → SET NX. The indexes are supersets: an
    // entry whose incident was never stored (a crash in between, a refused SET) is skipped when
    // listed, and an incident closed after its entry is filtered by its stored status.
    async createIncident(incident) {
      const text = toStoredJson(incident);
      const openedAt = requireFinite(incident.openedAt, 'openedAt');
      const index = redis.multi().zadd(keys.incidentsOpened, 'NX', openedAt, incident.id);
      if (incident.status === 'open') index.zadd(keys.incidentsOpen, 'NX', openedAt, incident.id);
      await index.exec().then(execReplies);
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

    // Pages through the index newest first, reading each page's incidents, until `limit` match.
    async listIncidents(query) {
      const index = query.status === 'open' ? keys.incidentsOpen : keys.incidentsOpened;
      const found: Incident[] = [];
      const page = Math.max(16, query.limit);
      for (let offset = 0; found.length < query.limit; offset += page) {
        const ids = await redis.zrevrange(index, offset, offset + page - 1);
        if (ids.length === 0) break;
        const texts = await Promise.all(ids.map((id) => redis.get(keys.incident(id))));
        for (const text of texts) {
          if (text === null) continue;
          const incident = JSON.parse(text) as Incident;
          if (query.status === undefined || incident.status === query.status) found.push(incident);
        }
        if (ids.length < page) break;
      }
      return found.sort(newestFirst).slice(0, query.limit);
    },

    // Order: SADD closing → script (tombstone, flip live grants to revoking) → enqueue the jobs in the close lane.
    // A crash after the SADD leaves the incident listed by listClosingIncidents, and the worker's
    // startup re-runs this close, which enqueues whatever the crash skipped. Enqueueing keeps the
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
      await redis.zrem(keys.incidentsOpen, id);
      // In chunks: one call with every grant's pair would spread ~2 arguments per grant onto the
      // call stack, past what Node allows around 60 000 grants. Sent back to back (one pipeline).
      if (revoking.length > 0)
        await Promise.all(
          chunksOf(revoking, ENQUEUE_CHUNK).map((chunk) =>
            s.qmEnqueueRevocations(keys.revocationDueClose, keys.revocationDue, ...chunk.flatMap((g) => [closedAt, g])),
          ),
        );
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
    //
    // The agent's live grants span incidents (another slot): its place is claimed (ZADD, then
    // count) in the same round trip, and a refused or failed intent gives it back. Concurrent
    // claims may refuse one another at the limit, never exceed it; a place never given back ends
    // at its expiresAt. An intent written beside a claim over the agent's limit is taken back
    // (qmWithdrawIntent); one a close turned revoking meanwhile is left to the worker.
    createGrantIntent: async (grant, quota) => (await writeIntent(grant, quota)).result,

    // The register read goes out right behind the intent's script on the same connection, so Redis
    // runs it after the intent (the script by EVAL: evalInOrder). A cluster's nodes order nothing
    // between them: there the read waits for the intent's answer.
    async createGrantIntentAndRead(grant, quota, registerKey) {
      const inOrder = !(redis instanceof Cluster);
      const { result, read } = await writeIntent(grant, quota, inOrder ? registerKey : undefined);
      const register = read ?? (await Promise.allSettled([redis.get(keys.register(registerKey))]))[0];
      return register.status === 'fulfilled' ? { result, register: register.value } : { result, readError: register.reason };
    },

    // Order: ZADD expiry → script → (still revoking) enqueue the job. Expiry first: an active grant
    // missing from the expiry set would stay `active` forever; an extra entry is dropped by the
    // sweep. ZADD and script go out back to back (one round trip, run in order); should the ZADD
    // alone fail, it is retried before the commit is reported.
    async commitGrant(id, input) {
      const incidentId = await incidentOf(id);
      if (incidentId === null) return null;
      const expiresAt = requireFinite(input.expiresAt, 'expiresAt');
      const subjects = input.subjects ?? [];
      // The subject index is written beside the commit (other slots); purgeEndedGrants drops it
      // with the grant. Its expiry is only a backstop for an index whose commit failed.
      const indexSubjects = () =>
        Promise.all(subjects.map((subject) => redis.set(keys.subjectIndex(subject), id, 'PXAT', expiresAt + SUBJECT_INDEX_BACKSTOP_MS)));
      const [expiry, committed, indexed] = await Promise.allSettled([
        redis.zadd(keys.expiry, expiresAt, id),
        s.qmCommitGrant(keys.grants(incidentId), id, encodeHandle(input.handle), expiresAt, encodeSubjects(subjects)),
        indexSubjects(),
      ]);
      if (committed.status === 'rejected') {
        if (subjects.length > 0) await redis.del(...subjects.map((subject) => keys.subjectIndex(subject))).catch(() => undefined);
        throw committed.reason;
      }
      if (expiry.status === 'rejected') await redis.zadd(keys.expiry, expiresAt, id);
      if (indexed.status === 'rejected') await indexSubjects();
      const grant = decodeOrNull(id, incidentId, committed.value);
      if (grant?.state === 'revoking') await enqueue(grant.revokeReason, [grant.revokeRequestedAt ?? 0, id]);
      return grant;
    },

    // Order: ZADD ended → script, back to back (see markEnded).
    async failGrant(id, at, error) {
      const incidentId = await incidentOf(id);
      if (incidentId === null) return null;
      const failed = await markEnded(ctx, [[id, requireFinite(at, 'at')]], () =>
        s.qmFailGrant(keys.grants(incidentId), keys.liveGrants(incidentId), id, at, error),
      );
      const grant = decodeOrNull(id, incidentId, failed);
      if (grant?.state === 'failed') await redis.zrem(keys.agentLiveGrants(grant.agent), id);
      return grant;
    },

    async findGrantBySubject(subject) {
      return redis.get(keys.subjectIndex(subject));
    },

    async getGrant(id) {
      const incidentId = await incidentOf(id);
      if (incidentId === null) return null;
      return decodeOrNull(id, incidentId, await redis.hget(keys.grants(incidentId), id));
    },

    async listGrantsByAgent(agentId, options) {
      const incidents = options?.incidentId === undefined ? await redis.smembers(keys.agentIncidents(agentId)) : [options.incidentId];
      const perIncident = await Promise.all(
        incidents.map(async (incidentId) => {
          const flat = (await s.qmListAgentGrants(keys.grants(incidentId), keys.agentGrants(incidentId, agentId))) as string[];
          const grants: Grant[] = [];
          for (let i = 0; i + 1 < flat.length; i += 2) grants.push(decodeGrant(flat[i] as string, incidentId, flat[i + 1] as string));
          return grants;
        }),
      );
      return perIncident.flat().sort((a, b) => a.createdAt - b.createdAt || compareIds(a.id, b.id));
    },

    async listGrantsByIncident(incidentId) {
      const records = await redis.hgetall(keys.grants(incidentId));
      return Object.entries(records)
        .map(([id, raw]) => decodeGrant(id, incidentId, raw))
        .sort((a, b) => a.createdAt - b.createdAt || compareIds(a.id, b.id));
    },

    // Order: enqueue the job → script. The job is the durable record of the request: if the script
    // never runs, the worker still revokes the grant (or finds it ended and drops the job).
    // Enqueueing after the script instead could strand a revoking grant with no job, and callers
    // do not ask again for a grant that is already revoking. An ended grant gets no job.
    async requestRevocation(id, reason, at) {
      const incidentId = await incidentOf(id);
      if (incidentId === null) return null;
      const current = decodeOrNull(id, incidentId, await redis.hget(keys.grants(incidentId), id));
      if (current === null || TERMINAL_STATES.has(current.state)) return current;
      await enqueue(current.state === 'revoking' ? current.revokeReason : reason, [at, id]);
      return decodeOrNull(id, incidentId, await s.qmRequestRevocation(keys.grants(incidentId), id, reason, requireFinite(at, 'at')));
    },

    // Order: per incident, script (mark expired) → ZREM / re-score in the expiry set. A crash in
    // between leaves entries that the next sweep drops.
    async expireGrants(now, limit) {
      if (limit <= 0) return [];
      const scored = await redis.zrangebyscore(keys.expiry, '-inf', now, 'WITHSCORES', 'LIMIT', 0, limit);
      const ids = scored.filter((_, i) => i % 2 === 0);
      const expiresAt = new Map(ids.map((id, i) => [id, Number(scored[2 * i + 1])]));
      const byIncident = new Map<string, string[]>();
      const drop: string[] = [];
      await Promise.all(
        ids.map(async (id) => {
          const incidentId = await incidentOf(id);
          if (incidentId === null) drop.push(id);
          else byIncident.set(incidentId, [...(byIncident.get(incidentId) ?? []), id]);
        }),
      );
      const expired = new Set<string>();
      const keep: Array<string | number> = [];
      for (const [incidentId, group] of byIncident) {
        const verdicts = (await markEnded(
          ctx,
          group.map((id) => [id, expiresAt.get(id) ?? now] as const),
          () => s.qmExpireGrants(keys.grants(incidentId), now, ...group),
        )) as string[];
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

    // Order: script (forget the records, per incident) → DEL the grant indexes, SREM the agents'
    // closed incidents, ZREM the agents' live sets → ZREM ended. A crash anywhere leaves the grant
    // in the ended set; the next call finds it gone ('g') and finishes the rest.
    async purgeEndedGrants(endedBefore, limit) {
      if (limit <= 0) return 0;
      const ids = await redis.zrangebyscore(keys.ended, '-inf', requireFinite(endedBefore, 'endedBefore'), 'LIMIT', 0, limit);
      if (ids.length === 0) return 0;
      const byIncident = new Map<string, string[]>();
      const unindexed: string[] = [];
      for (const id of ids) {
        const incidentId = await incidentOf(id);
        if (incidentId === null) unindexed.push(id);
        else byIncident.set(incidentId, [...(byIncident.get(incidentId) ?? []), id]);
      }
      const done = [...unindexed];
      const later: Array<string | number> = [];
      let purged = 0;
      for (const [incidentId, group] of byIncident) {
        const records = await redis.hmget(keys.grants(incidentId), ...group);
        const decoded = group.map((id, i) => {
          const raw = records[i];
          return typeof raw === 'string' ? decodeGrant(id, incidentId, raw) : null;
        });
        const agentOf = decoded.map((grant) => grant?.agent ?? null);
        const agents = [...new Set(agentOf.filter((a): a is string => a !== null))];
        // A grant gone already needs no agent set; it points at the first (or a placeholder) unused.
        const agentKeys = (agents.length > 0 ? agents : ['']).map((agent) => keys.agentGrants(incidentId, agent));
        const args = group.flatMap((id, i) => [id, Math.max(1, agents.indexOf(agentOf[i] ?? '') + 1)]);
        const [closed, verdicts, emptied] = (await s.qmPurgeGrants(
          3 + agentKeys.length,
          keys.incident(incidentId),
          keys.grants(incidentId),
          keys.liveGrants(incidentId),
          ...agentKeys,
          endedBefore,
          ...args,
        )) as [number, string[], number[]];
        const forgotten: string[] = [];
        group.forEach((id, i) => {
          const verdict = verdicts[i];
          if (verdict === 'p' || verdict === 'g') forgotten.push(id);
          if (verdict === 'p') purged += 1;
          if (verdict === 'p' || verdict === 'g' || verdict === 'd') done.push(id);
          else if (verdict !== undefined) later.push(Number(verdict), id);
        });
        // Each its own command: the keys are in different slots (each grant index, each agent's).
        const followUps: Array<Promise<unknown>> = forgotten.map((id) => redis.del(keys.grantIndex(id)));
        const subjectKeys = decoded.flatMap((grant) =>
          grant !== null && forgotten.includes(grant.id) ? (grant.subjects ?? []).map((subject) => keys.subjectIndex(subject)) : [],
        );
        for (const key of subjectKeys) followUps.push(redis.del(key));
        if (forgotten.length > 0) for (const agent of agents) followUps.push(redis.zrem(keys.agentLiveGrants(agent), ...forgotten));
        // A closed incident takes no new intent, so an agent set left empty there stays empty.
        if (closed === 1)
          for (const index of emptied) followUps.push(redis.srem(keys.agentIncidents(agents[index - 1] as string), incidentId));
        await Promise.all(followUps);
        for (const id of forgotten) forget(id);
      }
      if (done.length > 0) await redis.zrem(keys.ended, ...done);
      if (later.length > 0) await redis.zadd(keys.ended, 'XX', ...later);
      return purged;
    },

    // The live set is the quota's (createGrantIntent): an entry leaves it when its grant ends.
    async countLiveGrants(incidentId, now) {
      return redis.zcount(keys.liveGrants(incidentId), `(${requireFinite(now, 'now')}`, '+inf');
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
  };
}
