/**
 * The compact grant record stored in Redis. Short field names and no id / incident id (both are
 * already in the hash field and the key) keep an active grant near the S6 budget of 512 bytes of
 * Redis memory.
 *
 * The Lua scripts (redis_scripts.ts) read and rewrite these records with Redis's bundled cjson,
 * which prints numbers with 14 significant digits. Millisecond timestamps have 13 digits, so the
 * ledger's own fields survive; the provider's handle may hold any number, so it is stored as a
 * JSON *string* that the scripts never parse.
 *
 * cjson also refuses a `\uD800`-style escape of a lone UTF-16 surrogate, which JSON.stringify
 * emits for ill-formed strings (an agent can send one in `purpose`). One such record would make
 * every script on its incident fail, including the close, so text fields are made well-formed
 * (lone surrogates become U+FFFD) before they are stored, and numbers must be finite (cjson turns
 * a JSON null into a value that breaks the scripts' comparisons).
 */
import { GRANT_STATES, type Grant, type GrantState, type RevocationHandle, type RevokeReason } from '../model.js';

/** Field names shared with the Lua scripts; change both together. */
interface GrantRecord {
  p: string; // profile
  v: string; // provider
  a: string; // agent
  u: string; // purpose
  s: GrantState;
  c: number; // createdAt
  t: number; // ttlSeconds
  e: number; // expiresAt
  h?: string; // handle, JSON text
  j?: string; // subjects, JSON text of a string array
  r?: RevokeReason;
  q?: number; // revokeRequestedAt
  n?: number; // endedAt
  k?: number; // revokeAttempts
  f?: boolean; // revocationConfirmed
  x?: string; // lastError
}

/** JSON.stringify with every string made well-formed Unicode (see above). */
export const toStoredJson = (value: unknown): string =>
  JSON.stringify(value, (_key, v: unknown) => (typeof v === 'string' ? v.replace(/\p{Surrogate}/gu, '\uFFFD') : v));

export function requireFinite(value: number, what: string): number {
  if (!Number.isFinite(value)) throw new Error(`${what} must be a finite number`);
  return value;
}

export function encodeGrant(grant: Grant): string {
  for (const field of ['createdAt', 'ttlSeconds', 'expiresAt', 'revokeRequestedAt', 'endedAt', 'revokeAttempts'] as const) {
    const value = grant[field];
    if (value !== undefined) requireFinite(value, `grant ${field}`);
  }
  const record: GrantRecord = {
    p: grant.profile,
    v: grant.provider,
    a: grant.agent,
    u: grant.purpose,
    s: grant.state,
    c: grant.createdAt,
    t: grant.ttlSeconds,
    e: grant.expiresAt,
  };
  if (grant.handle !== undefined) record.h = encodeHandle(grant.handle);
  if (grant.subjects !== undefined && grant.subjects.length > 0) record.j = encodeSubjects(grant.subjects);
  if (grant.revokeReason !== undefined) record.r = grant.revokeReason;
  if (grant.revokeRequestedAt !== undefined) record.q = grant.revokeRequestedAt;
  if (grant.endedAt !== undefined) record.n = grant.endedAt;
  if (grant.revokeAttempts !== undefined) record.k = grant.revokeAttempts;
  if (grant.revocationConfirmed !== undefined) record.f = grant.revocationConfirmed;
  if (grant.lastError !== undefined) record.x = grant.lastError;
  return toStoredJson(record);
}

/** Plain JSON: the scripts carry it as an opaque string, so it round-trips exactly. */
export const encodeHandle = (handle: RevocationHandle): string => JSON.stringify(handle);
/** Subjects as the commit script stores them: JSON text, or '' for none. */
export const encodeSubjects = (subjects: readonly string[] | undefined): string =>
  subjects === undefined || subjects.length === 0 ? '' : toStoredJson(subjects);

export function decodeGrant(id: string, incidentId: string, text: string): Grant {
  const r = JSON.parse(text) as GrantRecord;
  if (!GRANT_STATES.includes(r.s) || typeof r.c !== 'number' || typeof r.e !== 'number') {
    // A record this code did not write: refuse it rather than act on a guessed state.
    throw new Error(`corrupt grant record for grant ${JSON.stringify(id)}`);
  }
  return {
    id,
    incidentId,
    profile: r.p,
    provider: r.v,
    agent: r.a,
    purpose: r.u,
    state: r.s,
    createdAt: r.c,
    ttlSeconds: r.t,
    expiresAt: r.e,
    ...(r.h !== undefined ? { handle: JSON.parse(r.h) as RevocationHandle } : {}),
    ...(typeof r.j === 'string' && r.j !== '' ? { subjects: JSON.parse(r.j) as string[] } : {}),
    ...(r.r !== undefined ? { revokeReason: r.r } : {}),
    ...(r.q !== undefined ? { revokeRequestedAt: r.q } : {}),
    ...(r.n !== undefined ? { endedAt: r.n } : {}),
    ...(r.k !== undefined ? { revokeAttempts: r.k } : {}),
    ...(r.f !== undefined ? { revocationConfirmed: r.f } : {}),
    ...(r.x !== undefined ? { lastError: r.x } : {}),
  };
}

/** MULTI … EXEC answers each command's error in place: throw the first, else the replies. */
export function execReplies(replies: Array<[Error | null, unknown]> | null): unknown[] {
  if (replies === null) throw new Error('redis transaction aborted');
  return replies.map(([err, reply]) => {
    if (err) throw err;
    return reply;
  });
}
