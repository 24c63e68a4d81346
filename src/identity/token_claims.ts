/**
 * Registered claims of a token whose signature has verified (RFC 7519 §4.1, docs/security.md §1
 * "Claims", JWT-SVID.md §3). Stricter than a JWT library's defaults on purpose:
 * - `exp` and `aud` are required (JWT-SVID.md §3.2–3.3); `iss` when the issuer is pinned;
 * - the lifetime is capped both as `exp - now` and `exp - iat` (jose accepted `exp: 1e308`);
 * - `nbf`/`iat` in the future beyond the leeway are refused;
 * - `aud` must hold the audience exactly, case-sensitively, and by default be the only one
 *   (JWT-SVID.md §6.2: any other audience could replay the token here);
 * - claims are read as own members only: a signed `__proto__` or `toString` claim never
 *   resolves to, or merges into, Object.prototype.
 */
import { cleanForLog, hasUnsafeCharacters } from '../logging.js';
import { tokenError } from './token_errors.js';

export interface ClaimRules {
  readonly audience: string;
  readonly allowMultipleAudiences: boolean;
  readonly maxLifetimeSeconds: number;
  readonly clockLeewaySeconds: number;
  /** When set, `iss` must be present and equal it exactly. */
  readonly issuer?: string;
}

export interface RegisteredClaims {
  /** Seconds since the epoch. */
  readonly exp: number;
  readonly subject: string;
  readonly jti?: string;
}

/** SPIFFE-ID.md §2.3 bound, applied to every subject. */
const MAX_SUBJECT_LENGTH = 2048;
const MAX_JTI_LENGTH = 256;

/** Reads an own member only: a claim named like an Object.prototype member must not resolve to it. */
export function ownClaim(claims: object, name: string): unknown {
  return Object.hasOwn(claims, name) ? (claims as Record<string, unknown>)[name] : undefined;
}

export function checkRegisteredClaims(
  claims: Readonly<Record<string, unknown>>,
  rules: ClaimRules,
  nowSeconds: number,
  where: string,
): RegisteredClaims {
  checkIssuer(ownClaim(claims, 'iss'), rules.issuer, where);
  checkAudience(ownClaim(claims, 'aud'), rules, where);
  const exp = checkTimes(claims, rules, nowSeconds, where);
  const subject = ownClaim(claims, 'sub');
  if (typeof subject !== 'string' || subject === '' || subject.length > MAX_SUBJECT_LENGTH || hasUnsafeCharacters(subject)) {
    throw tokenError(
      'ERR_TOKEN_CLAIMS',
      `${where}: "sub" must be a non-empty string of at most ${MAX_SUBJECT_LENGTH} characters without control or format characters`,
    );
  }
  const jti = ownClaim(claims, 'jti');
  if (jti === undefined) return { exp, subject };
  if (typeof jti !== 'string' || jti === '' || jti.length > MAX_JTI_LENGTH)
    throw tokenError('ERR_TOKEN_CLAIMS', `${where}: "jti" must be a non-empty string of at most ${MAX_JTI_LENGTH} characters`);
  return { exp, subject, jti };
}

function checkIssuer(iss: unknown, pinned: string | undefined, where: string): void {
  if (iss !== undefined && typeof iss !== 'string') throw tokenError('ERR_TOKEN_CLAIMS', `${where}: "iss" is not a string`);
  if (pinned === undefined) return;
  if (iss === undefined) throw tokenError('ERR_TOKEN_CLAIMS', `${where}: required claim "iss" is missing`);
  if (iss !== pinned)
    throw tokenError(
      'ERR_TOKEN_ISSUER_UNTRUSTED',
      `${where}: "iss" ${JSON.stringify(cleanForLog(iss, 200))} is not ${JSON.stringify(pinned)}`,
    );
}

function checkAudience(aud: unknown, rules: ClaimRules, where: string): void {
  if (aud === undefined) throw tokenError('ERR_TOKEN_CLAIMS', `${where}: required claim "aud" is missing`);
  const list = typeof aud === 'string' ? [aud] : aud;
  if (!Array.isArray(list) || list.length === 0 || !list.every((a) => typeof a === 'string')) {
    throw tokenError('ERR_TOKEN_CLAIMS', `${where}: "aud" must be a string or a non-empty array of strings`);
  }
  if (!list.includes(rules.audience))
    throw tokenError('ERR_TOKEN_AUDIENCE', `${where}: "aud" lacks the audience ${JSON.stringify(rules.audience)}`);
  if (list.length > 1 && !rules.allowMultipleAudiences) {
    throw tokenError(
      'ERR_TOKEN_AUDIENCE',
      `${where}: "aud" names ${list.length} audiences; this issuer allows only one (allowMultipleAudiences)`,
    );
  }
}

/** Returns `exp`. Times are NumericDates (RFC 7519 §2): finite numbers of seconds. */
function checkTimes(claims: Readonly<Record<string, unknown>>, rules: ClaimRules, now: number, where: string): number {
  const { maxLifetimeSeconds: max, clockLeewaySeconds: leeway } = rules;
  const exp = ownClaim(claims, 'exp');
  if (exp === undefined) throw tokenError('ERR_TOKEN_CLAIMS', `${where}: required claim "exp" is missing`);
  if (!isNumericDate(exp)) throw tokenError('ERR_TOKEN_CLAIMS', `${where}: "exp" is not a number`);
  const nbf = ownClaim(claims, 'nbf');
  const iat = ownClaim(claims, 'iat');
  if (nbf !== undefined && !isNumericDate(nbf)) throw tokenError('ERR_TOKEN_CLAIMS', `${where}: "nbf" is not a number`);
  if (iat !== undefined && !isNumericDate(iat)) throw tokenError('ERR_TOKEN_CLAIMS', `${where}: "iat" is not a number`);
  // RFC 7519 §4.1.4: the current time must be before exp, give or take the leeway.
  if (exp <= now - leeway) throw tokenError('ERR_TOKEN_EXPIRED', `${where}: "exp" passed ${seconds(now - exp)}s ago (leeway ${leeway}s)`);
  if (nbf !== undefined && nbf > now + leeway)
    throw tokenError('ERR_TOKEN_NOT_YET_VALID', `${where}: "nbf" is ${seconds(nbf - now)}s in the future`);
  if (iat !== undefined && iat > now + leeway)
    throw tokenError('ERR_TOKEN_NOT_YET_VALID', `${where}: "iat" is ${seconds(iat - now)}s in the future`);
  if (exp - now > max + leeway)
    throw tokenError('ERR_TOKEN_LIFETIME', `${where}: token expires in ${seconds(exp - now)}s; maximum lifetime is ${max}s`);
  if (iat !== undefined && exp < iat) throw tokenError('ERR_TOKEN_CLAIMS', `${where}: "exp" is before "iat"`);
  if (iat !== undefined && exp - iat > max)
    throw tokenError('ERR_TOKEN_LIFETIME', `${where}: token lifetime ${exp - iat}s exceeds ${max}s`);
  return exp;
}

/** Seconds for a log detail: the clock is fractional, the message need not be. */
const seconds = (value: number): string => value.toFixed(3).replace(/\.?0+$/u, '');

function isNumericDate(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value);
}
