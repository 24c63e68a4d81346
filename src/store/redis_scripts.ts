/**
 * The Lua scripts behind every atomic store operation. Each script touches either the keys of one
 * incident (one hash tag, redis_keys.ts) or the keys of one global group, never both, so each runs
 * on a single Redis Cluster slot; redis_store.ts orders the steps between groups so that a crash
 * between two of them loses nothing. Scripts see grants in the compact form of redis_codec.ts
 * (s state, e expiresAt, h handle text, r reason, q revokeRequestedAt, n endedAt, k attempts,
 * f confirmed, x lastError).
 */
import type { RedisClient } from './redis_connection.js';

export type Arg = string | number;

/** Scripts on one incident's keys. */
const INCIDENT_SCRIPTS = {
  // KEYS incident, grants, the agent's grants of the incident, the incident's live set. ARGV grant
  // id, record, now, the incident's quota (0: none), expiresAt. Intent only while the incident is
  // open (guarantee 3) and under its live-grant quota: the checks and the writes are one atomic
  // step. The live set holds the incident's grants scored by expiresAt until they end.
  qmCreateGrantIntent: [
    4,
    `
local raw = redis.call('GET', KEYS[1])
if not raw then return 'incident_missing' end
if cjson.decode(raw).status ~= 'open' then return 'incident_closed' end
local now = tonumber(ARGV[3])
local quota = tonumber(ARGV[4])
if quota > 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[4], '-inf', now)
  if redis.call('ZCARD', KEYS[4]) >= quota then return 'quota_incident' end
end
if redis.call('HSETNX', KEYS[2], ARGV[1], ARGV[2]) == 0 then return 'duplicate' end
redis.call('SADD', KEYS[3], ARGV[1])
redis.call('ZADD', KEYS[4], ARGV[5], ARGV[1])
return 'ok'`,
  ],

  // KEYS grants, the agent's grants in the incident, the incident's live grants. ARGV id. Takes
  // back an intent refused after it was written (the agent's quota, claimed beside it): removed
  // while still issuing; one a close already turned revoking is kept for the worker, which ends
  // an intent that never got a handle. Returns 'withdrawn', 'kept' or 'gone'.
  qmWithdrawIntent: [
    3,
    `
local raw = redis.call('HGET', KEYS[1], ARGV[1])
if not raw then return 'gone' end
if cjson.decode(raw).s ~= 'issuing' then return 'kept' end
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('SREM', KEYS[2], ARGV[1])
redis.call('ZREM', KEYS[3], ARGV[1])
return 'withdrawn'`,
  ],

  // KEYS grants, the agent's grants of the incident. {id, record, id, record…} of the agent's
  // grants there: one incident's share of an agent's grants without reading the whole incident.
  qmListAgentGrants: [
    2,
    `
local ids = redis.call('SMEMBERS', KEYS[2])
local out = {}
for _, id in ipairs(ids) do
  local raw = redis.call('HGET', KEYS[1], id)
  if raw then out[#out + 1] = id; out[#out + 1] = raw end
end
return out`,
  ],

  // KEYS incident. ARGV patch JSON (severity, title, agents; agents null removes them; a list is
  // never empty, so cjson cannot turn it into an object). Changes an open incident; a closed one is
  // final and stays as it is. Returns {incident, 1 changed | 0 not}, or false when it is unknown.
  qmUpdateIncident: [
    1,
    `
local raw = redis.call('GET', KEYS[1])
if not raw then return false end
local inc = cjson.decode(raw)
if inc.status ~= 'open' then return {raw, 0} end
local patch = cjson.decode(ARGV[1])
for _, field in ipairs({'severity', 'title'}) do
  if patch[field] ~= nil then inc[field] = patch[field] end
end
if patch.agents == cjson.null then inc.agents = nil elseif patch.agents ~= nil then inc.agents = patch.agents end
if patch.major ~= nil then inc.major = patch.major end
if patch.endMajorEndingAt ~= nil and inc.major ~= nil and inc.major.endsAt == patch.endMajorEndingAt then inc.major = nil end
if patch.tierGranted ~= nil then
  local tiers = inc.tiersGranted or {}
  local seen = false
  for _, t in ipairs(tiers) do if t == patch.tierGranted then seen = true end end
  if not seen then tiers[#tiers + 1] = patch.tierGranted end
  inc.tiersGranted = tiers
end
raw = cjson.encode(inc)
redis.call('SET', KEYS[1], raw)
return {raw, 1}`,
  ],

  // KEYS incident, grants. ARGV closedAt, closedBy. Writes the tombstone (once), flips live grants
  // to revoking, returns {incident, closedNow, ids of every revoking grant}.
  qmCloseIncident: [
    2,
    `
local raw = redis.call('GET', KEYS[1])
if not raw then return false end
local closedNow = 0
local inc = cjson.decode(raw)
if inc.status ~= 'closed' then
  inc.status = 'closed'
  inc.closedAt = tonumber(ARGV[1])
  inc.closedBy = ARGV[2]
  raw = cjson.encode(inc)
  redis.call('SET', KEYS[1], raw)
  closedNow = 1
end
local revoking = {}
local all = redis.call('HGETALL', KEYS[2])
for i = 1, #all, 2 do
  local g = cjson.decode(all[i + 1])
  if g.s == 'issuing' or g.s == 'active' then
    g.s = 'revoking'
    g.r = 'incident_closed'
    g.q = tonumber(ARGV[1])
    redis.call('HSET', KEYS[2], all[i], cjson.encode(g))
  end
  if g.s == 'revoking' then revoking[#revoking + 1] = all[i] end
end
return {raw, closedNow, revoking}`,
  ],

  // KEYS grants. ARGV id, handle text, expiresAt, subjects text ('' for none). A grant a close flipped to revoking stays
  // revoking (never resurrected); it only gains the handle the worker needs.
  qmCommitGrant: [
    1,
    `
local raw = redis.call('HGET', KEYS[1], ARGV[1])
if not raw then return false end
local g = cjson.decode(raw)
if g.s == 'issuing' or g.s == 'revoking' then
  if g.s == 'issuing' then g.s = 'active' end
  g.h = ARGV[2]
  g.e = tonumber(ARGV[3])
  if ARGV[4] ~= '' then g.j = ARGV[4] end
  raw = cjson.encode(g)
  redis.call('HSET', KEYS[1], ARGV[1], raw)
end
return raw`,
  ],

  // KEYS grants, the incident's live set. ARGV id, at, error.
  qmFailGrant: [
    2,
    `
local raw = redis.call('HGET', KEYS[1], ARGV[1])
if not raw then return false end
local g = cjson.decode(raw)
if g.s == 'issuing' then
  redis.call('ZREM', KEYS[2], ARGV[1])
  g.s = 'failed'
  g.n = tonumber(ARGV[2])
  g.x = ARGV[3]
  raw = cjson.encode(g)
  redis.call('HSET', KEYS[1], ARGV[1], raw)
end
return raw`,
  ],

  // KEYS grants. ARGV id, reason, at.
  qmRequestRevocation: [
    1,
    `
local raw = redis.call('HGET', KEYS[1], ARGV[1])
if not raw then return false end
local g = cjson.decode(raw)
if g.s == 'issuing' or g.s == 'active' then
  g.s = 'revoking'
  g.r = ARGV[2]
  g.q = tonumber(ARGV[3])
  raw = cjson.encode(g)
  redis.call('HSET', KEYS[1], ARGV[1], raw)
end
return raw`,
  ],

  // KEYS grants, the incident's live set. ARGV id, state, at, confirmed (1/0), deliveries ('' when
  // unknown). Returns {1, record} when this call ended the grant, {0, record} when it already had ended.
  qmFinishRevocation: [
    2,
    `
redis.call('ZREM', KEYS[2], ARGV[1])
local raw = redis.call('HGET', KEYS[1], ARGV[1])
if not raw then return false end
local g = cjson.decode(raw)
if g.s == 'revoked' or g.s == 'expired' or g.s == 'failed' then return {0, raw} end
g.s = ARGV[2]
g.n = tonumber(ARGV[3])
g.f = ARGV[4] == '1'
if ARGV[5] ~= '' then g.k = tonumber(ARGV[5]) end
raw = cjson.encode(g)
redis.call('HSET', KEYS[1], ARGV[1], raw)
return {1, raw}`,
  ],

  // KEYS grants. ARGV id, error, deliveries ('' when unknown). 1 when the grant is still revoking.
  qmRetryRevocation: [
    1,
    `
local raw = redis.call('HGET', KEYS[1], ARGV[1])
if not raw then return 0 end
local g = cjson.decode(raw)
if g.s ~= 'revoking' then return 0 end
g.x = ARGV[2]
if ARGV[3] ~= '' then g.k = tonumber(ARGV[3]) end
redis.call('HSET', KEYS[1], ARGV[1], cjson.encode(g))
return 1`,
  ],

  // KEYS grants. ARGV now, ids… Per id: 'x' expired now, 'd' drop from the expiry set (gone or
  // not active), or the stored expiresAt (as text) when it is still in the future.
  qmExpireGrants: [
    1,
    `
local now = tonumber(ARGV[1])
local out = {}
for i = 2, #ARGV do
  local raw = redis.call('HGET', KEYS[1], ARGV[i])
  local verdict = 'd'
  if raw then
    local g = cjson.decode(raw)
    if g.s == 'active' and g.e <= now then
      g.s = 'expired'
      g.n = g.e
      redis.call('HSET', KEYS[1], ARGV[i], cjson.encode(g))
      verdict = 'x'
    elseif g.s == 'active' then
      verdict = string.format('%.0f', g.e)
    end
  end
  out[#out + 1] = verdict
end
return out`,
  ],

  // KEYS incident, grants. -1 no incident, -2 not closed, else the number of revoking grants.
  qmCountRevoking: [
    2,
    `
local raw = redis.call('GET', KEYS[1])
if not raw then return -1 end
if cjson.decode(raw).status ~= 'closed' then return -2 end
local count = 0
for _, rec in ipairs(redis.call('HVALS', KEYS[2])) do
  if cjson.decode(rec).s == 'revoking' then count = count + 1 end
end
return count`,
  ],

  // KEYS incident, grants, live set, then the agent-grant sets named by ARGV. ARGV endedBefore,
  // then {grant id, the 1-based index among the agent sets (from KEYS[4])} per grant. Forgets
  // each listed grant that ended at or before endedBefore. Returns {1 when the incident is closed,
  // a verdict per grant ('p' forgotten, 'g' gone already, 'd' not ended, else its endedAt: ended
  // later), the indexes of agent sets left empty}. Its key count varies: the caller passes it first.
  qmPurgeGrants: [
    null,
    `
local cutoff = tonumber(ARGV[1])
local verdicts = {}
local touched = {}
for i = 2, #ARGV, 2 do
  local id = ARGV[i]
  local raw = redis.call('HGET', KEYS[2], id)
  local verdict = 'g'
  if raw then
    local g = cjson.decode(raw)
    if (g.s == 'revoked' or g.s == 'expired' or g.s == 'failed') and g.n then
      if g.n <= cutoff then
        local agentKey = KEYS[3 + tonumber(ARGV[i + 1])]
        redis.call('HDEL', KEYS[2], id)
        redis.call('ZREM', KEYS[3], id)
        redis.call('SREM', agentKey, id)
        touched[tonumber(ARGV[i + 1])] = agentKey
        verdict = 'p'
      else
        verdict = string.format('%.0f', g.n)
      end
    else
      verdict = 'd'
    end
  end
  verdicts[#verdicts + 1] = verdict
end
local emptied = {}
for index, agentKey in pairs(touched) do
  if redis.call('SCARD', agentKey) == 0 then emptied[#emptied + 1] = index end
end
local closed = 0
local incident = redis.call('GET', KEYS[1])
if incident and cjson.decode(incident).status == 'closed' then closed = 1 end
return {closed, verdicts, emptied}`,
  ],
} as const;

/** Scripts on one global key group. */
/**
 * Shared by the audit scripts (KEYS[1] seq, KEYS[2] log; for `closeWindow`, KEYS[3] counts and
 * KEYS[4] counts due, which the append script, whose KEYS[3..4] are dedupe hashes, never calls).
 * `append` gives the event the next seq and adds it to the log and, with an index key, to its
 * incident's index. `closeWindow` appends a counted window's summary (when it counted any) and
 * drops the window. A window stores its incident index's key name, which is in the `{audit}` slot
 * like every key here, so the flush reaches it without declaring it.
 */
const AUDIT_APPEND_LUA = `
local function append(text, index)
  local seq = redis.call('INCR', KEYS[1])
  local event = '{"seq":' .. seq .. ',' .. string.sub(text, 2)
  redis.call('ZADD', KEYS[2], seq, event)
  if index ~= '' then redis.call('ZADD', index, seq, seq) end
  return seq, event
end
local function closeWindow(key, w)
  if w.n > 0 then
    local t = cjson.decode(w.t)
    t.at = w.l
    t.data.repeats = w.n
    t.data.of = w.s
    append(cjson.encode(t), w.i)
  end
  redis.call('HDEL', KEYS[3], key)
  redis.call('ZREM', KEYS[4], key)
end`;

const GLOBAL_SCRIPTS = {
  // KEYS key. ARGV value. Writes the value unless the key exists; returns the stored value
  // (SET NX GET needs Redis 7; this works on 6.2 too).
  qmSetIfAbsent: [
    1,
    `
if redis.call('SET', KEYS[1], ARGV[1], 'NX') then return ARGV[1] end
return redis.call('GET', KEYS[1])`,
  ],

  // KEYS bucket. ARGV burst, tokens per second, now (ms). Refills, takes one token if there is
  // one; returns 0, or the ms until the next token. The key lives as long as the bucket needs to
  // refill, then a missing bucket is a full one.
  // KEYS register. ARGV expected ('' with ARGV[3] = '1' for absent), value, '1' when expected is absent.
  qmCompareAndSetRegister: [
    1,
    `
local current = redis.call('GET', KEYS[1])
if ARGV[3] == '1' then
  if current then return 0 end
elseif current ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2])
return 1`,
  ],

  // KEYS items, due, seen (this generation), seen (the previous one). ARGV delivery key, event
  // key ('' for none), delivery JSON, now, the generation's expiry in ms. A key seen in either
  // generation is a duplicate; otherwise the delivery is stored, due now, and its keys are seen.
  qmRecordDelivery: [
    4,
    `
for _, key in ipairs({ARGV[1], ARGV[2]}) do
  if key ~= '' and (redis.call('HEXISTS', KEYS[3], key) == 1 or redis.call('HEXISTS', KEYS[4], key) == 1) then
    return 'duplicate'
  end
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
redis.call('ZADD', KEYS[2], ARGV[4], ARGV[1])
redis.call('HSET', KEYS[3], ARGV[1], '1')
if ARGV[2] ~= '' then redis.call('HSET', KEYS[3], ARGV[2], '1') end
redis.call('PEXPIRE', KEYS[3], ARGV[5])
return 'recorded'`,
  ],

  // KEYS items, due, attempts. ARGV now, max, leasedUntil. {key, delivery JSON, attempt, …} of
  // due deliveries, each now leased (due again at its lease's end).
  qmClaimDeliveries: [
    3,
    `
local keys = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
local out = {}
for _, key in ipairs(keys) do
  local item = redis.call('HGET', KEYS[1], key)
  if item then
    redis.call('ZADD', KEYS[2], ARGV[3], key)
    out[#out + 1] = key
    out[#out + 1] = item
    out[#out + 1] = redis.call('HINCRBY', KEYS[3], key, 1)
  else
    redis.call('ZREM', KEYS[2], key)
  end
end
return out`,
  ],

  qmTakeToken: [
    1,
    `
local burst = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local now = tonumber(ARGV[3])
local held = redis.call('HMGET', KEYS[1], 't', 'a')
local tokens = burst
if held[1] then
  local elapsed = math.max(0, now - tonumber(held[2]))
  tokens = math.min(burst, tonumber(held[1]) + elapsed / 1000 * rate)
end
local wait = 0
if tokens >= 1 then tokens = tokens - 1 else wait = math.ceil((1 - tokens) / rate * 1000) end
redis.call('HSET', KEYS[1], 't', tostring(tokens), 'a', ARGV[3])
redis.call('PEXPIRE', KEYS[1], math.ceil((burst - tokens) / rate * 1000) + 1000)
return wait`,
  ],

  // KEYS the window hash. ARGV this window's index, the window in ms, how many. Counts them in this window,
  // drops windows before the previous one; returns {this window's count, the previous one's}.
  qmCountInWindow: [
    1,
    `
local index = tonumber(ARGV[1])
local current = redis.call('HINCRBY', KEYS[1], ARGV[1], tonumber(ARGV[3]))
local previous = tonumber(redis.call('HGET', KEYS[1], tostring(index - 1)) or '0')
for _, field in ipairs(redis.call('HKEYS', KEYS[1])) do
  if tonumber(field) < index - 1 then redis.call('HDEL', KEYS[1], field) end
end
redis.call('PEXPIRE', KEYS[1], 2 * tonumber(ARGV[2]) + 1000)
return {current, previous}`,
  ],

  // KEYS lock owner, lock fence. ARGV owner, lease ms. The lock unless another owner holds it;
  // returns the new fence (it grows with every acquisition, a renewal keeps it), or false.
  qmAcquireLock: [
    2,
    `
local current = redis.call('GET', KEYS[1])
if current and current ~= ARGV[1] then return false end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return redis.call('INCR', KEYS[2])`,
  ],

  // KEYS lock owner. ARGV owner, lease ms. 1 when the lease was still this owner's and is extended.
  qmRenewLock: [
    1,
    `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1`,
  ],

  // KEYS an incident's records, the namespace's index. ARGV incident id, values… Removes the
  // values, and the incident from the index once it has none left.
  qmRemoveIncidentRecords: [
    2,
    `
redis.call('SREM', KEYS[1], unpack(ARGV, 2))
if redis.call('SCARD', KEYS[1]) == 0 then redis.call('SREM', KEYS[2], ARGV[1]) end
return 0`,
  ],

  // KEYS lock owner. ARGV owner. Ends the lease only if this owner still holds it.
  qmReleaseLock: [
    1,
    `
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 0`,
  ],

  // KEYS marker, loss. ARGV loss id, new marker. 1 when the recorded loss was that one and is
  // now replaced by the marker; 0 when no loss or another one is recorded.
  qmAcknowledgeLoss: [
    2,
    `
local raw = redis.call('GET', KEYS[2])
if not raw or cjson.decode(raw).id ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2])
redis.call('DEL', KEYS[2])
return 1`,
  ],

  // KEYS the lane to enqueue in, the other lane. ARGV score, id pairs. Enqueues each job unless
  // either lane holds it already (its schedule — a backoff, a lease — is kept): one job per grant.
  qmEnqueueRevocations: [
    2,
    `
for i = 1, #ARGV - 1, 2 do
  local id = ARGV[i + 1]
  if not redis.call('ZSCORE', KEYS[2], id) then redis.call('ZADD', KEYS[1], 'NX', ARGV[i], id) end
end
return 0`,
  ],

  // KEYS close lane, other lane, attempts. ARGV now, max, leaseUntil. Takes due jobs — a closed
  // incident's first, then the others — and hides them until the lease ends (visibility
  // timeout): a worker that dies mid-job loses nothing, the job comes back.
  qmClaimRevocations: [
    3,
    `
local out = {}
local left = tonumber(ARGV[2])
for lane = 1, 2 do
  if left > 0 then
    local ids = redis.call('ZRANGEBYSCORE', KEYS[lane], '-inf', ARGV[1], 'LIMIT', 0, left)
    for _, id in ipairs(ids) do
      redis.call('ZADD', KEYS[lane], ARGV[3], id)
      out[#out + 1] = id
      out[#out + 1] = redis.call('HINCRBY', KEYS[3], id, 1)
    end
    left = left - #ids
  end
end
return out`,
  ],

  // KEYS close lane, other lane. ARGV newUntil, then grant id and leasedUntil pairs. Extends a
  // lease only while the job's score is still exactly the lease's end this worker holds: a
  // finished job has no score (ZADD XX never re-adds it), a retried one is scored by its backoff,
  // one claimed again by the other worker's lease end. A claim after the lease ended always scores
  // at least one full lease later, so a stale lease can never match a newer one. (A backoff equal
  // to the lease's end to the millisecond would match; the worker stops renewing a job before it
  // retries it, so that needs a renewal in flight at that instant, and costs that retry at most
  // one lease of delay.) Never lowers a score. Returns the ids still held.
  qmRenewRevocationLeases: [
    2,
    `
local newUntil = tonumber(ARGV[1])
local out = {}
for i = 2, #ARGV - 1, 2 do
  for lane = 1, 2 do
    local score = redis.call('ZSCORE', KEYS[lane], ARGV[i])
    if score and tonumber(score) == tonumber(ARGV[i + 1]) then
      if newUntil > tonumber(score) then redis.call('ZADD', KEYS[lane], 'XX', ARGV[1], ARGV[i]) end
      out[#out + 1] = ARGV[i]
    end
  end
end
return out`,
  ],

  // KEYS close lane, other lane. ARGV id, dueAt. Reschedules the job in the lane it is in (the
  // other lane when it is in neither: the grant is still revoking, so it needs a job).
  qmRescheduleRevocation: [
    2,
    `
if redis.call('ZSCORE', KEYS[1], ARGV[1]) then redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
else redis.call('ZADD', KEYS[2], ARGV[2], ARGV[1]) end
return 0`,
  ],

  // KEYS seq, log, dedupe (this generation), dedupe (the previous one), incident index. ARGV event
  // JSON without seq, dedupe key ('' for none), '1' when the event belongs to an incident (then its
  // seq goes to KEYS[5]: the index holds seqs, not a second copy of the event), the generation's
  // expiry in ms. Counter, log and index move together, so the log holds every seq handed out, in
  // order, and an incident's index every event of it. A dedupe key seen in either generation
  // returns the earlier event and appends nothing.
  qmAppendAudit: [
    5,
    `${AUDIT_APPEND_LUA}
if ARGV[2] ~= '' then
  local earlier = redis.call('HGET', KEYS[3], ARGV[2]) or redis.call('HGET', KEYS[4], ARGV[2])
  if earlier then
    local rows = redis.call('ZRANGEBYSCORE', KEYS[2], earlier, earlier)
    if rows[1] then return rows[1] end
  end
end
local index = ''
if ARGV[3] == '1' then index = KEYS[5] end
local seq, event = append(ARGV[1], index)
if ARGV[2] ~= '' then
  redis.call('HSET', KEYS[3], ARGV[2], seq)
  redis.call('PEXPIRE', KEYS[3], ARGV[4])
end
return event`,
  ],

  // KEYS seq, log, counts, counts due, incident index. ARGV event JSON without seq, key, at,
  // window ms, '1' when the event belongs to an incident, the summary template (JSON: the event's
  // type, actor, incident, profile, reason and the summary data). Within the key's open window the
  // event is only counted (false); otherwise the ended window's summary (if it counted any) is
  // appended first, then the event, which opens the next window.
  qmCountAudit: [
    5,
    `${AUDIT_APPEND_LUA}
local key = ARGV[2]
local at = tonumber(ARGV[3])
local raw = redis.call('HGET', KEYS[3], key)
if raw then
  local w = cjson.decode(raw)
  if at < w.e then
    w.n = w.n + 1
    if at > w.l then w.l = at end
    redis.call('HSET', KEYS[3], key, cjson.encode(w))
    return false
  end
  closeWindow(key, w)
end
local index = ''
if ARGV[5] == '1' then index = KEYS[5] end
local seq, event = append(ARGV[1], index)
local ends = at + tonumber(ARGV[4])
redis.call('HSET', KEYS[3], key, cjson.encode({n = 0, l = at, s = seq, t = ARGV[6], i = index, e = ends}))
redis.call('ZADD', KEYS[4], ends, key)
return event`,
  ],

  // KEYS seq, log, counts, counts due. ARGV now, limit. Closes windows that ended by now, oldest
  // first, appending each one's summary; returns how many it closed.
  qmFlushAuditCounts: [
    4,
    `${AUDIT_APPEND_LUA}
local due = redis.call('ZRANGEBYSCORE', KEYS[4], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
for _, key in ipairs(due) do
  local raw = redis.call('HGET', KEYS[3], key)
  if raw then closeWindow(key, cjson.decode(raw)) else redis.call('ZREM', KEYS[4], key) end
end
return #due`,
  ],

  // KEYS chain head, links, checkpoints. ARGV the head the caller read ('' for none), the new
  // head, the checkpoint's seq ('' for none) and JWS, then seq and link pairs. Writes nothing and
  // returns 0 unless the stored head is still the one read, so sealers never fork the chain.
  qmSealAudit: [
    3,
    `
local current = redis.call('GET', KEYS[1]) or ''
if current ~= ARGV[1] then return 0 end
if #ARGV > 4 then
  local fields = {}
  for i = 5, #ARGV do fields[#fields + 1] = ARGV[i] end
  redis.call('HSET', KEYS[2], unpack(fields))
end
redis.call('SET', KEYS[1], ARGV[2])
if ARGV[3] ~= '' then redis.call('ZADD', KEYS[3], tonumber(ARGV[3]), ARGV[4]) end
return 1`,
  ],

  // KEYS incident index, log. ARGV min score ('-inf' or '(seq'), limit. The incident's events in
  // seq order, read from the log by the seqs its index holds.
  qmListIncidentAudit: [
    2,
    `
local seqs = redis.call('ZRANGEBYSCORE', KEYS[1], ARGV[1], '+inf', 'LIMIT', 0, tonumber(ARGV[2]))
local out = {}
for _, seq in ipairs(seqs) do
  local rows = redis.call('ZRANGEBYSCORE', KEYS[2], seq, seq)
  if rows[1] then out[#out + 1] = rows[1] end
end
return out`,
  ],
} as const;

const ALL_SCRIPTS = { ...INCIDENT_SCRIPTS, ...GLOBAL_SCRIPTS };
export type ScriptName = keyof typeof ALL_SCRIPTS;
export type Scripts = Record<ScriptName, (...args: Arg[]) => Promise<unknown>>;

/** Registers the scripts on the client (EVALSHA with EVAL fallback, ioredis defineCommand). */
export function defineScripts(redis: RedisClient): Scripts {
  const scripts = {} as Scripts;
  for (const [name, [numberOfKeys, lua]] of Object.entries(ALL_SCRIPTS) as Array<[ScriptName, readonly [number | null, string]]>) {
    // null: the key count varies, and the caller passes it as the first argument (ioredis Script).
    redis.defineCommand(name, numberOfKeys === null ? { lua } : { numberOfKeys, lua });
    const fn = (redis as unknown as Record<string, (...args: Arg[]) => Promise<unknown>>)[name];
    if (!fn) throw new Error(`ioredis did not define script ${name}`);
    scripts[name] = fn.bind(redis);
  }
  return scripts;
}

/**
 * Runs a script by EVAL with its source, never EVALSHA. ioredis answers a NOSCRIPT (a Redis that
 * restarted or failed over) by sending EVAL again, after whatever was sent behind the EVALSHA: a
 * command pipelined after the script would then run before it. EVAL is one command, in order.
 */
export function evalInOrder(redis: RedisClient, name: ScriptName, ...args: Arg[]): Promise<unknown> {
  const [numberOfKeys, lua] = ALL_SCRIPTS[name] as readonly [number | null, string];
  if (numberOfKeys === null) throw new Error(`script ${name} takes its key count as an argument`);
  return redis.eval(lua, numberOfKeys, ...args) as Promise<unknown>;
}
