/**
 * Token failures as clients see them (src/identity/token_errors.ts): 401 with a message that names
 * only the class of failure and the RFC 6750 §3 challenge, the reason in `detail`; 503 with a
 * retry message when keys cannot be had.
 */
import { describe, expect, it } from 'vitest';
import { identityUnavailable, tokenError, type TokenErrorCode } from '../../src/identity/token_errors.js';

describe('token errors', () => {
  it.each<[TokenErrorCode, string]>([
    ['ERR_TOKEN_MALFORMED', 'bearer token is malformed'],
    ['ERR_TOKEN_EXPIRED', 'bearer token has expired'],
    ['ERR_TOKEN_NOT_YET_VALID', 'bearer token is not yet valid'],
    ['ERR_TOKEN_LIFETIME', 'bearer token lifetime exceeds the allowed maximum'],
    ['ERR_TOKEN_AUDIENCE', 'bearer token audience is not accepted'],
    ['ERR_TOKEN_ISSUER_UNTRUSTED', 'bearer token issuer is not trusted here'],
    ['ERR_TOKEN_SIGNATURE', 'bearer token signature could not be verified'],
    ['ERR_TOKEN_CLAIMS', 'bearer token claims are invalid'],
    ['ERR_TOKEN_REPLAYED', 'bearer token was already used'],
  ])('answers %s with 401, its class message and the invalid_token challenge', (code, message) => {
    const err = tokenError(code, 'the reason, for the log');
    expect({ code: err.code, status: err.status, message: err.message, detail: err.detail, headers: err.headers }).toEqual({
      code,
      status: 401,
      message,
      detail: 'the reason, for the log',
      headers: { 'WWW-Authenticate': 'Bearer error="invalid_token"' },
    });
    expect(Object.isFrozen(err.headers)).toBe(true);
  });

  it('answers unavailable keys with 503 and a retry message, without a token challenge', () => {
    const err = identityUnavailable('identity.operators.keys: no keys loaded yet');
    expect({ code: err.code, status: err.status, message: err.message, detail: err.detail, headers: err.headers }).toEqual({
      code: 'ERR_IDENTITY_UNAVAILABLE',
      status: 503,
      message: 'token verification keys are unavailable; retry later',
      detail: 'identity.operators.keys: no keys loaded yet',
      headers: {},
    });
  });
});
