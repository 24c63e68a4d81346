/**
 * Interoperability beyond the broker's own output (issue 3, "must show" 3): tokens minted by
 * independent implementations verify. PyJWT's tokens are stored fixtures with their public keys
 * (test/fixtures/identity/pyjwt/mint_fixtures.py made them once; CI needs no Python), verified at
 * their stored issue time. Hand-rolled node:crypto tokens cover the same algorithms again, and
 * jose — the library the broker no longer verifies with — must agree on every one of them.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createLocalJWKSet, jwtVerify } from 'jose';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { BrokerError } from '../../src/errors.js';
import { AUDIENCE, createWorld, jwksOf, specs, type World } from './identity_world.js';
import { build, createSigner, signedBy, type SignAlg } from './token_factory.js';

const FIXTURES = join(import.meta.dirname, '../fixtures/identity/pyjwt');
const read = (name: string): any => JSON.parse(readFileSync(join(FIXTURES, name), 'utf8'));
const fixture = read('tokens.json') as {
  generator: string;
  iat: number;
  trustDomain: string;
  oidcIssuer: string;
  tokens: Array<{ alg: string; kind: 'spiffe' | 'oidc'; token: string }>;
};
const SVID_ALGS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512'];

let now = fixture.iat * 1000;
let world: World;
beforeEach(() => {
  now = fixture.iat * 1000;
  world = createWorld(() => now);
});
afterEach(() => world.cleanup());

const bootWithFixtures = () =>
  world.boot({
    config: world.config((raw) => {
      raw.agents.spiffe.push({ trustDomain: fixture.trustDomain, bundle: { file: join(FIXTURES, 'bundle.json') }, algorithms: SVID_ALGS });
      raw.agents.oidc.push({
        name: 'pyjwt',
        issuer: fixture.oidcIssuer,
        keys: { file: join(FIXTURES, 'jwks.json') },
        algorithms: ['EdDSA'],
      });
    }),
  });

/** jose's verdict on the same token with the same public keys. */
async function joseAccepts(token: string, keys: { keys: unknown[] }, nowMs: number): Promise<boolean> {
  // jose's local sets refuse `use: "jwt-svid"`; rewrite it as docs/security.md §1 describes.
  const jwks = { keys: keys.keys.map((k) => ({ ...(k as object), use: 'sig' })) } as Parameters<typeof createLocalJWKSet>[0];
  return jwtVerify(token, createLocalJWKSet(jwks), { audience: AUDIENCE, currentDate: new Date(nowMs) }).then(
    () => true,
    () => false,
  );
}

describe(`tokens minted by ${fixture.generator}`, () => {
  it('covers every JWS algorithm the broker supports', () => {
    expect(fixture.tokens.map((t) => t.alg).sort()).toEqual([...SVID_ALGS, 'EdDSA'].sort());
  });

  it.each(fixture.tokens.map((t) => [t.alg, t] as const))('verifies %s', async (alg, { kind, token }) => {
    const identity = await bootWithFixtures();
    const agent = await identity.authenticateAgent(token);
    if (kind === 'spiffe')
      expect(agent).toMatchObject({
        id: `spiffe://${fixture.trustDomain}/ns/agents/sa/${alg.toLowerCase()}`,
        trustDomain: fixture.trustDomain,
        jti: `py-${alg}`,
      });
    else expect(agent).toMatchObject({ id: `${fixture.oidcIssuer}#repo:acme/ops:ref:refs/heads/main`, issuerName: 'pyjwt' });
    expect(await joseAccepts(token, read(kind === 'spiffe' ? 'bundle.json' : 'jwks.json'), now)).toBe(true);
  });

  it.each(fixture.tokens.map((t) => [t.alg, t] as const))(
    'refuses %s with one signature byte changed, and after exp',
    async (_alg, { token }) => {
      const identity = await bootWithFixtures();
      const i = token.lastIndexOf('.');
      const sig = Buffer.from(token.slice(i + 1), 'base64url');
      sig[10] = (sig[10] ?? 0) ^ 0x01;
      const forged = `${token.slice(0, i + 1)}${sig.toString('base64url')}`;
      expect(await identity.authenticateAgent(forged).catch((err: BrokerError) => err.code)).toBe('ERR_TOKEN_SIGNATURE');
      now = (fixture.iat + 600 + 30) * 1000;
      expect(await identity.authenticateAgent(token).catch((err: BrokerError) => err.code)).toBe('ERR_TOKEN_EXPIRED');
    },
  );
});

describe('tokens signed by hand with node:crypto', () => {
  const S = specs(() => Math.floor(now / 1000));
  it.each<SignAlg>(['RS256', 'PS256', 'ES256', 'ES384', 'EdDSA'])('verifies %s, and jose agrees', async (alg) => {
    const signer = createSigner(alg, `hand-${alg}`);
    const keys = jwksOf(signer.jwk) as { keys: unknown[] };
    world.write(world.files.ci, keys);
    const identity = await world.boot({
      config: world.config((raw) => {
        raw.agents.oidc[0].algorithms = [alg];
      }),
    });
    const token = build(signedBy(S.ci(), signer));
    await expect(identity.authenticateAgent(token)).resolves.toMatchObject({ issuerName: 'ci' });
    expect(await joseAccepts(token, keys, now)).toBe(true);
  });
});
