/**
 * Token failures as BrokerErrors: status 401, a stable `ERR_TOKEN_*` code per failure class, a
 * client-safe message naming only the class, the operator's reason in `detail` (never the
 * token), and the RFC 6750 §3 challenge.
 *
 * When an issuer's keys cannot be had at all (never fetched, or stale past the configured bound),
 * the answer is 503 ERR_IDENTITY_UNAVAILABLE instead: the token may well be good, so a 401 would
 * tell the client to throw it away and would hide an outage from monitoring; 503 says "retry".
 */
import { BrokerError, type ErrorCode } from '../errors.js';

export type TokenErrorCode = Extract<ErrorCode, `ERR_TOKEN_${string}`>;

/** Client-safe messages: they name the class of failure, never the token or our config. */
const MESSAGES: Readonly<Record<TokenErrorCode, string>> = {
  ERR_TOKEN_MALFORMED: 'bearer token is malformed',
  ERR_TOKEN_EXPIRED: 'bearer token has expired',
  ERR_TOKEN_NOT_YET_VALID: 'bearer token is not yet valid',
  ERR_TOKEN_LIFETIME: 'bearer token lifetime exceeds the allowed maximum',
  ERR_TOKEN_AUDIENCE: 'bearer token audience is not accepted',
  ERR_TOKEN_ISSUER_UNTRUSTED: 'bearer token issuer is not trusted here',
  ERR_TOKEN_SIGNATURE: 'bearer token signature could not be verified',
  ERR_TOKEN_CLAIMS: 'bearer token claims are invalid',
  ERR_TOKEN_REPLAYED: 'bearer token was already used',
};

/** RFC 6750 §3.1: a rejected token gets `invalid_token`. */
const CHALLENGE: Readonly<Record<string, string>> = Object.freeze({ 'WWW-Authenticate': 'Bearer error="invalid_token"' });

export function tokenError(code: TokenErrorCode, detail: string): BrokerError {
  return new BrokerError(code, 401, MESSAGES[code], { detail, headers: CHALLENGE });
}

/** The issuer's keys cannot be had right now; the detail names the key set and why. */
export function identityUnavailable(detail: string): BrokerError {
  return new BrokerError('ERR_IDENTITY_UNAVAILABLE', 503, 'token verification keys are unavailable; retry later', { detail });
}
