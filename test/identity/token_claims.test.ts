/**
 * Registered claims and the JOSE header (src/identity/token_claims.ts, token_header.ts) on their
 * own: every check at its bound, and the detail each refusal gives the operator. Each refusal
 * starts from claims that pass and changes one thing. The verifier's use of them is in
 * attacks.test.ts.
 */
import { describe, expect, it } from 'vitest';
import type { BrokerError } from '../../src/errors.js';
import { checkRegisteredClaims, ownClaim, type ClaimRules } from '../../src/identity/token_claims.js';
import { checkHeader, isAcceptedTyp, MAX_KID_LENGTH } from '../../src/identity/token_header.js';

const NOW = 1_900_000_000;
const RULES: ClaimRules = { audience: 'qm', allowMultipleAudiences: false, maxLifetimeSeconds: 3600, clockLeewaySeconds: 30 };
const PINNED: ClaimRules = { ...RULES, issuer: 'https://spire.dev.local' };
const valid = (): Record<string, unknown> => ({
  iss: 'https://spire.dev.local',
  sub: 'spiffe://dev.local/a',
  aud: 'qm',
  iat: NOW,
  exp: NOW + 600,
});

function refusal(run: () => unknown): { code: string; detail: string } {
  let caught: unknown;
  try {
    run();
  } catch (err) {
    caught = err;
  }
  expect(caught).toMatchObject({ status: 401 });
  const { code, detail } = caught as BrokerError;
  return { code, detail: detail ?? '' };
}

const check = (claims: Record<string, unknown>, rules: ClaimRules = PINNED) => checkRegisteredClaims(claims, rules, NOW, 'td');
const refused = (change: Record<string, unknown>, rules: ClaimRules = PINNED) => {
  expect(check(valid(), rules).exp).toBe(NOW + 600);
  return refusal(() => check({ ...valid(), ...change }, rules));
};

describe('registered claims', () => {
  it('returns exp, sub and jti, and leaves jti out when the token has none', () => {
    expect(check({ ...valid(), jti: 'j-1' })).toEqual({ exp: NOW + 600, subject: 'spiffe://dev.local/a', jti: 'j-1' });
    expect(check(valid())).toEqual({ exp: NOW + 600, subject: 'spiffe://dev.local/a' });
  });

  it('reads own members only', () => {
    const inherited = Object.create({ exp: NOW + 600, sub: 'x', aud: 'qm' }) as Record<string, unknown>;
    expect(ownClaim(inherited, 'exp')).toBeUndefined();
    expect(ownClaim({ exp: 1 }, 'exp')).toBe(1);
    expect(ownClaim({}, 'toString')).toBeUndefined();
    expect(refusal(() => check(inherited, RULES)).detail).toBe('td: required claim "aud" is missing');
  });

  describe('iss', () => {
    it('is optional when no issuer is pinned, but must be a string', () => {
      expect(check({ ...valid(), iss: undefined }, RULES).subject).toBe('spiffe://dev.local/a');
      expect(check({ ...valid(), iss: 'https://anything.example' }, RULES).subject).toBe('spiffe://dev.local/a');
      expect(refused({ iss: 7 }, RULES)).toEqual({ code: 'ERR_TOKEN_CLAIMS', detail: 'td: "iss" is not a string' });
    });

    it('must equal the pinned issuer exactly', () => {
      expect(refused({ iss: undefined })).toEqual({ code: 'ERR_TOKEN_CLAIMS', detail: 'td: required claim "iss" is missing' });
      expect(refused({ iss: 'https://spire.dev.local/' })).toEqual({
        code: 'ERR_TOKEN_ISSUER_UNTRUSTED',
        detail: 'td: "iss" "https://spire.dev.local/" is not "https://spire.dev.local"',
      });
      expect(refused({ iss: `x\n${'y'.repeat(300)}` }).detail).not.toContain('\n');
      expect(refused({ iss: `x${'y'.repeat(300)}` }).detail.length).toBeLessThan(260);
    });
  });

  describe('aud', () => {
    it('accepts the audience alone, as a string or a one-element array', () => {
      expect(check({ ...valid(), aud: ['qm'] }).exp).toBe(NOW + 600);
    });

    it.each([
      ['missing', undefined, 'ERR_TOKEN_CLAIMS', 'td: required claim "aud" is missing'],
      ['an empty array', [], 'ERR_TOKEN_CLAIMS', 'td: "aud" must be a string or a non-empty array of strings'],
      ['a number', 7, 'ERR_TOKEN_CLAIMS', 'td: "aud" must be a string or a non-empty array of strings'],
      ['an array with a number', ['qm', 7], 'ERR_TOKEN_CLAIMS', 'td: "aud" must be a string or a non-empty array of strings'],
      ['another audience', 'qm2', 'ERR_TOKEN_AUDIENCE', 'td: "aud" lacks the audience "qm"'],
      [
        'two audiences',
        ['qm', 'reports'],
        'ERR_TOKEN_AUDIENCE',
        'td: "aud" names 2 audiences; this issuer allows only one (allowMultipleAudiences)',
      ],
    ])('refuses an aud that is %s', (_name, aud, code, detail) => {
      expect(refused({ aud })).toEqual({ code, detail });
    });

    it('allows more audiences where configured, as long as ours is one of them', () => {
      const lenient = { ...PINNED, allowMultipleAudiences: true };
      expect(check({ ...valid(), aud: ['reports', 'qm'] }, lenient).exp).toBe(NOW + 600);
      expect(refused({ aud: ['reports', 'other'] }, lenient).code).toBe('ERR_TOKEN_AUDIENCE');
    });
  });

  describe('times', () => {
    it.each([
      ['exp missing', { exp: undefined }, 'ERR_TOKEN_CLAIMS', 'td: required claim "exp" is missing'],
      ['exp a string', { exp: String(NOW + 600) }, 'ERR_TOKEN_CLAIMS', 'td: "exp" is not a number'],
      ['exp infinite', { exp: Infinity }, 'ERR_TOKEN_CLAIMS', 'td: "exp" is not a number'],
      ['exp NaN', { exp: NaN }, 'ERR_TOKEN_CLAIMS', 'td: "exp" is not a number'],
      ['nbf a string', { nbf: 'now' }, 'ERR_TOKEN_CLAIMS', 'td: "nbf" is not a number'],
      ['iat null', { iat: null }, 'ERR_TOKEN_CLAIMS', 'td: "iat" is not a number'],
      ['exp at the leeway', { iat: NOW - 700, exp: NOW - 30 }, 'ERR_TOKEN_EXPIRED', 'td: "exp" passed 30s ago (leeway 30s)'],
      ['exp fractionally past', { iat: NOW - 700, exp: NOW - 30.25 }, 'ERR_TOKEN_EXPIRED', 'td: "exp" passed 30.25s ago (leeway 30s)'],
      ['nbf past the leeway', { nbf: NOW + 30.5 }, 'ERR_TOKEN_NOT_YET_VALID', 'td: "nbf" is 30.5s in the future'],
      ['iat past the leeway', { iat: NOW + 31, exp: NOW + 600 }, 'ERR_TOKEN_NOT_YET_VALID', 'td: "iat" is 31s in the future'],
      [
        'exp beyond lifetime and leeway',
        { iat: undefined, exp: NOW + 3631 },
        'ERR_TOKEN_LIFETIME',
        'td: token expires in 3631s; maximum lifetime is 3600s',
      ],
      ['exp before iat', { iat: NOW + 20, exp: NOW + 10 }, 'ERR_TOKEN_CLAIMS', 'td: "exp" is before "iat"'],
      ['exp - iat over the maximum', { iat: NOW - 1, exp: NOW + 3600 }, 'ERR_TOKEN_LIFETIME', 'td: token lifetime 3601s exceeds 3600s'],
    ])('refuses %s', (_name, change, code, detail) => {
      expect(refused(change)).toEqual({ code, detail });
    });

    it.each([
      ['exp just inside the leeway', { iat: NOW - 700, exp: NOW - 29.999 }],
      ['nbf and iat exactly at the leeway', { nbf: NOW + 30, iat: NOW + 30, exp: NOW + 600 }],
      ['exp at exactly lifetime plus leeway without iat', { iat: undefined, exp: NOW + 3630 }],
      ['exp - iat exactly the maximum', { iat: NOW, exp: NOW + 3600 }],
      ['exp equal to iat', { iat: NOW, exp: NOW }],
      ['nbf in the past', { nbf: NOW - 1000 }],
    ])('accepts %s', (_name, change: Record<string, unknown>) => {
      const claims = { ...valid(), ...change };
      expect(check(claims).exp).toBe(claims.exp);
    });
  });

  describe('sub', () => {
    it('takes a sub of exactly 2048 characters and refuses 2049', () => {
      expect(check({ ...valid(), sub: 's'.repeat(2048) }).subject).toHaveLength(2048);
      expect(refused({ sub: 's'.repeat(2049) })).toEqual({
        code: 'ERR_TOKEN_CLAIMS',
        detail: 'td: "sub" must be a non-empty string of at most 2048 characters without control or format characters',
      });
    });

    it.each([
      ['empty', ''],
      ['a number', 7],
      ['missing', undefined],
      ['with a newline', 'a\nb'],
      ['with a right-to-left override', 'a\u202eb'],
    ])('refuses a sub that is %s', (_name, sub) => {
      expect(refused({ sub }).detail).toMatch(/^td: "sub" must be a non-empty string/u);
    });
  });

  describe('jti', () => {
    it('takes a jti of exactly 256 characters and refuses an empty one, a number and 257 characters', () => {
      expect(check({ ...valid(), jti: 'j'.repeat(256) }).jti).toHaveLength(256);
      expect(check({ ...valid(), jti: 'j' }).jti).toBe('j');
      for (const jti of ['', 7, null, 'j'.repeat(257)])
        expect(refused({ jti })).toEqual({
          code: 'ERR_TOKEN_CLAIMS',
          detail: 'td: "jti" must be a non-empty string of at most 256 characters',
        });
    });
  });
});

describe('header', () => {
  const header = (): Record<string, unknown> => ({ alg: 'ES256', kid: 'k1', typ: 'JWT' });
  const headerRefused = (change: Record<string, unknown>): string => {
    expect(checkHeader(header())).toEqual({ alg: 'ES256', kid: 'k1', typ: 'JWT' });
    const err = refusal(() => checkHeader({ ...header(), ...change }));
    expect(err.code).toBe('ERR_TOKEN_MALFORMED');
    return err.detail;
  };

  it('returns alg, kid and typ, typ undefined when absent', () => {
    expect(checkHeader({ alg: 'RS256', kid: 'k' })).toEqual({ alg: 'RS256', kid: 'k', typ: undefined });
  });

  it('takes a kid of exactly MAX_KID_LENGTH (128) characters and refuses 129, an empty kid, a missing or numeric one', () => {
    expect(MAX_KID_LENGTH).toBe(128);
    expect(checkHeader({ ...header(), kid: 'k'.repeat(128) }).kid).toHaveLength(128);
    expect(checkHeader({ ...header(), kid: 'k' }).kid).toBe('k');
    for (const kid of ['', 'k'.repeat(129), undefined, 7])
      expect(headerRefused({ kid })).toBe('header "kid" missing, not a string, or longer than 128');
  });

  it('refuses a missing, empty or non-string alg', () => {
    for (const alg of [undefined, '', 256]) expect(headerRefused({ alg })).toBe('header "alg" missing or not a string');
  });

  it('refuses a non-string typ', () => {
    expect(headerRefused({ typ: 1 })).toBe('header "typ" is not a string');
    expect(headerRefused({ typ: null })).toBe('header "typ" is not a string');
  });

  it('refuses every parameter but alg, kid and typ, naming it cleaned', () => {
    for (const name of ['jwk', 'jku', 'x5u', 'x5c', 'crit', 'b64', 'cty', 'zip', 'enc'])
      expect(headerRefused({ [name]: 'x' })).toBe(`header parameter "${name}" is not accepted`);
    expect(headerRefused({ 'a\nb': 1 })).not.toContain('\n');
  });
});

describe('typ', () => {
  it('accepts absent, JWT and JOSE in any case, with or without application/', () => {
    for (const typ of [undefined, 'JWT', 'jwt', 'JOSE', 'jose', 'application/jwt', 'Application/JWT', 'application/jose'])
      expect(isAcceptedTyp(typ)).toBe(true);
  });

  it('refuses every other typ, and application/ anywhere but at the start', () => {
    for (const typ of [
      '',
      'at+jwt',
      'application/at+jwt',
      'JWE',
      'jwt ',
      'xapplication/jwt',
      'jwtapplication/',
      'application/',
      'JOSE+JSON',
    ])
      expect(isAcceptedTyp(typ)).toBe(false);
  });
});
