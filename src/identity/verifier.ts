/**
 * Identity v0: verifies agent and operator bearer tokens (SECURITY.md §1, RFC 8725, SPIFFE
 * JWT-SVID.md). The pipeline reads as a table of small checks, cheapest and least trusting first:
 *
 *   size cap → compact JWS shape → decode, duplicate members → header allowlist → kid
 *   → issuer by unverified `iss` (only to pick that issuer's key set) → alg allowlist → typ
 *   → jose jwtVerify (signature, iss, aud, exp/nbf, required claims) → lifetime, iat → sub
 *
 * Agent endpoints know only agent issuers and operator endpoints only the operator issuer, so
 * token kinds never cross. Every failure is a 401 with a stable code and an RFC 6750 §3
 * challenge; the operator reason goes to `detail`; the token itself is never logged or echoed.
 */
import { createHash } from 'node:crypto';
import { jwtVerify, type JWTPayload } from 'jose';
import type { AgentIssuerConfig, Config, JwksSource } from '../config/schema.js';
import { BrokerError } from '../errors.js';
import { cleanForLog, type Logger } from '../logging.js';
import { createKeySet, type KeySet } from './key_sets.js';
import { parseSpiffeId } from './spiffe_id.js';
import { mapVerifyError, tokenError } from './token_errors.js';
import type { AgentIdentity, Identity, OperatorIdentity } from './types.js';

export interface IdentityDeps {
  readonly logger: Logger;
  /** Current time, ms since the epoch. */
  readonly now: () => number;
}

/** RFC 8725 §3.1/§3.10: only these; `crit`, `b64`, `jwk`, `jku`, `x5u`, `x5c`, `cty`… are refused. */
const ACCEPTED_HEADER_PARAMETERS: ReadonlySet<string> = new Set(['alg', 'kid', 'typ']);
const MAX_KID_LENGTH = 128;
/** SPIFFE-ID.md §2.3 bound, applied to every subject. */
const MAX_SUBJECT_LENGTH = 2048;
const BASE64URL = /^[A-Za-z0-9_-]+$/;
// eslint-disable-next-line no-control-regex
const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/;

/** One configured issuer, with everything its tokens are checked against. */
interface TrustedIssuer {
  readonly name: string;
  readonly issuer: string;
  readonly audience: string;
  readonly algorithms: readonly string[];
  readonly maxLifetimeSeconds: number;
  readonly clockLeewaySeconds: number;
  readonly keySet: KeySet;
}

interface VerifiedToken<T extends TrustedIssuer> {
  readonly trusted: T;
  readonly claims: JWTPayload;
  readonly subject: string;
  readonly expiresAt: number;
  readonly jti?: string;
  readonly fingerprint: string;
}

type TokenKind = 'agent' | 'operator';

export async function createIdentity(config: Config['identity'], deps: IdentityDeps): Promise<Identity> {
  const agents = new Map<string, TrustedIssuer & { readonly config: AgentIssuerConfig }>();
  for (const a of config.agents) {
    const keySet = await bootKeySet(a.jwks, `identity.agents[${a.name}].jwks`, deps);
    agents.set(a.issuer, { name: a.name, issuer: a.issuer, audience: config.audience, algorithms: a.algorithms, maxLifetimeSeconds: a.maxLifetimeSeconds, clockLeewaySeconds: a.clockLeewaySeconds, keySet, config: a });
  }
  const op = config.operators;
  const operatorIssuer: TrustedIssuer = {
    name: 'operators', issuer: op.issuer, audience: op.audience ?? config.audience, algorithms: op.algorithms,
    maxLifetimeSeconds: op.maxLifetimeSeconds, clockLeewaySeconds: op.clockLeewaySeconds,
    keySet: await bootKeySet(op.jwks, 'identity.operators.jwks', deps),
  };
  const operators = new Map([[op.issuer, operatorIssuer]]);
  deps.logger.info({ agentIssuers: config.agents.map((a) => a.name), operatorIssuer: op.issuer }, 'identity ready');

  const verify = <T extends TrustedIssuer>(token: string, kind: TokenKind, trusted: ReadonlyMap<string, T>, other: ReadonlyMap<string, TrustedIssuer>) =>
    verifyToken(token, { kind, trusted, other, maxTokenBytes: config.maxTokenBytes, deps });

  return {
    async authenticateAgent(token) {
      const v = await verify(token, 'agent', agents, operators);
      return toAgentIdentity(v, v.trusted.config);
    },
    async authenticateOperator(token) {
      const v = await verify(token, 'operator', operators, agents);
      const roles = rolesOf(ownClaim(v.claims, op.rolesClaim));
      const identity: OperatorIdentity = {
        kind: 'operator', subject: v.subject, issuer: v.trusted.issuer, roles,
        isOperator: roles.includes(op.operatorRole), expiresAt: v.expiresAt, fingerprint: v.fingerprint,
      };
      return Object.freeze(identity);
    },
  };
}

async function bootKeySet(source: JwksSource, label: string, deps: IdentityDeps): Promise<KeySet> {
  try {
    return await createKeySet(source, { logger: deps.logger, now: deps.now, label });
  } catch (err) {
    // Refuse to boot: a missing, broken or private-key-carrying set is a config error.
    throw new BrokerError('ERR_CONFIG', 500, err instanceof Error ? err.message : `${label}: invalid key set`, { cause: err });
  }
}

function toAgentIdentity(v: VerifiedToken<TrustedIssuer>, issuer: AgentIssuerConfig): AgentIdentity {
  const base = { kind: 'agent' as const, issuer: v.trusted.issuer, issuerName: issuer.name, subject: v.subject, expiresAt: v.expiresAt, fingerprint: v.fingerprint, ...(v.jti === undefined ? {} : { jti: v.jti }) };
  if (issuer.subject === 'opaque') return Object.freeze({ ...base, id: `${v.trusted.issuer}#${v.subject}` });
  const spiffe = parseSpiffeId(v.subject);
  if (!spiffe) throw tokenError('ERR_TOKEN_CLAIMS', `issuer ${issuer.name}: "sub" is not a valid SPIFFE ID`);
  // Bind the trust domain to the issuer that vouched for it (SECURITY.md §1 "Keys").
  if (issuer.trustDomains && !issuer.trustDomains.includes(spiffe.trustDomain)) {
    throw tokenError('ERR_TOKEN_ISSUER_UNTRUSTED', `issuer ${issuer.name} may not vouch for trust domain ${spiffe.trustDomain}`);
  }
  return Object.freeze({ ...base, id: v.subject, trustDomain: spiffe.trustDomain });
}

interface VerifyContext<T extends TrustedIssuer> {
  readonly kind: TokenKind;
  /** Issuers this endpoint accepts. */
  readonly trusted: ReadonlyMap<string, T>;
  /** Issuers of the other token kind: only to say why a token was refused. */
  readonly other: ReadonlyMap<string, TrustedIssuer>;
  readonly maxTokenBytes: number;
  readonly deps: IdentityDeps;
}

async function verifyToken<T extends TrustedIssuer>(token: string, ctx: VerifyContext<T>): Promise<VerifiedToken<T>> {
  const { header, payload, signingInput } = parseCompact(token, ctx.maxTokenBytes);
  const { alg, typ } = checkHeader(header);

  // The unverified `iss` only selects which configured key set to try; jose then checks it exactly.
  const iss = ownClaim(payload, 'iss');
  if (typeof iss !== 'string') throw tokenError('ERR_TOKEN_CLAIMS', '"iss" claim missing or not a string');
  const trusted = ctx.trusted.get(iss);
  if (!trusted) {
    const reason = ctx.other.has(iss) ? `is not an ${ctx.kind} issuer; token kinds never cross` : 'is not configured';
    throw tokenError('ERR_TOKEN_ISSUER_UNTRUSTED', `issuer ${cleanForLog(iss)} ${reason}`);
  }
  const where = `issuer ${trusted.name}`;
  // Algorithm from config, never from the token (RFC 8725 §3.1): refuses none, HS*, and confusion.
  if (!trusted.algorithms.includes(alg)) throw tokenError('ERR_TOKEN_SIGNATURE', `${where}: alg ${cleanForLog(alg)} is not allowed`);
  // RFC 8725 §3.11: explicit typing; the broker's own `at+jwt` access tokens are not identities.
  if (!isAcceptedTyp(typ)) throw tokenError('ERR_TOKEN_CLAIMS', `${where}: typ ${cleanForLog(typ ?? '')} is not accepted (absent, JWT or JOSE)`);

  const nowMs = ctx.deps.now();
  let claims: JWTPayload;
  try {
    ({ payload: claims } = await jwtVerify(token, (h, t) => trusted.keySet.resolve(h, t), {
      algorithms: [...trusted.algorithms],
      issuer: trusted.issuer,
      audience: trusted.audience,
      // jose checks exp only when present; SECURITY.md §1 requires it.
      requiredClaims: ['exp', 'sub', 'aud', 'iss'],
      clockTolerance: trusted.clockLeewaySeconds,
      currentDate: new Date(nowMs),
    }));
  } catch (err) {
    throw mapVerifyError(err, where, ctx.deps.logger);
  }
  const exp = checkTimes(claims, trusted, Math.floor(nowMs / 1000), where);
  return {
    trusted,
    claims,
    subject: checkSubject(ownClaim(claims, 'sub'), where),
    expiresAt: exp * 1000,
    ...optionalJti(ownClaim(claims, 'jti'), where),
    fingerprint: createHash('sha256').update(signingInput).digest('hex').slice(0, 16),
  };
}

// ── structure ─────────────────────────────────────────────────────────────────────────────

interface CompactToken {
  readonly header: Record<string, unknown>;
  readonly payload: Record<string, unknown>;
  readonly signingInput: string;
}

/** Compact JWS only: exactly 3 non-empty canonical base64url parts (JWE has 5, JSON serialization 1). */
function parseCompact(token: unknown, maxBytes: number): CompactToken {
  if (typeof token !== 'string') throw tokenError('ERR_TOKEN_MALFORMED', 'token is not a string');
  // Before any parsing: jose accepted a 2 MB token (SECURITY.md §1). A string's UTF-8 size is at
  // least its length, so the cheap check runs first.
  if (token.length > maxBytes || Buffer.byteLength(token, 'utf8') > maxBytes) {
    throw tokenError('ERR_TOKEN_MALFORMED', `token exceeds identity.maxTokenBytes (${maxBytes})`);
  }
  const parts = token.split('.');
  if (parts.length !== 3) throw tokenError('ERR_TOKEN_MALFORMED', `token has ${parts.length} dot-separated parts; a compact JWS has 3`);
  const [h, p, s] = parts as [string, string, string];
  for (const [name, part] of [['header', h], ['payload', p], ['signature', s]] as const) {
    if (!isCanonicalBase64url(part)) throw tokenError('ERR_TOKEN_MALFORMED', `${name} is empty or not canonical base64url`);
  }
  return { header: decodeJsonObject(h, 'header'), payload: decodeJsonObject(p, 'payload'), signingInput: `${h}.${p}` };
}

/** Unpadded base64url whose unused trailing bits are zero: one encoding per value. */
function isCanonicalBase64url(part: string): boolean {
  return BASE64URL.test(part) && part.length % 4 !== 1 && Buffer.from(part, 'base64url').toString('base64url') === part;
}

function decodeJsonObject(part: string, what: 'header' | 'payload'): Record<string, unknown> {
  let text: string;
  let value: unknown;
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(Buffer.from(part, 'base64url'));
    value = JSON.parse(text);
  } catch {
    throw tokenError('ERR_TOKEN_MALFORMED', `${what} is not UTF-8 JSON`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw tokenError('ERR_TOKEN_MALFORMED', `${what} is not a JSON object`);
  // JSON.parse keeps the last of duplicate members, so `{"aud":"x","aud":"qm"}` would read differently
  // to other parsers (RFC 7515 §5.2 step 4, RFC 7519 §4: reject).
  const duplicate = findDuplicateMember(text);
  if (duplicate !== null) throw tokenError('ERR_TOKEN_MALFORMED', `${what} has duplicate member "${cleanForLog(duplicate, 64)}"`);
  return value as Record<string, unknown>;
}

/**
 * Returns the first member name that occurs twice in one object, at any depth, or null. Expects
 * text that JSON.parse accepted; compares names after unescaping (`"a"` and `"\u0061"` collide).
 */
function findDuplicateMember(text: string): string | null {
  // One entry per open container: the names seen so far for an object, null for an array.
  const open: Array<Set<string> | null> = [];
  let expectName = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '"') {
      const end = endOfString(text, i);
      const names = open.at(-1);
      if (expectName && names) {
        const name = JSON.parse(text.slice(i, end + 1)) as string;
        if (names.has(name)) return name;
        names.add(name);
        expectName = false;
      }
      i = end;
    } else if (c === '{') {
      open.push(new Set());
      expectName = true;
    } else if (c === '[') {
      open.push(null);
      expectName = false;
    } else if (c === '}' || c === ']') {
      open.pop();
      expectName = false;
    } else if (c === ',') {
      expectName = open.at(-1) instanceof Set;
    }
  }
  return null;
}

/** Index of the closing quote of the string literal opening at `start`. */
function endOfString(text: string, start: number): number {
  for (let i = start + 1; i < text.length; i++) {
    if (text[i] === '\\') i++;
    else if (text[i] === '"') return i;
  }
  return text.length;
}

// ── header ────────────────────────────────────────────────────────────────────────────────

function checkHeader(header: Record<string, unknown>): { alg: string; typ: string | undefined } {
  for (const name of Object.keys(header)) {
    // Keys come only from configured sets (jwk/jku/x5u/x5c), and no extension is understood (crit, b64).
    if (!ACCEPTED_HEADER_PARAMETERS.has(name)) throw tokenError('ERR_TOKEN_MALFORMED', `header parameter "${cleanForLog(name, 64)}" is not accepted`);
  }
  const { alg, kid, typ } = header;
  if (typeof alg !== 'string' || alg === '') throw tokenError('ERR_TOKEN_MALFORMED', 'header "alg" missing or not a string');
  // jose picks an arbitrary-looking key, or fails, when kid is absent and a set holds several keys.
  // kid is only ever compared as a map key, never used as a path or URL.
  if (typeof kid !== 'string' || kid === '' || kid.length > MAX_KID_LENGTH) {
    throw tokenError('ERR_TOKEN_MALFORMED', `header "kid" missing, not a string, or longer than ${MAX_KID_LENGTH}`);
  }
  if (typ !== undefined && typeof typ !== 'string') throw tokenError('ERR_TOKEN_MALFORMED', 'header "typ" is not a string');
  return { alg, typ };
}

/** `typ` absent or JWT/JOSE (RFC 7519 §5.1; media types compare case-insensitively, RFC 7515 §4.1.9). */
function isAcceptedTyp(typ: string | undefined): boolean {
  if (typ === undefined) return true;
  const t = typ.toLowerCase().replace(/^application\//, '');
  return t === 'jwt' || t === 'jose';
}

// ── claims ────────────────────────────────────────────────────────────────────────────────

/** Reads an own member only: a claim named like an Object.prototype member must not resolve to it. */
function ownClaim(claims: object, name: string): unknown {
  return Object.hasOwn(claims, name) ? (claims as Record<string, unknown>)[name] : undefined;
}

/** Lifetime and clock checks jose does not make; returns `exp`. jose accepted `exp: 1e308`. */
function checkTimes(claims: JWTPayload, trusted: TrustedIssuer, now: number, where: string): number {
  const { maxLifetimeSeconds: max, clockLeewaySeconds: leeway } = trusted;
  const exp = ownClaim(claims, 'exp');
  if (typeof exp !== 'number' || !Number.isFinite(exp)) throw tokenError('ERR_TOKEN_CLAIMS', `${where}: "exp" is not a number`);
  if (exp - now > max + leeway) throw tokenError('ERR_TOKEN_LIFETIME', `${where}: token expires in ${exp - now}s; maximum lifetime is ${max}s`);
  const iat = ownClaim(claims, 'iat');
  if (iat !== undefined) {
    if (typeof iat !== 'number' || !Number.isFinite(iat)) throw tokenError('ERR_TOKEN_CLAIMS', `${where}: "iat" is not a number`);
    if (iat > now + leeway) throw tokenError('ERR_TOKEN_NOT_YET_VALID', `${where}: "iat" is ${iat - now}s in the future`);
    if (exp - iat > max) throw tokenError('ERR_TOKEN_LIFETIME', `${where}: token lifetime ${exp - iat}s exceeds ${max}s`);
  }
  // jose accepts an `aud` array with non-string members as long as one matches.
  const aud = ownClaim(claims, 'aud');
  if (typeof aud !== 'string' && !(Array.isArray(aud) && aud.every((a) => typeof a === 'string'))) {
    throw tokenError('ERR_TOKEN_CLAIMS', `${where}: "aud" must be a string or an array of strings`);
  }
  return exp;
}

function checkSubject(sub: unknown, where: string): string {
  if (typeof sub !== 'string' || sub === '' || sub.length > MAX_SUBJECT_LENGTH || CONTROL_CHARACTERS.test(sub)) {
    throw tokenError('ERR_TOKEN_CLAIMS', `${where}: "sub" must be a non-empty string of at most ${MAX_SUBJECT_LENGTH} characters without control characters`);
  }
  return sub;
}

function optionalJti(jti: unknown, where: string): { jti?: string } {
  if (jti === undefined) return {};
  if (typeof jti !== 'string' || jti === '' || jti.length > 256) throw tokenError('ERR_TOKEN_CLAIMS', `${where}: "jti" must be a non-empty string`);
  return { jti };
}

/** The roles claim as a string array: a string is one role; anything else is no roles. */
function rolesOf(value: unknown): readonly string[] {
  if (typeof value === 'string') return Object.freeze([value]);
  if (Array.isArray(value) && value.every((r): r is string => typeof r === 'string')) return Object.freeze([...value]);
  return Object.freeze([]);
}
