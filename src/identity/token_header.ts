/**
 * The JOSE header (docs/security.md §1 "Header"). Only `alg`, `kid` and `typ` are accepted: keys come
 * only from configured sets, never from `jwk`, `jku`, `x5u` or `x5c` (RFC 8725 §3.10), and no
 * extension is understood, so `crit`, `b64` and `cty` (nested JWTs) are refused (RFC 7515 §4.1.11).
 * JWT-SVID.md §2 likewise forbids any header it does not describe.
 */
import { cleanForLog } from '../logging.js';
import { tokenError } from './token_errors.js';

export interface TokenHeader {
  readonly alg: string;
  /** An opaque map key: only ever compared, never used as a path, URL or query fragment. */
  readonly kid: string;
  readonly typ: string | undefined;
}

const ACCEPTED_PARAMETERS: ReadonlySet<string> = new Set(['alg', 'kid', 'typ']);
export const MAX_KID_LENGTH = 128;

export function checkHeader(header: Record<string, unknown>): TokenHeader {
  for (const name of Object.keys(header)) {
    if (!ACCEPTED_PARAMETERS.has(name))
      throw tokenError('ERR_TOKEN_MALFORMED', `header parameter "${cleanForLog(name, 64)}" is not accepted`);
  }
  const { alg, kid, typ } = header;
  if (typeof alg !== 'string' || alg === '') throw tokenError('ERR_TOKEN_MALFORMED', 'header "alg" missing or not a string');
  // With several keys in a set and no kid, a verifier must guess (jose fails); JWT-SVID.md makes
  // kid optional but SPIRE always sets it. kid is compared as a map key, never interpreted.
  if (typeof kid !== 'string' || kid === '' || kid.length > MAX_KID_LENGTH) {
    throw tokenError('ERR_TOKEN_MALFORMED', `header "kid" missing, not a string, or longer than ${MAX_KID_LENGTH}`);
  }
  if (typ !== undefined && typeof typ !== 'string') throw tokenError('ERR_TOKEN_MALFORMED', 'header "typ" is not a string');
  return { alg, kid, typ };
}

/**
 * `typ` absent or JWT/JOSE (JWT-SVID.md §2.3, RFC 7519 §5.1; media types compare
 * case-insensitively, RFC 7515 §4.1.9). Explicit typing keeps other token kinds out, such as
 * the broker's own `at+jwt` access tokens (RFC 8725 §3.11, RFC 9068).
 */
export function isAcceptedTyp(typ: string | undefined): boolean {
  if (typ === undefined) return true;
  const t = typ.toLowerCase().replace(/^application\//, '');
  return t === 'jwt' || t === 'jose';
}
