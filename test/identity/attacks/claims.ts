/**
 * Claim attacks: every `exp`/`nbf`/`iat`/`aud`/`iss` edge (RFC 7519 §4.1, JWT-SVID.md §3,
 * docs/security.md §1 "Claims"), token kinds crossing endpoints, and the OIDC issuer's claim
 * constraints. The trust domain under test allows 3600 s of lifetime and 30 s of leeway.
 */
import { AUDIENCE, CI_ISS, DEV_ISS, OPERATOR_ISS } from '../identity_world.js';
import { build, withClaims, without, type TokenSpec } from '../token_factory.js';
import { changed, S, T, type AttackCase } from './attack_case.js';

const claims =
  (c: Record<string, unknown>) =>
  (s: TokenSpec): TokenSpec =>
    withClaims(s, c);
const drop =
  (name: string) =>
  (s: TokenSpec): TokenSpec =>
    without(s, 'payload', name);

export const ATTACKS_CLAIMS: readonly AttackCase[] = [
  // exp (required; JWT-SVID.md §3.3)
  changed('no exp', 'ERR_TOKEN_CLAIMS', S.agent, drop('exp')),
  changed('a string exp', 'ERR_TOKEN_CLAIMS', S.agent, claims({ exp: String(T + 600) })),
  changed('a null exp', 'ERR_TOKEN_CLAIMS', S.agent, claims({ exp: null })),
  changed('an array exp', 'ERR_TOKEN_CLAIMS', S.agent, claims({ exp: [T + 600] })),
  changed('an exp past beyond the leeway', 'ERR_TOKEN_EXPIRED', S.agent, claims({ iat: T - 700, exp: T - 31 })),
  changed('an exp exactly at the edge of the leeway', 'ERR_TOKEN_EXPIRED', S.agent, claims({ iat: T - 700, exp: T - 30 })),
  changed('a negative exp', 'ERR_TOKEN_EXPIRED', S.agent, claims({ iat: undefined, exp: -1 })),
  changed('exp 0', 'ERR_TOKEN_EXPIRED', S.agent, claims({ exp: 0 })),
  // lifetime (jose accepted exp: 1e308)
  changed('exp 1e308', 'ERR_TOKEN_LIFETIME', S.agent, claims({ exp: 1e308 })),
  changed('exp beyond the maximum lifetime', 'ERR_TOKEN_LIFETIME', S.agent, claims({ exp: T + 3600 + 31 })),
  changed('no iat and exp beyond the maximum lifetime', 'ERR_TOKEN_LIFETIME', S.agent, (s) =>
    withClaims(drop('iat')(s), { exp: T + 7200 }),
  ),
  changed('exp - iat above the maximum lifetime', 'ERR_TOKEN_LIFETIME', S.agent, claims({ iat: T - 3000, exp: T + 1000 })),
  changed('exp before iat (iat within the leeway)', 'ERR_TOKEN_CLAIMS', S.agent, claims({ iat: T + 20, exp: T + 10 })),
  changed('a fractional exp a few ms past the leeway', 'ERR_TOKEN_EXPIRED', S.agent, claims({ iat: T - 700, exp: T - 30 - 0.001 })),
  // nbf / iat in the future
  changed('an nbf beyond the leeway', 'ERR_TOKEN_NOT_YET_VALID', S.agent, claims({ nbf: T + 31 })),
  changed('a string nbf', 'ERR_TOKEN_CLAIMS', S.agent, claims({ nbf: 'now' })),
  changed('an iat beyond the leeway', 'ERR_TOKEN_NOT_YET_VALID', S.agent, claims({ iat: T + 31 })),
  changed('a boolean iat', 'ERR_TOKEN_CLAIMS', S.agent, claims({ iat: true })),
  // aud (required; exact; one audience by default — JWT-SVID.md §6.2)
  changed('no aud', 'ERR_TOKEN_CLAIMS', S.agent, drop('aud')),
  changed('another audience', 'ERR_TOKEN_AUDIENCE', S.agent, claims({ aud: 'someone-else' })),
  changed('an audience differing in case', 'ERR_TOKEN_AUDIENCE', S.agent, claims({ aud: 'Quartermaster' })),
  changed('an audience with a trailing space', 'ERR_TOKEN_AUDIENCE', S.agent, claims({ aud: `${AUDIENCE} ` })),
  changed('an audience that only starts with ours', 'ERR_TOKEN_AUDIENCE', S.agent, claims({ aud: `${AUDIENCE}-evil` })),
  changed('an aud array without the audience', 'ERR_TOKEN_AUDIENCE', S.agent, claims({ aud: ['a', 'b'] })),
  changed('a multi-audience token that includes ours', 'ERR_TOKEN_AUDIENCE', S.agent, claims({ aud: [AUDIENCE, 'reports'] })),
  changed('an empty aud array', 'ERR_TOKEN_CLAIMS', S.agent, claims({ aud: [] })),
  changed('an aud array with a non-string member', 'ERR_TOKEN_CLAIMS', S.agent, claims({ aud: [AUDIENCE, 1] })),
  changed('an aud object', 'ERR_TOKEN_CLAIMS', S.agent, claims({ aud: { [AUDIENCE]: true } })),
  // iss: exact for OIDC issuers and pinned trust domains
  changed('an unknown issuer with a non-SPIFFE sub', 'ERR_TOKEN_ISSUER_UNTRUSTED', S.ci, claims({ iss: 'https://evil.example' })),
  changed('an OIDC issuer with a trailing slash', 'ERR_TOKEN_ISSUER_UNTRUSTED', S.ci, claims({ iss: `${CI_ISS}/` })),
  changed('an OIDC issuer differing in case', 'ERR_TOKEN_ISSUER_UNTRUSTED', S.ci, claims({ iss: CI_ISS.toUpperCase() })),
  changed('no iss on a trust domain that pins it', 'ERR_TOKEN_CLAIMS', S.agent, drop('iss')),
  changed('another iss on a trust domain that pins it', 'ERR_TOKEN_ISSUER_UNTRUSTED', S.agent, claims({ iss: `${DEV_ISS}.evil` })),
  changed('a numeric iss', 'ERR_TOKEN_CLAIMS', S.agent, claims({ iss: 1 })),
  // jti: optional, but when present a non-empty string of at most 256 characters
  changed('an empty jti', 'ERR_TOKEN_CLAIMS', S.agent, claims({ jti: '' })),
  changed('a numeric jti', 'ERR_TOKEN_CLAIMS', S.agent, claims({ jti: 1 })),
  changed(
    'a jti of 257 characters (256 pass)',
    'ERR_TOKEN_CLAIMS',
    () => withClaims(S.agent(), { jti: 'j'.repeat(256) }),
    claims({ jti: 'j'.repeat(257) }),
  ),
  changed('an OIDC token with an empty jti', 'ERR_TOKEN_CLAIMS', S.ci, claims({ jti: '' })),
  // token kinds never cross
  {
    name: 'an agent token on the operator endpoint',
    endpoint: 'operator',
    code: 'ERR_TOKEN_ISSUER_UNTRUSTED',
    valid: () => build(S.operator()),
    attack: () => build(S.agent()),
  },
  {
    name: 'an OIDC agent token on the operator endpoint',
    endpoint: 'operator',
    code: 'ERR_TOKEN_ISSUER_UNTRUSTED',
    valid: () => build(S.operator()),
    attack: () => build(S.ci()),
  },
  {
    name: 'an operator token on the agent endpoint',
    code: 'ERR_TOKEN_ISSUER_UNTRUSTED',
    valid: () => build(S.agent()),
    attack: () => build(S.operator()),
  },
  changed('an operator token for another audience', 'ERR_TOKEN_AUDIENCE', S.operator, claims({ aud: 'someone-else' }), {
    endpoint: 'operator',
  }),
  changed('an operator token from an agent issuer', 'ERR_TOKEN_ISSUER_UNTRUSTED', S.operator, claims({ iss: CI_ISS }), {
    endpoint: 'operator',
  }),
  changed('an operator token without iss', 'ERR_TOKEN_CLAIMS', S.operator, drop('iss'), { endpoint: 'operator' }),
  changed('an agent token claiming the operator issuer', 'ERR_TOKEN_ISSUER_UNTRUSTED', S.ci, claims({ iss: OPERATOR_ISS })),
  // claim constraints (anchored, strings only)
  changed('a repository outside the constraint', 'ERR_TOKEN_CLAIMS', S.ci, claims({ repository: 'acme/ops-evil' })),
  changed('a ref that only contains an allowed one', 'ERR_TOKEN_CLAIMS', S.ci, claims({ ref: 'refs/heads/main-evil' })),
  changed('a constrained claim that is missing', 'ERR_TOKEN_CLAIMS', S.ci, drop('repository')),
  changed('a constrained claim that is an array', 'ERR_TOKEN_CLAIMS', S.ci, claims({ repository: ['acme/ops'] })),
  changed('a constrained claim that is an object', 'ERR_TOKEN_CLAIMS', S.ci, claims({ repository: { toString: 'acme/ops' } })),
];
