/**
 * Token failures as BrokerErrors: status 401, a stable `ERR_TOKEN_*` code, a client-safe message
 * naming only the class of failure, the operator's reason in `detail` (never the token), and the
 * RFC 6750 §3 challenge. jose failures are mapped by their structured `code`, `claim` and
 * `reason` fields, never by message text (STYLE.md #9).
 */
import { BrokerError, describeCause, type ErrorCode } from '../errors.js';
import { cleanForLog, type Logger } from '../logging.js';

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
};

/** RFC 6750 §3.1: a rejected token gets `invalid_token`. */
const CHALLENGE: Readonly<Record<string, string>> = Object.freeze({ 'WWW-Authenticate': 'Bearer error="invalid_token"' });

export function tokenError(code: TokenErrorCode, detail: string): BrokerError {
  return new BrokerError(code, 401, MESSAGES[code], { detail, headers: CHALLENGE });
}

/** Maps jose failures by their `code` / `claim` / `reason` fields, never by message text. */
export function mapVerifyError(err: unknown, where: string, logger: Logger): BrokerError {
  const fields = (typeof err === 'object' && err !== null ? err : {}) as { code?: unknown; claim?: unknown; reason?: unknown };
  switch (fields.code) {
    case 'ERR_JWT_EXPIRED':
      return tokenError('ERR_TOKEN_EXPIRED', `${where}: "exp" has passed`);
    case 'ERR_JWT_CLAIM_VALIDATION_FAILED':
      return mapClaimFailure(String(fields.claim), String(fields.reason), where);
    case 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED':
      return tokenError('ERR_TOKEN_SIGNATURE', `${where}: signature does not verify`);
    case 'ERR_JWKS_NO_MATCHING_KEY':
      return tokenError('ERR_TOKEN_SIGNATURE', `${where}: no key in the issuer's key set matches kid and alg`);
    case 'ERR_JWKS_MULTIPLE_MATCHING_KEYS':
      return tokenError('ERR_TOKEN_SIGNATURE', `${where}: several keys in the issuer's key set match kid and alg`);
    case 'ERR_JOSE_ALG_NOT_ALLOWED':
    case 'ERR_JOSE_NOT_SUPPORTED':
      return tokenError('ERR_TOKEN_SIGNATURE', `${where}: algorithm not allowed or not supported by the key`);
    case 'ERR_JWS_INVALID':
    case 'ERR_JWT_INVALID':
      return tokenError('ERR_TOKEN_MALFORMED', `${where}: not a valid JWT`);
    default:
      // Key set unreachable (timeout, non-200, oversized, private keys) or an unexpected failure:
      // operators need to see it; the client only learns the token could not be verified.
      logger.warn({ err: describeCause(err), issuer: where }, 'token verification failed unexpectedly');
      return tokenError('ERR_TOKEN_SIGNATURE', `${where}: key set unavailable or verification error: ${describeCause(err)}`);
  }
}

function mapClaimFailure(claim: string, reason: string, where: string): BrokerError {
  if (reason === 'missing') return tokenError('ERR_TOKEN_CLAIMS', `${where}: required claim "${claim}" is missing`);
  switch (claim) {
    case 'aud':
      return tokenError('ERR_TOKEN_AUDIENCE', `${where}: "aud" lacks the broker audience`);
    case 'iss':
      return tokenError('ERR_TOKEN_ISSUER_UNTRUSTED', `${where}: "iss" does not match`);
    case 'nbf':
    case 'iat':
      if (reason === 'check_failed') return tokenError('ERR_TOKEN_NOT_YET_VALID', `${where}: "${claim}" is in the future`);
      return tokenError('ERR_TOKEN_CLAIMS', `${where}: "${claim}" is not a number`);
    default:
      return tokenError('ERR_TOKEN_CLAIMS', `${where}: claim "${cleanForLog(claim, 64)}" ${reason === 'invalid' ? 'has the wrong type' : 'failed its check'}`);
  }
}
