/**
 * The verifier's accepting side and its caches: what each kind of trust entry reports, every
 * signature algorithm, operator roles, the verified-token cache (a hit needs the same signature,
 * ends at exp and when the key leaves its set), boot errors, and what reaches the log.
 * Refusals live in attacks.test.ts.
 */
import { chmodSync, rmSync, writeFileSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { BrokerError } from '../../src/errors.js';
import { hasPermission, permissionGrants } from '../../src/identity/roles.js';
import { parseSpiffeId } from '../../src/identity/spiffe_id.js';
import type { Identity } from '../../src/identity/types.js';
import { createIdentity } from '../../src/identity/verifier.js';
import { createLogger } from '../../src/logging.js';
import { eventually } from '../support/broker_harness.js';
import { createLogCapture } from '../support/log_capture.js';
import {
  AGENT_ID,
  AUDIENCE,
  bundleOf,
  CI_ISS,
  createWorld,
  DEV_ISS,
  OPERATOR_ISS,
  refusal,
  signers,
  specs,
  START,
  type World,
} from './identity_world.js';
import {
  build,
  createSigner,
  highSTwin,
  replaceSignature,
  signedBy,
  withAlg,
  withClaims,
  withHeader,
  without,
  type SignAlg,
} from './token_factory.js';

let now = START;
const nowSec = (): number => Math.floor(now / 1000);
const S = specs(nowSec);
const k = signers();
let world: World;
let identity: Identity;

beforeEach(async () => {
  now = START;
  world = createWorld(() => now);
  identity = await world.boot();
});
afterEach(() => world.cleanup());

describe('accepted tokens', () => {
  it('reports a JWT-SVID as its SPIFFE ID, trust domain and pinned issuer', async () => {
    const agent = await identity.authenticateAgent(build(S.agent()));
    expect(agent).toEqual({
      kind: 'agent',
      id: AGENT_ID,
      issuer: DEV_ISS,
      issuerName: 'dev.local',
      subject: AGENT_ID,
      trustDomain: 'dev.local',
      jti: 'jti-1',
      expiresAt: (nowSec() + 600) * 1000,
      acceptedUntil: (nowSec() + 630) * 1000,
      fingerprint: expect.stringMatching(/^[0-9a-f]{16}$/),
      tokenId: expect.stringMatching(/^[0-9a-f]{64}$/),
    });
    expect(Object.isFrozen(agent)).toBe(true);
  });

  it('accepts a JWT-SVID without iss from a trust domain that pins none', async () => {
    const agent = await identity.authenticateAgent(build(S.other()));
    expect(agent).toMatchObject({
      id: 'spiffe://other.example/ns/agents/sa/forensics',
      issuer: 'spiffe://other.example',
      trustDomain: 'other.example',
    });
    expect(agent).not.toHaveProperty('jti');
  });

  it('names an OIDC agent iss#sub and checks its claim constraints', async () => {
    const agent = await identity.authenticateAgent(build(S.ci()));
    expect(agent).toMatchObject({ id: `${CI_ISS}#repo:acme/ops:ref:refs/heads/main`, issuer: CI_ISS, issuerName: 'ci' });
    expect(agent).not.toHaveProperty('trustDomain');
    expect(agent).not.toHaveProperty('jti');
    await expect(identity.authenticateAgent(build(withClaims(S.ci(), { ref: 'refs/heads/release-12' })))).resolves.toMatchObject({
      issuerName: 'ci',
    });
  });

  it.each(['RS256', 'PS256'] as const)('verifies %s with the RSA bundle key', async (alg) => {
    await expect(identity.authenticateAgent(build(signedBy(S.agent(), withAlg(k.devRsa, alg))))).resolves.toMatchObject({ id: AGENT_ID });
  });

  it.each<[SignAlg, string]>([
    ['ES384', 'P-384'],
    ['ES512', 'P-521'],
    ['EdDSA', 'Ed25519'],
    ['RS384', 'RSA'],
    ['PS512', 'RSA'],
  ])('verifies %s (%s) for an issuer that allows it', async (alg) => {
    const signer = createSigner(alg, `k-${alg}`);
    world.write(world.files.ci, { keys: [signer.jwk] });
    const custom = await world.boot({
      config: world.config((raw) => {
        raw.agents.oidc[0].algorithms = [alg];
      }),
    });
    await expect(custom.authenticateAgent(build(signedBy(S.ci(), signer)))).resolves.toMatchObject({ issuerName: 'ci' });
  });

  it.each([
    ['typ absent', () => without(S.agent(), 'header', 'typ')],
    ['typ JOSE', () => withHeader(S.agent(), { typ: 'JOSE' })],
    ['typ application/jwt', () => withHeader(S.agent(), { typ: 'application/jwt' })],
    ['aud a one-element array', () => withClaims(S.agent(), { aud: [AUDIENCE] })],
    ['no iat', () => without(S.agent(), 'payload', 'iat')],
    ['exp just inside the clock leeway', () => withClaims(S.agent(), { iat: nowSec() - 600, exp: nowSec() - 29 })],
    ['nbf and iat just inside the leeway', () => withClaims(S.agent(), { nbf: nowSec() + 30, iat: nowSec() + 30, exp: nowSec() + 630 })],
    ['lifetime exactly the maximum', () => withClaims(S.agent(), { exp: nowSec() + 3600 })],
    ['fractional NumericDates', () => withClaims(S.agent(), { iat: nowSec() + 0.5, exp: nowSec() + 600.25 })],
    [
      'a signed __proto__ claim, which changes nothing',
      () => ({
        ...S.agent(),
        payload: JSON.stringify(S.agent().payload).replace('{', '{"__proto__":{"isOperator":true,"trustDomain":"evil"},'),
      }),
    ],
  ])('accepts an agent token with %s', async (_name, spec) => {
    const agent = await identity.authenticateAgent(build(spec()));
    expect(agent).toMatchObject({ id: AGENT_ID, trustDomain: 'dev.local' });
    expect(Object.getPrototypeOf(agent)).toBe(Object.prototype);
  });

  it('accepts a multi-audience token where the issuer allows it', async () => {
    const token = build(withClaims(S.ci(), { aud: [AUDIENCE, 'reports'] }));
    expect((await refusal(identity.authenticateAgent(token))).code).toBe('ERR_TOKEN_AUDIENCE');
    const lenient = await world.boot({
      config: world.config((raw) => {
        raw.agents.oidc[0].allowMultipleAudiences = true;
      }),
    });
    await expect(lenient.authenticateAgent(token)).resolves.toMatchObject({ issuerName: 'ci' });
  });

  it('uses a per-issuer audience over identity.audience', async () => {
    const custom = await world.boot({
      config: world.config((raw) => {
        raw.agents.oidc[0].audience = 'https://broker.example/ci';
      }),
    });
    expect((await refusal(custom.authenticateAgent(build(S.ci())))).code).toBe('ERR_TOKEN_AUDIENCE');
    await expect(custom.authenticateAgent(build(withClaims(S.ci(), { aud: 'https://broker.example/ci' })))).resolves.toMatchObject({
      issuerName: 'ci',
    });
  });
});

describe('kid length', () => {
  it('accepts a kid of exactly 128 characters, and refuses one of 129 as malformed before any key lookup', async () => {
    const longKid = { ...k.devEs, kid: 'k'.repeat(128) };
    const longerKid = { ...k.devEs, kid: 'k'.repeat(129) };
    world.write(world.files.dev, bundleOf({ ...k.devEs.jwk, kid: longKid.kid }, { ...k.devRsa.jwk, kid: longerKid.kid }));
    const booted = await world.boot();
    await expect(booted.authenticateAgent(build(signedBy(S.agent(), longKid)))).resolves.toMatchObject({ id: AGENT_ID });
    // The bundle does hold a key under the 129-character kid: only the header bound refuses it.
    const err = await refusal(booted.authenticateAgent(build(signedBy(S.agent(), { ...k.devRsa, kid: longerKid.kid }))));
    expect(err.code).toBe('ERR_TOKEN_MALFORMED');
    expect(err.detail).toContain('longer than 128');
  });
});

describe('SPIFFE subjects, byte by byte', () => {
  it('accepts a JWT-SVID exactly when its sub parses, for every byte value in the path', async () => {
    for (let b = 0; b < 256; b++) {
      const sub = `spiffe://dev.local/ag${String.fromCharCode(b)}ent`;
      const valid = parseSpiffeId(sub) !== null;
      const got = await identity.authenticateAgent(build(withClaims(S.agent(), { sub }))).then(
        (a) => a.id,
        (err: BrokerError) => err.code,
      );
      expect([b, got]).toEqual([b, valid ? sub : 'ERR_TOKEN_CLAIMS']);
    }
  });
});

describe('operators', () => {
  it('accepts an operator token with the operator role', async () => {
    await expect(identity.authenticateOperator(build(S.operator()))).resolves.toEqual({
      kind: 'operator',
      subject: 'alice@example.com',
      issuer: OPERATOR_ISS,
      roles: ['operator'],
      expiresAt: (nowSec() + 600) * 1000,
      fingerprint: expect.stringMatching(/^[0-9a-f]{16}$/),
    });
  });

  it.each([
    ['without the roles claim', undefined, []],
    ['with other roles', ['viewer'], ['viewer']],
    ['with roles that are not all strings', ['operator', 1], []],
    ['with roles as an object', { operator: true }, []],
  ])('authenticates an operator %s but not as operator', async (_name, roles, expected) => {
    const spec = roles === undefined ? without(S.operator(), 'payload', 'roles') : withClaims(S.operator(), { roles });
    const operator = await identity.authenticateOperator(build(spec));
    expect(operator.roles).toEqual(expected);
    expect(hasPermission(operator, 'incidents.read', permissionGrants(world.config().operators))).toBe(false);
  });

  it("wants the operator audience, not the agents' one, unless identity.operators.audience names it", async () => {
    await expect(identity.authenticateOperator(build(S.operator()))).resolves.toMatchObject({ subject: 'alice@example.com' });
    const agentsAudience = build(withClaims(S.operator(), { aud: AUDIENCE }));
    await expect(identity.authenticateOperator(agentsAudience)).rejects.toMatchObject({ code: 'ERR_TOKEN_AUDIENCE' });
    const shared = await world.boot({
      config: world.config((raw) => {
        raw.operators.audience = AUDIENCE;
      }),
    });
    await expect(shared.authenticateOperator(agentsAudience)).resolves.toMatchObject({ subject: 'alice@example.com' });
  });

  describe('operator rules', () => {
    const bootWith = (rules: Record<string, unknown>) =>
      world.boot({
        config: world.config((raw) => {
          Object.assign(raw.operators, rules);
        }),
      });
    const accepts = async (id: Identity, claims: Record<string, unknown>) =>
      (await id.authenticateOperator(build(withClaims(S.operator(), claims)))).subject;
    const refusal = (id: Identity, claims: Record<string, unknown>) =>
      id.authenticateOperator(build(withClaims(S.operator(), claims))).then(
        () => 'accepted',
        (err: BrokerError) => `${err.code}: ${String(err.detail)}`,
      );

    it('takes only tokens issued to an allowed client, by azp or else client_id', async () => {
      const id = await bootWith({ allowedClients: ['qm-console', 'qm-cli'] });
      expect(await accepts(id, { azp: 'qm-console' })).toBe('alice@example.com');
      expect(await accepts(id, { client_id: 'qm-cli' })).toBe('alice@example.com');
      expect(await refusal(id, { azp: 'other-app' })).toBe(
        'ERR_TOKEN_CLAIMS: identity.operators: client "other-app" is not in allowedClients',
      );
      // azp wins over client_id.
      expect(await refusal(id, { azp: 'other-app', client_id: 'qm-cli' })).toMatch(/"other-app" is not in allowedClients$/u);
      expect(await refusal(id, {})).toBe(
        'ERR_TOKEN_CLAIMS: identity.operators: the token names no client (azp or client_id) and allowedClients is set',
      );
      // Without the setting, any client passes.
      expect(await accepts(identity, { azp: 'other-app' })).toBe('alice@example.com');
    });

    it('takes only tokens whose amr holds one of amrAnyOf', async () => {
      const id = await bootWith({ amrAnyOf: ['mfa', 'hwk'] });
      expect(await accepts(id, { amr: ['pwd', 'mfa'] })).toBe('alice@example.com');
      expect(await accepts(id, { amr: ['hwk'] })).toBe('alice@example.com');
      for (const amr of [['pwd'], [], 'mfa', [1, { mfa: true }], undefined]) {
        expect(await refusal(id, { amr })).toBe(
          'ERR_TOKEN_CLAIMS: identity.operators: amr holds none of mfa, hwk (a sign-in method amrAnyOf requires)',
        );
      }
      expect(await accepts(identity, { amr: ['pwd'] })).toBe('alice@example.com');
    });

    it('refuses service-principal tokens unless allowServicePrincipals, and takes a human beside the same client', async () => {
      const human = { azp: 'qm-console', client_id: 'qm-console' };
      expect(await accepts(identity, human)).toBe('alice@example.com');
      const principals: Array<[Record<string, unknown>, string]> = [
        [{ idtyp: 'app' }, 'idtyp is app'],
        [{ gty: 'client-credentials' }, 'gty is client-credentials'],
        [{ sub: 'qm-automation', azp: 'qm-automation' }, 'sub is the client id'],
        [{ sub: 'qm-automation', client_id: 'qm-automation' }, 'sub is the client id'],
      ];
      for (const [claims, why] of principals) {
        expect(await refusal(identity, claims)).toBe(
          `ERR_TOKEN_CLAIMS: identity.operators: a service-principal token (${why}); operators are humans`,
        );
      }
      const lenient = await bootWith({ allowServicePrincipals: true });
      for (const [claims] of principals) expect(await accepts(lenient, claims)).toBe(claims.sub ?? 'alice@example.com');
      // Other values of those claims are humans.
      expect(await accepts(identity, { idtyp: 'user', gty: 'password' })).toBe('alice@example.com');
    });
  });

  it('reads a roles claim that is one string as that one role, and freezes the roles', async () => {
    const operator = await identity.authenticateOperator(build(withClaims(S.operator(), { roles: 'operator' })));
    expect(operator).toMatchObject({ roles: ['operator'] });
    expect(Object.isFrozen(operator.roles)).toBe(true);
    const listed = await identity.authenticateOperator(build(withClaims(S.operator(), { roles: ['viewer', 'operator'] })));
    expect(listed).toMatchObject({ roles: ['viewer', 'operator'] });
    expect(Object.isFrozen(listed.roles)).toBe(true);
    expect(Object.isFrozen((await identity.authenticateOperator(build(withClaims(S.operator(), { roles: 7 })))).roles)).toBe(true);
  });

  it('does not read a roles claim from Object.prototype', async () => {
    const custom = await world.boot({
      config: world.config((raw) => {
        raw.operators.rolesClaim = 'toString';
      }),
    });
    expect((await custom.authenticateOperator(build(without(S.operator(), 'payload', 'roles')))).roles).toEqual([]);
  });
});

describe('introspection callers', () => {
  const INTROSPECT_AUDIENCE = `${AUDIENCE}/introspect`;

  it("takes an operator token as an operator, and an agent issuer's token for the introspection audience as a workload", async () => {
    await expect(identity.authenticateIntrospectionCaller(build(S.operator()))).resolves.toMatchObject({
      kind: 'operator',
      subject: 'alice@example.com',
    });
    const workload = await identity.authenticateIntrospectionCaller(build(withClaims(S.agent(), { aud: INTROSPECT_AUDIENCE })));
    expect(workload).toMatchObject({ kind: 'agent', id: AGENT_ID, issuer: DEV_ISS });
  });

  it("refuses an agent's token (the agents' audience) and takes no introspection token at the agent endpoints", async () => {
    await expect(identity.authenticateAgent(build(S.agent()))).resolves.toMatchObject({ id: AGENT_ID });
    await expect(identity.authenticateIntrospectionCaller(build(S.agent()))).rejects.toMatchObject({ code: 'ERR_TOKEN_AUDIENCE' });
    await expect(identity.authenticateAgent(build(withClaims(S.agent(), { aud: INTROSPECT_AUDIENCE })))).rejects.toMatchObject({
      code: 'ERR_TOKEN_AUDIENCE',
    });
    // An operator token for the introspection audience is an operator token with the wrong audience.
    await expect(
      identity.authenticateIntrospectionCaller(build(withClaims(S.operator(), { aud: INTROSPECT_AUDIENCE }))),
    ).rejects.toMatchObject({
      code: 'ERR_TOKEN_AUDIENCE',
    });
  });

  it('keeps cached verifications of one token apart by endpoint kind', async () => {
    const token = build(withClaims(S.agent(), { aud: INTROSPECT_AUDIENCE }));
    const first = await identity.authenticateIntrospectionCaller(token);
    expect(await identity.authenticateIntrospectionCaller(token)).toBe(first);
    await expect(identity.authenticateAgent(token)).rejects.toMatchObject({ code: 'ERR_TOKEN_AUDIENCE' });
  });

  it('refuses a malformed token before choosing a kind', async () => {
    await expect(identity.authenticateIntrospectionCaller('not-a-jwt')).rejects.toMatchObject({ code: 'ERR_TOKEN_MALFORMED' });
  });
});

describe('verified-token cache', () => {
  it('returns the same identity for the same token until its exp, then refuses it', async () => {
    const token = build(withClaims(S.agent(), { exp: nowSec() + 60 }));
    const first = await identity.authenticateAgent(token);
    expect(await identity.authenticateAgent(token)).toBe(first);
    now += 59_000;
    expect(await identity.authenticateAgent(token)).toBe(first);
    now += 1_000;
    // Past exp the cache is no longer consulted; the full path still allows the leeway.
    const again = await identity.authenticateAgent(token);
    expect(again).not.toBe(first);
    now += 30_000;
    expect((await refusal(identity.authenticateAgent(token))).code).toBe('ERR_TOKEN_EXPIRED');
  });

  it('never answers a forged signature over a cached header.payload from the cache', async () => {
    const token = build(S.agent());
    await identity.authenticateAgent(token);
    expect((await refusal(identity.authenticateAgent(replaceSignature(token, Buffer.alloc(64, 7))))).code).toBe('ERR_TOKEN_SIGNATURE');
    // A valid high-S twin takes the full path and verifies: same token, new signature.
    const twin = await identity.authenticateAgent(highSTwin(token));
    expect(twin.tokenId).toBe((await identity.authenticateAgent(token)).tokenId);
  });

  it('keeps token kinds apart', async () => {
    const token = build(S.operator());
    await identity.authenticateOperator(token);
    expect((await refusal(identity.authenticateAgent(token))).code).toBe('ERR_TOKEN_ISSUER_UNTRUSTED');
  });

  it('drops an entry once its key leaves the key set', async () => {
    const token = build(S.agent());
    await identity.authenticateAgent(token);
    world.write(world.files.dev, bundleOf(k.devRsa.jwk));
    now += 300_000; // the bundle's refresh interval: the next verification refreshes in the background
    await identity.authenticateAgent(build(signedBy(S.agent(), k.devRsa)));
    await eventuallyRefused(() => identity.authenticateAgent(token), 'ERR_TOKEN_SIGNATURE');
  });

  it('keeps entries of keys that did not change across a refresh', async () => {
    const token = build(S.agent());
    const first = await identity.authenticateAgent(token);
    now += 300_000;
    world.write(world.files.dev, bundleOf(k.devEs.jwk, k.devRsa.jwk));
    await identity.authenticateAgent(build(signedBy(S.agent(), k.devRsa)));
    await eventuallyRefused(() => identity.authenticateAgent(build(withHeader(S.agent(), { kid: 'gone' }))), 'ERR_TOKEN_SIGNATURE');
    expect(await identity.authenticateAgent(token)).toBe(first);
  });

  it('can be turned off', async () => {
    const uncached = await world.boot({
      config: world.config((raw) => {
        raw.tokenCache = { maxEntries: 0 };
      }),
    });
    const token = build(S.agent());
    expect(await uncached.authenticateAgent(token)).not.toBe(await uncached.authenticateAgent(token));
  });
});

describe('boot', () => {
  it.each([
    ['a private key', () => [{ ...(k.devEs.privateKey.export({ format: 'jwk' }) as object), kid: 'p', use: 'jwt-svid' }]],
    ['a symmetric key', () => [k.devEs.jwk, { kty: 'oct', k: 'c2VjcmV0', kid: 'hmac', use: 'jwt-svid' }]],
    ['a symmetric key without its secret', () => [k.devEs.jwk, { kty: 'oct', kid: 'hmac', use: 'jwt-svid' }]],
  ])('refuses a bundle file holding %s, naming the config path', async (_name, keys) => {
    world.write(world.files.dev, { keys: keys() });
    const err = await refusal(world.boot());
    expect(err.code).toBe('ERR_CONFIG');
    expect(err.message).toContain('identity.agents.spiffe[dev.local].bundle');
  });

  it('refuses a key file that is missing or not a key set', async () => {
    world.write(world.files.operators, '[]');
    expect((await refusal(world.boot())).message).toContain('identity.operators.keys');
    world.cleanup();
    expect((await refusal(world.boot())).code).toBe('ERR_CONFIG');
  });

  it('trusts nothing from a bundle with no keys', async () => {
    world.write(world.files.dev, bundleOf());
    const empty = await world.boot();
    expect((await refusal(empty.authenticateAgent(build(S.agent())))).code).toBe('ERR_TOKEN_SIGNATURE');
    await expect(empty.authenticateAgent(build(S.other()))).resolves.toMatchObject({ trustDomain: 'other.example' });
  });

  it('uses the fingerprint key file, so replicas agree on fingerprints', async () => {
    const keyFile = `${world.dir}/fingerprint.key`;
    writeFileSync(keyFile, 'shared-fingerprint-key');
    const config = world.config((raw) => {
      raw.fingerprintKeyFile = keyFile;
    });
    const [a, b] = [await world.boot({ config }), await world.boot({ config })];
    const token = build(S.agent());
    expect((await a.authenticateAgent(token)).fingerprint).toBe((await b.authenticateAgent(token)).fingerprint);
    expect((await identity.authenticateAgent(token)).fingerprint).not.toBe((await a.authenticateAgent(token)).fingerprint);
  });

  it('refuses a fingerprint key file others may read only where secret files are strict', async () => {
    const keyFile = `${world.dir}/fingerprint.key`;
    writeFileSync(keyFile, 'shared-fingerprint-key');
    chmodSync(keyFile, 0o644);
    const config = world.config((raw) => {
      raw.fingerprintKeyFile = keyFile;
    });
    const deps = { logger: createLogger({ level: 'silent' }), now: () => now };
    await expect(createIdentity(config, deps)).resolves.toBeTruthy();
    await expect(createIdentity(config, { ...deps, strictSecretFiles: false })).resolves.toBeTruthy();
    const err = await refusal(createIdentity(config, { ...deps, strictSecretFiles: true }));
    expect(err).toMatchObject({ code: 'ERR_CONFIG', status: 500 });
    expect(err.cause).toMatchObject({ code: 'ERR_CONFIG' });
    expect(err.message).toMatch(/^identity: identity\.fingerprintKeyFile: .* may be read by group or others/u);
    rmSync(keyFile);
    expect((await refusal(world.boot({ config }))).message).toBe(
      `identity: identity.fingerprintKeyFile: ${keyFile} cannot be read (ENOENT)`,
    );
  });
});

describe('logging', () => {
  it('never writes a token or its signature to the log, on success or refusal', async () => {
    const capture = createLogCapture();
    const logged = await world.boot({ logger: createLogger({ level: 'trace', destination: capture }) });
    const tokens = [
      build(S.agent()),
      build(S.operator()),
      build(S.ci()),
      build(withClaims(S.agent(), { aud: 'someone-else' })),
      build(withClaims(S.agent(), { iat: nowSec() - 700, exp: nowSec() - 60 })),
      build(withHeader(S.agent(), { kid: 'unknown' })),
    ];
    world.write(world.files.dev, '{"keys": [');
    now += 300_000;
    tokens.push(build(withHeader(S.agent(), { kid: 'unknown-after-refresh' })));
    for (const token of tokens) {
      await logged.authenticateAgent(token).catch(() => undefined);
      await logged.authenticateOperator(token).catch(() => undefined);
    }
    await eventuallyLogged(capture, 'key set refresh failed');
    const text = capture.text();
    for (const token of tokens) {
      expect(text).not.toContain(token);
      expect(text).not.toContain(token.split('.')[2]);
    }
  });
});

describe('boot warnings', () => {
  it('warns about an OIDC agent issuer without claim constraints, and not about one with them', async () => {
    const capture = createLogCapture();
    await world.boot({ logger: createLogger({ level: 'warn', destination: capture }) });
    expect(capture.text()).not.toContain('no claim constraints');
    await world.boot({
      logger: createLogger({ level: 'warn', destination: capture }),
      config: world.config((raw) => {
        raw.agents.oidc[0].claims = [];
      }),
    });
    expect(capture.text()).toContain('OIDC agent issuer has no claim constraints');
  });
});

/** Background refreshes finish on their own schedule: poll with a deadline (CONTRIBUTING.md #19). */
const eventuallyRefused = (call: () => Promise<unknown>, code: string): Promise<boolean> =>
  eventually(
    async () =>
      (await call().then(
        () => 'accepted',
        (err: BrokerError) => err.code,
      )) === code,
    5000,
    5,
  );
const eventuallyLogged = (capture: { text(): string }, message: string): Promise<boolean> =>
  eventually(async () => capture.text().includes(message), 5000, 5);

describe('acceptance ends exactly at acceptedUntil', () => {
  it('for a fractional exp too, so a single-use record lives as long as the token is accepted', async () => {
    const exp = nowSec() + 100.001;
    const token = build(withClaims(S.agent(), { exp }));
    const agent = await identity.authenticateAgent(token);
    expect(agent.acceptedUntil).toBe((exp + 30) * 1000);
    // A fresh verifier each time: the verified-token cache would stop at exp, earlier than this.
    now = agent.acceptedUntil - 1;
    const fresh = await world.boot();
    await expect(fresh.authenticateAgent(token)).resolves.toMatchObject({ id: AGENT_ID });
    now = agent.acceptedUntil;
    const later = await world.boot();
    expect(await refusal(later.authenticateAgent(token))).toMatchObject({ status: 401, code: 'ERR_TOKEN_EXPIRED' });
  });
});

/**
 * What a refusal tells the operator (`detail`, for the log): which trust entry refused and why.
 * The attack suite checks the codes; this checks that each reason names the right entry and thing.
 */
describe('refusal details', () => {
  const DEV = 'identity.agents.spiffe[dev.local]';
  it.each<[string, 'agent' | 'operator', () => string, string, string]>([
    [
      'an alg outside the allowlist',
      'agent',
      () => build(withHeader(S.agent(), { alg: 'ES512' })),
      'ERR_TOKEN_SIGNATURE',
      `${DEV}: alg ES512 is not allowed`,
    ],
    [
      'a typ that is no JWT',
      'agent',
      () => build(withHeader(S.agent(), { typ: 'at+jwt' })),
      'ERR_TOKEN_CLAIMS',
      `${DEV}: typ at+jwt is not accepted (absent, JWT or JOSE)`,
    ],
    [
      'an unknown kid',
      'agent',
      () => build(withHeader(S.agent(), { kid: 'nope' })),
      'ERR_TOKEN_SIGNATURE',
      `${DEV}: no key with kid "nope" in ${DEV}.bundle`,
    ],
    [
      'an alg the key cannot verify',
      'agent',
      () => build(withHeader(S.agent(), { kid: k.devRsa.kid })),
      'ERR_TOKEN_SIGNATURE',
      `${DEV}: alg ES256 needs kty EC; key dev-rsa is kty RSA`,
    ],
    [
      'a signature that does not verify',
      'agent',
      () => build({ ...S.agent(), signer: k.stranger }),
      'ERR_TOKEN_SIGNATURE',
      `${DEV}: signature does not verify with key dev-es`,
    ],
    [
      'a header that is not JSON',
      'agent',
      () => build({ ...S.agent(), header: 'alg=ES256' }),
      'ERR_TOKEN_MALFORMED',
      'header is not UTF-8 JSON',
    ],
    [
      'a payload that is no object',
      'agent',
      () => build({ ...S.agent(), payload: '[1]' }),
      'ERR_TOKEN_MALFORMED',
      'payload is not a JSON object',
    ],
    ['a padded signature', 'agent', () => `${build(S.agent())}==`, 'ERR_TOKEN_MALFORMED', 'signature is empty or not canonical base64url'],
    [
      'a wrong audience',
      'agent',
      () => build(withClaims(S.agent(), { aud: 'x' })),
      'ERR_TOKEN_AUDIENCE',
      `${DEV}: "aud" lacks the audience "quartermaster"`,
    ],
    [
      'a claim constraint',
      'agent',
      () => build(withClaims(S.ci(), { repository: 'acme/evil' })),
      'ERR_TOKEN_CLAIMS',
      'identity.agents.oidc[ci]: claim /repository ("acme/evil") does not match',
    ],
    [
      'an operator audience',
      'operator',
      () => build(withClaims(S.operator(), { aud: 'x' })),
      'ERR_TOKEN_AUDIENCE',
      'identity.operators: "aud" lacks the audience "quartermaster/operators"',
    ],
    [
      'an invalid SPIFFE ID',
      'agent',
      () => build(withClaims(S.agent(), { sub: 'SPIFFE://dev.local/a' })),
      'ERR_TOKEN_CLAIMS',
      '"sub" looks like a SPIFFE ID but is not a valid one (SPIFFE-ID.md §2)',
    ],
    [
      'a sub that only contains spiffe: under a pinned issuer',
      'agent',
      () => build(withClaims(S.agent(), { sub: 'repo:spiffe://dev.local/a' })),
      'ERR_TOKEN_CLAIMS',
      `${DEV}: "sub" is not a SPIFFE ID (SPIFFE-ID.md §2)`,
    ],
    [
      'a SPIFFE ID in an array under a pinned issuer',
      'agent',
      () => build(withClaims(S.agent(), { sub: ['spiffe://dev.local/a'] })),
      'ERR_TOKEN_CLAIMS',
      `${DEV}: "sub" is not a SPIFFE ID (SPIFFE-ID.md §2)`,
    ],
    [
      'a bare trust domain',
      'agent',
      () => build(withClaims(S.agent(), { sub: 'spiffe://dev.local' })),
      'ERR_TOKEN_CLAIMS',
      '"sub" names a trust domain, not a workload (SPIFFE-ID.md §2.2)',
    ],
    [
      'an unconfigured trust domain',
      'agent',
      () => build(withClaims(S.agent(), { sub: 'spiffe://prod.example/a' })),
      'ERR_TOKEN_ISSUER_UNTRUSTED',
      'trust domain prod.example is not configured',
    ],
    [
      'a non-SPIFFE sub under a pinned issuer',
      'agent',
      () => build(withClaims(S.agent(), { sub: 'triage' })),
      'ERR_TOKEN_CLAIMS',
      `${DEV}: "sub" is not a SPIFFE ID (SPIFFE-ID.md §2)`,
    ],
    [
      'the operator issuer on the agent endpoint',
      'agent',
      () => build(S.operator()),
      'ERR_TOKEN_ISSUER_UNTRUSTED',
      `issuer ${OPERATOR_ISS} is the operator issuer, not an agent issuer; token kinds never cross`,
    ],
    [
      'an unknown issuer',
      'agent',
      () => build(withClaims(S.ci(), { iss: 'https://evil.example' })),
      'ERR_TOKEN_ISSUER_UNTRUSTED',
      'issuer https://evil.example is not configured and "sub" is not a SPIFFE ID',
    ],
    [
      'no issuer and no SPIFFE sub',
      'agent',
      () => build(without(S.ci(), 'payload', 'iss')),
      'ERR_TOKEN_ISSUER_UNTRUSTED',
      '"iss" is absent or not a string and "sub" is not a SPIFFE ID',
    ],
    [
      'an OIDC agent issuer on the operator endpoint',
      'operator',
      () => build(S.ci()),
      'ERR_TOKEN_ISSUER_UNTRUSTED',
      `issuer ${CI_ISS} is an agent issuer, not the operator issuer; token kinds never cross`,
    ],
    [
      'a pinned SPIFFE issuer on the operator endpoint',
      'operator',
      () => build(S.agent()),
      'ERR_TOKEN_ISSUER_UNTRUSTED',
      `issuer ${DEV_ISS} is an agent issuer, not the operator issuer; token kinds never cross`,
    ],
    [
      'an unknown issuer on the operator endpoint',
      'operator',
      () => build(withClaims(S.operator(), { iss: 'https://evil.example' })),
      'ERR_TOKEN_ISSUER_UNTRUSTED',
      'issuer https://evil.example is not the operator issuer',
    ],
    [
      'no issuer on the operator endpoint',
      'operator',
      () => build(without(S.operator(), 'payload', 'iss')),
      'ERR_TOKEN_CLAIMS',
      'required claim "iss" is missing or not a string',
    ],
  ])('names %s', async (_name, endpoint, token, code, detail) => {
    const authenticate = (t: string) => (endpoint === 'agent' ? identity.authenticateAgent(t) : identity.authenticateOperator(t));
    await expect(authenticate(build(endpoint === 'agent' ? S.agent() : S.operator()))).resolves.toMatchObject({ kind: endpoint });
    const err = await refusal(authenticate(token()));
    expect({ code: err.code, detail: err.detail }).toEqual({ code, detail });
  });
});

describe('boot log', () => {
  it('names the trust domains, OIDC issuers and operator issuer it is ready for', async () => {
    const capture = createLogCapture();
    await world.boot({ logger: createLogger({ level: 'info', destination: capture }) });
    const ready = capture.lines.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.msg === 'identity ready');
    expect(ready).toMatchObject({ trustDomains: ['dev.local', 'other.example'], oidcIssuers: ['ci'], operatorIssuer: OPERATOR_ISS });
  });

  it('names an OIDC issuer without claim constraints in its warning', async () => {
    const capture = createLogCapture();
    await world.boot({
      logger: createLogger({ level: 'warn', destination: capture }),
      config: world.config((raw) => {
        raw.agents.oidc[0].claims = [];
      }),
    });
    const warning = capture.lines.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.level === 'warn');
    expect(warning).toMatchObject({ issuer: CI_ISS, entry: 'identity.agents.oidc[ci]' });
  });

  it('refuses to boot on an unreadable key file, naming the key set and the cause', async () => {
    world.write(world.files.ci, '{"keys": [');
    const err = await refusal(world.boot());
    expect(err).toMatchObject({ code: 'ERR_CONFIG', status: 500 });
    expect((err.cause as Error).name).toBe('KeyDocumentError');
    expect(err.message).toBe(
      `identity.agents.oidc[ci].keys: KeyDocumentError: identity.agents.oidc[ci].keys (${world.files.ci}): not valid JSON`,
    );
  });

  it('refuses to boot on a missing key file, naming the file and the error code', async () => {
    rmSync(world.files.ci);
    const err = await refusal(world.boot());
    expect(err.message).toBe(`identity.agents.oidc[ci].keys: Error: cannot read ${world.files.ci}: ENOENT`);
  });
});
