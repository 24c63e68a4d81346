/**
 * The `jwt` provider: the shared contract, then what only a broker-signed token has — claims,
 * offline verifiability against the JWKS, introspection that refuses everything not ours, and
 * key files that are created privately and never leak into errors or logs.
 */
import { chmod, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  calculateJwkThumbprint,
  createLocalJWKSet,
  decodeJwt,
  decodeProtectedHeader,
  exportJWK,
  generateKeyPair,
  importJWK,
  jwtVerify,
  SignJWT,
  type CryptoKey,
  type JWK,
  type JWTPayload,
} from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { builtInProviders } from '../../providers/index.js';
import { createCatalog } from '../../src/catalog/catalog.js';
import { createLogger } from '../../src/logging.js';
import { testConfig } from '../support/test_config.js';
import { jwtConfigSchema, jwtProfileParamsSchema } from '../../providers/jwt/config.js';
import { jwtProvider } from '../../providers/jwt/index.js';
import type { IssueRequest, Provider, ProviderDeps, ProviderLogger } from '../../src/sdk.js';
import { describeProviderContract } from './contract.js';

const ISSUER = 'http://127.0.0.1:8080';
const PARAMS = { audience: 'urn:quartermaster:demo-api', scope: 'alerts:read timeline:read' };
const PROFILE = { name: 'demo', params: PARAMS };
const AGENT = { id: 'spiffe://dev.local/agent/triage', issuer: 'https://dev.quartermaster.local/agents' };
const NOW = 1_700_000_000_000;

const tempDirs: string[] = [];
async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'qm-jwt-'));
  tempDirs.push(dir);
  return dir;
}
afterAll(async () => {
  await Promise.all(tempDirs.map((dir) => rm(dir, { recursive: true, force: true })));
});

function recordingLogger(): { logger: ProviderLogger; text: () => string } {
  const lines: string[] = [];
  const log = (level: string) => (obj: object, msg?: string) => {
    lines.push(JSON.stringify({ level, ...obj, msg }));
  };
  return { logger: { debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error') }, text: () => lines.join('\n') };
}

function depsWith(overrides: Partial<ProviderDeps> = {}): ProviderDeps {
  return { logger: recordingLogger().logger, now: () => NOW, devMode: true, ...overrides };
}

function configFor(signingKeyFile: string, extra: Record<string, unknown> = {}) {
  return jwtConfigSchema.parse({ issuer: ISSUER, signingKeyFile, ...extra });
}

async function newPrivateJwk(): Promise<JWK> {
  const { privateKey } = await generateKeyPair('ES256', { extractable: true });
  return exportJWK(privateKey);
}

function issueRequest(overrides: Partial<IssueRequest<typeof PARAMS>> = {}): IssueRequest<typeof PARAMS> {
  return {
    grantId: 'grt_01',
    incidentId: 'inc_42',
    agent: AGENT,
    profile: PROFILE,
    ttlSeconds: 300,
    purpose: 'triage the disk alert',
    signal: new AbortController().signal,
    ...overrides,
  };
}

const b64 = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');

describeProviderContract('jwt', async () => {
  const dir = await tempDir();
  const provider = await jwtProvider.create(
    configFor(join(dir, 'signing-key.json'), { generateKeyIfMissing: true }),
    depsWith({ now: Date.now }),
  );
  return { provider, profile: PROFILE, cleanup: () => provider.close() };
});

describe('jwt provider: issued tokens', () => {
  let provider: Provider<typeof PARAMS>;
  let ourKey: CryptoKey;
  let kid: string;
  let clock = NOW;

  beforeAll(async () => {
    const dir = await tempDir();
    const jwk = await newPrivateJwk();
    const file = join(dir, 'signing-key.json');
    await writeFile(file, JSON.stringify(jwk), { mode: 0o600 });
    ourKey = (await importJWK(jwk, 'ES256')) as CryptoKey;
    kid = await calculateJwkThumbprint(jwk);
    provider = await jwtProvider.create(configFor(file, { maxTtlSeconds: 900 }), depsWith({ now: () => clock }));
  });

  const issueToken = async (overrides: Partial<IssueRequest<typeof PARAMS>> = {}) => {
    const issued = await provider.issue(issueRequest(overrides));
    return { issued, token: String(issued.credential.access_token) };
  };
  const verify = (token: string) => {
    if (!provider.introspector) throw new Error('jwt provider has no introspector');
    return provider.introspector.verifyIssued(token);
  };

  it('issues a token that verifies independently with jose against publicJwks()', async () => {
    const { token } = await issueToken();
    const jwks = createLocalJWKSet(provider.introspector?.publicJwks() as { keys: JWK[] });
    const { payload } = await jwtVerify(token, jwks, {
      algorithms: ['ES256'],
      issuer: ISSUER,
      audience: PARAMS.audience,
      typ: 'at+jwt',
      currentDate: new Date(clock),
    });
    expect(payload.grant).toBe('grt_01');
  });

  it('puts exactly the specified header, claims, credential and handle in what it issues', async () => {
    const { issued, token } = await issueToken();
    const iat = NOW / 1000;
    expect(decodeProtectedHeader(token)).toEqual({ alg: 'ES256', kid, typ: 'at+jwt' });
    expect(decodeJwt(token)).toEqual({
      iss: ISSUER,
      sub: AGENT.id,
      aud: PARAMS.audience,
      client_id: AGENT.id,
      iat,
      exp: iat + 300,
      jti: 'grt_01',
      scope: PARAMS.scope,
      incident: 'inc_42',
      grant: 'grt_01',
      profile: 'demo',
      act: { sub: AGENT.id, iss: AGENT.issuer },
    });
    expect(issued).toEqual({
      credential: { access_token: token, token_type: 'Bearer', expires_in: 300, expires_at: new Date(NOW + 300_000).toISOString() },
      secretFields: ['access_token'],
      handle: { jti: 'grt_01', kid },
      expiresAt: NOW + 300_000,
    });
    // The agent's free-text purpose is not for downstream tools.
    expect(JSON.stringify(decodeJwt(token))).not.toContain('triage the disk alert');
  });

  it('refuses a TTL above its maxTtlSeconds even if core did not clamp it', async () => {
    await expect(provider.issue(issueRequest({ ttlSeconds: 901 }))).rejects.toMatchObject({ code: 'ERR_PROVIDER_FAILED' });
    await expect(provider.issue(issueRequest({ ttlSeconds: 900 }))).resolves.toMatchObject({ expiresAt: NOW + 900_000 });
  });

  it('introspects its own valid token to its grant and claims', async () => {
    const { token } = await issueToken();
    const verified = await verify(token);
    expect(verified).toMatchObject({ grantId: 'grt_01', claims: { incident: 'inc_42', sub: AGENT.id, scope: PARAMS.scope } });
  });

  it('stops verifying a token once the clock passes its exp', async () => {
    const { token } = await issueToken();
    expect(await verify(token)).not.toBeNull();
    clock = NOW + 301_000;
    try {
      expect(await verify(token)).toBeNull();
    } finally {
      clock = NOW;
    }
  });

  describe('introspection refuses every token that is not a valid one of ours', () => {
    /** Re-signs the claims of a real issued token, changing one thing. */
    async function forge(
      change: { claims?: JWTPayload; header?: Record<string, unknown>; key?: CryptoKey; omit?: string[] } = {},
    ): Promise<string> {
      const { token } = await issueToken();
      const claims: JWTPayload = { ...decodeJwt(token), ...change.claims };
      for (const name of change.omit ?? []) delete claims[name];
      const header = { alg: 'ES256', kid, typ: 'at+jwt', ...change.header };
      return new SignJWT(claims).setProtectedHeader(header as { alg: string }).sign(change.key ?? ourKey);
    }

    it('accepts the unchanged forgery: the baseline every case below changes one thing of', async () => {
      expect(await verify(await forge())).toMatchObject({ grantId: 'grt_01' });
    });

    it('refuses a token signed by another key under our kid', async () => {
      const other = (await importJWK(await newPrivateJwk(), 'ES256')) as CryptoKey;
      expect(await verify(await forge({ key: other }))).toBeNull();
    });

    it('refuses a token signed by our key under another kid', async () => {
      expect(await verify(await forge({ header: { kid: 'someone-else' } }))).toBeNull();
    });

    it('refuses a token with another issuer', async () => {
      expect(await verify(await forge({ claims: { iss: 'http://127.0.0.1:9999' } }))).toBeNull();
    });

    it('refuses an expired token', async () => {
      const now = NOW / 1000;
      expect(await verify(await forge({ claims: { iat: now - 600, exp: now - 1 } }))).toBeNull();
    });

    it('refuses a token typed JWT instead of at+jwt, or untyped', async () => {
      expect(await verify(await forge({ header: { typ: 'JWT' } }))).toBeNull();
      expect(await verify(await forge({ header: { typ: undefined } }))).toBeNull();
    });

    it('refuses an unsigned alg none token', async () => {
      const signed = await forge();
      const [, payload] = signed.split('.');
      expect(await verify(`${b64({ alg: 'none', kid, typ: 'at+jwt' })}.${payload}.`)).toBeNull();
    });

    it('refuses an HS256 token (algorithm confusion)', async () => {
      const { token } = await issueToken();
      const hs = await new SignJWT(decodeJwt(token))
        .setProtectedHeader({ alg: 'HS256', kid, typ: 'at+jwt' })
        .sign(new TextEncoder().encode('x'.repeat(32)));
      expect(await verify(hs)).toBeNull();
    });

    it('refuses a token without its grant or with a grant that is not its jti', async () => {
      expect(await verify(await forge({ omit: ['grant'] }))).toBeNull();
      expect(await verify(await forge({ omit: ['incident'] }))).toBeNull();
      expect(await verify(await forge({ claims: { grant: 'grt_other' } }))).toBeNull();
    });

    it('refuses our header in other bytes (members reordered, or an extra one): only the exact header we sign with', async () => {
      const signed = await forge();
      const [, payload] = signed.split('.');
      const reordered = await new SignJWT(decodeJwt(signed))
        .setProtectedHeader({ typ: 'at+jwt', kid, alg: 'ES256' } as { alg: string })
        .sign(ourKey);
      expect(reordered.split('.')[1]).toBe(payload);
      expect(await verify(reordered)).toBeNull();
      expect(await verify(await forge({ header: { cty: 'JWT' } }))).toBeNull();
    });

    it('refuses a signature in non-canonical base64url (same bytes, other trailing bits) or of the wrong length', async () => {
      const signed = await forge();
      const [header, payload, signature] = signed.split('.') as [string, string, string];
      // 64 bytes are 86 base64url characters; the last one carries 2 unused bits.
      const last = signature.at(-1)!;
      const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
      const twin = alphabet[alphabet.indexOf(last) ^ 1]!;
      expect(Buffer.from(`${signature.slice(0, -1)}${twin}`, 'base64url')).toEqual(Buffer.from(signature, 'base64url'));
      expect(await verify(`${header}.${payload}.${signature.slice(0, -1)}${twin}`)).toBeNull();
      expect(await verify(`${header}.${payload}.${signature}AA`)).toBeNull();
    });

    it('refuses garbage without throwing', async () => {
      for (const garbage of ['', 'garbage', 'a.b.c', '..', 'é.é.é', `${b64({ alg: 'ES256' })}.${b64('x')}.`]) {
        expect(await verify(garbage)).toBeNull();
      }
    });

    it('refuses a token over 8 KiB before parsing it', async () => {
      const base = (await forge()).length;
      // base64url grows 4/3; aim just under the cap, then just over it.
      const fits = await forge({ claims: { pad: 'a'.repeat(Math.floor(((8192 - base) * 3) / 4) - 12) } });
      expect(fits.length).toBeLessThanOrEqual(8192);
      expect(fits.length).toBeGreaterThan(8000);
      expect(await verify(fits)).not.toBeNull();
      const oversized = await forge({ claims: { pad: 'a'.repeat(Math.floor(((8192 - base) * 3) / 4) + 12) } });
      expect(oversized.length).toBeGreaterThan(8192);
      expect(await verify(oversized)).toBeNull();
    });
  });

  it('publishes only the public key, with kid = RFC 7638 thumbprint', () => {
    const jwks = provider.introspector?.publicJwks();
    expect(jwks?.keys).toHaveLength(1);
    const [key] = jwks?.keys ?? [];
    expect(key).not.toHaveProperty('d');
    expect(Object.keys(key ?? {}).sort()).toEqual(['alg', 'crv', 'kid', 'kty', 'use', 'x', 'y']);
    expect(key).toMatchObject({ kid, alg: 'ES256', use: 'sig', kty: 'EC', crv: 'P-256' });
  });

  it('answers revocation from the ledger: revoked and confirmed, without an upstream', async () => {
    const { issued } = await issueToken();
    const receipt = await provider.revokeGrant({
      grantId: 'grt_01',
      incidentId: 'inc_42',
      handle: issued.handle,
      expiresAt: issued.expiresAt,
      signal: new AbortController().signal,
    });
    expect(receipt).toEqual({ grantId: 'grt_01', outcome: 'revoked', confirmed: true });
    expect(provider.capabilities).toEqual({ grantRevocation: 'ledger', incidentRevocation: false, minTtlSeconds: 5, maxTtlSeconds: 900 });
  });
});

describe('jwt provider: signing key file', () => {
  it('generates a 0600 key file in development mode and reuses it on the next start', async () => {
    const file = join(await tempDir(), 'nested', 'signing-key.json');
    const config = configFor(file, { generateKeyIfMissing: true });
    const first = await jwtProvider.create(config, depsWith());
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    const stored = JSON.parse(await readFile(file, 'utf8')) as JWK;
    expect(stored).toMatchObject({ kty: 'EC', crv: 'P-256', alg: 'ES256', use: 'sig' });
    expect(typeof stored.d).toBe('string');
    const second = await jwtProvider.create(config, depsWith());
    expect(second.introspector?.publicJwks()).toEqual(first.introspector?.publicJwks());
    expect(first.introspector?.publicJwks().keys[0]?.kid).toBe(await calculateJwkThumbprint(stored));
  });

  it('lets concurrent creators agree on one key and leaves no temp files', async () => {
    const dir = await tempDir();
    const config = configFor(join(dir, 'signing-key.json'), { generateKeyIfMissing: true });
    const providers = await Promise.all(Array.from({ length: 4 }, () => jwtProvider.create(config, depsWith())));
    const kids = new Set(providers.map((p) => p.introspector?.publicJwks().keys[0]?.kid));
    expect(kids.size).toBe(1);
    expect(await readdir(dir)).toEqual(['signing-key.json']);
  });

  it('refuses generateKeyIfMissing outside development mode, before touching the file system', async () => {
    const file = join(await tempDir(), 'signing-key.json');
    await expect(jwtProvider.create(configFor(file, { generateKeyIfMissing: true }), depsWith({ devMode: false }))).rejects.toThrow(
      /generateKeyIfMissing: allowed only in development mode/u,
    );
    await expect(stat(file)).rejects.toMatchObject({ code: 'ENOENT' });
    // The same file provisioned by an operator loads fine in production mode.
    await writeFile(file, JSON.stringify(await newPrivateJwk()), { mode: 0o600 });
    await expect(jwtProvider.create(configFor(file), depsWith({ devMode: false }))).resolves.toMatchObject({ name: 'jwt' });
  });

  it('takes the broker URL as its issuer when none is configured, read at each call', async () => {
    const file = join(await tempDir(), 'signing-key.json');
    const withoutIssuer = configFor(file, { generateKeyIfMissing: true });
    delete withoutIssuer.issuer;
    let url = 'http://127.0.0.1:18082';
    const provider = await jwtProvider.create(withoutIssuer, depsWith({ now: Date.now, publicUrl: () => url }));
    const first = String((await provider.issue(issueRequest())).credential.access_token);
    expect(decodeJwt(first).iss).toBe('http://127.0.0.1:18082');
    expect(await provider.introspector?.verifyIssued(first)).not.toBeNull();
    url = 'http://127.0.0.1:18083';
    const second = String((await provider.issue(issueRequest())).credential.access_token);
    expect(decodeJwt(second).iss).toBe('http://127.0.0.1:18083');
    // A token of the old issuer is no longer ours.
    expect(await provider.introspector?.verifyIssued(first)).toBeNull();
  });

  it('refuses to start outside development mode with neither an issuer nor a broker URL', async () => {
    const file = join(await tempDir(), 'signing-key.json');
    await writeFile(file, JSON.stringify(await newPrivateJwk()), { mode: 0o600 });
    const withoutIssuer = configFor(file);
    delete withoutIssuer.issuer;
    await expect(
      jwtProvider.create(withoutIssuer, depsWith({ devMode: false, publicUrl: () => 'https://qm.example.com' })),
    ).resolves.toMatchObject({ name: 'jwt' });
    await expect(
      jwtProvider.create(
        withoutIssuer,
        depsWith({
          devMode: false,
          publicUrl: () => {
            throw new Error('server.publicUrl is not set');
          },
        }),
      ),
    ).rejects.toMatchObject({ code: 'ERR_CONFIG', message: expect.stringContaining('providers.jwt.issuer: required') });
    await expect(jwtProvider.create(withoutIssuer, depsWith({ devMode: false }))).rejects.toMatchObject({ code: 'ERR_CONFIG' });
  });

  it('refuses outside development mode a plain-http issuer beyond loopback', async () => {
    const file = join(await tempDir(), 'signing-key.json');
    await writeFile(file, JSON.stringify(await newPrivateJwk()), { mode: 0o600 });
    await expect(
      jwtProvider.create(configFor(file, { issuer: 'https://qm.example.com' }), depsWith({ devMode: false })),
    ).resolves.toMatchObject({ name: 'jwt' });
    await expect(
      jwtProvider.create(configFor(file, { issuer: 'http://127.0.0.1:8080' }), depsWith({ devMode: false })),
    ).resolves.toMatchObject({ name: 'jwt' });
    await expect(
      jwtProvider.create(configFor(file, { issuer: 'http://qm.example.com' }), depsWith({ devMode: false })),
    ).rejects.toMatchObject({ code: 'ERR_CONFIG', message: expect.stringContaining('is plain http') });
  });

  it('refuses outside development mode a signing key file that group or others may read', async () => {
    const file = join(await tempDir(), 'signing-key.json');
    await writeFile(file, JSON.stringify(await newPrivateJwk()), { mode: 0o600 });
    await expect(jwtProvider.create(configFor(file), depsWith({ devMode: false }))).resolves.toMatchObject({ name: 'jwt' });
    await chmod(file, 0o644);
    await expect(jwtProvider.create(configFor(file), depsWith({ devMode: false }))).rejects.toMatchObject({
      code: 'ERR_CONFIG',
      message: expect.stringContaining('may be read by group or others (mode 0644)'),
    });
    await expect(jwtProvider.create(configFor(file), depsWith({ devMode: true }))).resolves.toMatchObject({ name: 'jwt' });
  });

  it('names a missing key file when generation is off', async () => {
    const file = join(await tempDir(), 'absent.json');
    await expect(jwtProvider.create(configFor(file), depsWith())).rejects.toMatchObject({
      code: 'ERR_CONFIG',
      message: expect.stringContaining(`${file} does not exist`),
    });
  });

  describe('rejects a broken key file with a clear error and no key material', () => {
    const secretsOf = (value: unknown): string[] =>
      Object.values(value as Record<string, unknown>).filter((v): v is string => typeof v === 'string' && v.length >= 16);

    const cases: Array<{ name: string; content: () => Promise<{ text: string; secrets: string[] }>; error: RegExp }> = [
      {
        name: 'invalid JSON around a private scalar',
        content: async () => {
          const { d } = await newPrivateJwk();
          return { text: `{"kty":"EC","d":"${d}",,}`, secrets: [String(d)] };
        },
        error: /is not valid JSON$/u,
      },
      {
        name: 'a symmetric key',
        content: async () => {
          const k = Buffer.from('0123456789abcdef0123456789abcdef').toString('base64url');
          return { text: JSON.stringify({ kty: 'oct', k }), secrets: [k] };
        },
        error: /holds a symmetric \(oct\) key/u,
      },
      {
        name: 'an RSA key',
        content: async () => {
          const { privateKey } = await generateKeyPair('RS256', { extractable: true });
          const jwk = await exportJWK(privateKey);
          return { text: JSON.stringify(jwk), secrets: secretsOf(jwk).filter((v) => v !== jwk.n) };
        },
        error: /holds a key of type "RSA"; ES256 needs kty "EC"/u,
      },
      {
        name: 'an EC key on P-384',
        content: async () => {
          const { privateKey } = await generateKeyPair('ES384', { extractable: true });
          const jwk = await exportJWK(privateKey);
          return { text: JSON.stringify(jwk), secrets: [String(jwk.d)] };
        },
        error: /on curve "P-384"; ES256 needs crv "P-256"/u,
      },
      {
        name: 'a public key without d',
        content: async () => {
          const { kty, crv, x, y } = await newPrivateJwk();
          return { text: JSON.stringify({ kty, crv, x, y }), secrets: [] };
        },
        error: /holds a public key only \(no "d"\)/u,
      },
      {
        name: 'a private scalar that does not match the public point',
        content: async () => {
          const mine = await newPrivateJwk();
          const theirs = await newPrivateJwk();
          return { text: JSON.stringify({ ...mine, d: theirs.d }), secrets: [String(mine.d), String(theirs.d)] };
        },
        error: /is not a valid EC P-256 private key \(the point is invalid or does not match "d"\)$/u,
      },
      {
        name: 'a key declared for another algorithm',
        content: async () => {
          const jwk = await newPrivateJwk();
          return { text: JSON.stringify({ ...jwk, alg: 'RS256' }), secrets: [String(jwk.d)] };
        },
        error: /declares alg "RS256"/u,
      },
    ];

    for (const { name, content, error } of cases) {
      it(`refuses ${name}`, async () => {
        const file = join(await tempDir(), 'signing-key.json');
        // Baseline: a good key at the same path loads.
        await writeFile(file, JSON.stringify(await newPrivateJwk()), { mode: 0o600 });
        await expect(jwtProvider.create(configFor(file), depsWith())).resolves.toMatchObject({ name: 'jwt' });

        const { text, secrets } = await content();
        await writeFile(file, text, { mode: 0o600 });
        const log = recordingLogger();
        const err: unknown = await jwtProvider.create(configFor(file), depsWith({ logger: log.logger })).then(
          () => new Error('expected create() to fail'),
          (e: unknown) => e,
        );
        expect(err).toMatchObject({ code: 'ERR_CONFIG', message: expect.stringMatching(error) });
        expect((err as Error).message).toContain(`providers.jwt.signingKeyFile: ${file} `);
        const everything = `${String((err as Error).stack)} ${JSON.stringify(err)} ${String((err as Error).cause)} ${log.text()}`;
        for (const secret of secrets) expect(everything).not.toContain(secret);
      });
    }
  });
});

describe('jwt provider: key rotation (publishedKeyFiles)', () => {
  /** A key pair written as the signing file (private, 0600) and as a public-only file (0644). */
  async function keyFiles(): Promise<{ privateFile: string; publicFile: string; kid: string; jwk: JWK }> {
    const dir = await tempDir();
    const jwk = await newPrivateJwk();
    const { kty, crv, x, y } = jwk;
    const privateFile = join(dir, 'private.json');
    const publicFile = join(dir, 'public.json');
    await writeFile(privateFile, JSON.stringify(jwk), { mode: 0o600 });
    await writeFile(publicFile, JSON.stringify({ kty, crv, x, y }), { mode: 0o644 });
    return { privateFile, publicFile, kid: await calculateJwkThumbprint(jwk), jwk };
  }
  const tokenOf = async (provider: Provider<typeof PARAMS>): Promise<string> =>
    String((await provider.issue(issueRequest())).credential.access_token);
  const kidsOf = (provider: Provider<typeof PARAMS>): unknown[] => (provider.introspector?.publicJwks().keys ?? []).map((k) => k.kid);

  it('keeps tokens of the previous key active at introspection and in the JWKS after the signing key changes', async () => {
    const a = await keyFiles();
    const b = await keyFiles();
    const before = await jwtProvider.create(configFor(a.privateFile), depsWith());
    const oldToken = await tokenOf(before);
    // Rotated without the old key published: its tokens stop verifying (the case rotation must avoid).
    const bare = await jwtProvider.create(configFor(b.privateFile), depsWith());
    expect(await bare.introspector?.verifyIssued(oldToken)).toBeNull();
    // Rotated with the old key published: still active, new tokens signed by the new key.
    const after = await jwtProvider.create(configFor(b.privateFile, { publishedKeyFiles: [a.publicFile] }), depsWith({ devMode: false }));
    expect(await after.introspector?.verifyIssued(oldToken)).toMatchObject({ grantId: 'grt_01' });
    const newToken = await tokenOf(after);
    expect(decodeProtectedHeader(newToken).kid).toBe(b.kid);
    expect(await after.introspector?.verifyIssued(newToken)).toMatchObject({ grantId: 'grt_01' });
    // Offline verifiers that fetch the JWKS accept both.
    const jwks = createLocalJWKSet(after.introspector?.publicJwks() as { keys: JWK[] });
    for (const token of [oldToken, newToken]) {
      await expect(jwtVerify(token, jwks, { issuer: ISSUER, currentDate: new Date(NOW) })).resolves.toBeDefined();
    }
  });

  it('serves the same key set from replicas on either side of a rolling rotation, sorted by kid, public members only', async () => {
    const a = await keyFiles();
    const b = await keyFiles();
    const oldReplica = await jwtProvider.create(configFor(a.privateFile, { publishedKeyFiles: [b.publicFile] }), depsWith());
    const newReplica = await jwtProvider.create(configFor(b.privateFile, { publishedKeyFiles: [a.publicFile] }), depsWith());
    expect(newReplica.introspector?.publicJwks()).toEqual(oldReplica.introspector?.publicJwks());
    expect(kidsOf(oldReplica)).toEqual([a.kid, b.kid].sort());
    for (const key of oldReplica.introspector?.publicJwks().keys ?? []) {
      expect(Object.keys(key).sort()).toEqual(['alg', 'crv', 'kid', 'kty', 'use', 'x', 'y']);
    }
    // Each accepts what the other signs.
    expect(await newReplica.introspector?.verifyIssued(await tokenOf(oldReplica))).toMatchObject({ grantId: 'grt_01' });
    expect(await oldReplica.introspector?.verifyIssued(await tokenOf(newReplica))).toMatchObject({ grantId: 'grt_01' });
    // A published key only verifies: the old replica still signs with its own key.
    expect(decodeProtectedHeader(await tokenOf(oldReplica)).kid).toBe(a.kid);
  });

  it('accepts a published key only under its own kid, and no key that is not published', async () => {
    const a = await keyFiles();
    const b = await keyFiles();
    const c = await keyFiles();
    const provider = await jwtProvider.create(configFor(b.privateFile, { publishedKeyFiles: [a.publicFile] }), depsWith());
    const byA = await tokenOf(await jwtProvider.create(configFor(a.privateFile), depsWith()));
    expect(await provider.introspector?.verifyIssued(byA)).not.toBeNull();
    // A's signature under B's kid, and C's token (never published), are refused.
    const [, payload, signature] = byA.split('.');
    const header = b64({ alg: 'ES256', kid: b.kid, typ: 'at+jwt' });
    expect(await provider.introspector?.verifyIssued(`${header}.${payload}.${signature}`)).toBeNull();
    expect(
      await provider.introspector?.verifyIssued(await tokenOf(await jwtProvider.create(configFor(c.privateFile), depsWith()))),
    ).toBeNull();
  });

  it('takes a private JWK as a published key and keeps only its public half', async () => {
    const a = await keyFiles();
    const b = await keyFiles();
    const provider = await jwtProvider.create(
      configFor(b.privateFile, { publishedKeyFiles: [a.privateFile] }),
      depsWith({ devMode: false }),
    );
    expect(kidsOf(provider)).toEqual([a.kid, b.kid].sort());
    expect(JSON.stringify(provider.introspector?.publicJwks())).not.toContain(String(a.jwk.d));
  });

  const refusals: Array<{ name: string; files: (a: Awaited<ReturnType<typeof keyFiles>>) => Promise<string[]>; error: RegExp }> = [
    {
      name: 'the signing key published again',
      files: async (a) => [a.publicFile],
      error: /holds the signing key \(kid .+\); list each key once$/u,
    },
    {
      name: 'one key published twice',
      files: async () => {
        const other = await keyFiles();
        return [other.publicFile, other.privateFile];
      },
      error: /holds a key listed before it/u,
    },
    { name: 'a missing file', files: async (a) => [`${a.publicFile}.missing`], error: /\.missing does not exist$/u },
    {
      name: 'a point that is not on the curve',
      files: async () => {
        const file = join(await tempDir(), 'bad.json');
        const { kty, crv, x } = await newPrivateJwk();
        await writeFile(file, JSON.stringify({ kty, crv, x, y: x }));
        return [file];
      },
      error: /is not a valid EC P-256 public key/u,
    },
    {
      name: 'a private key readable by others in production mode',
      files: async () => {
        const other = await keyFiles();
        await chmod(other.privateFile, 0o644);
        return [other.privateFile];
      },
      error: /may be read by group or others/u,
    },
  ];
  for (const { name, files, error } of refusals) {
    it(`refuses ${name}, naming publishedKeyFiles`, async () => {
      const signing = await keyFiles();
      const good = await keyFiles();
      await expect(
        jwtProvider.create(configFor(signing.privateFile, { publishedKeyFiles: [good.publicFile] }), depsWith({ devMode: false })),
      ).resolves.toMatchObject({ name: 'jwt' });
      const err: unknown = await jwtProvider
        .create(configFor(signing.privateFile, { publishedKeyFiles: await files(signing) }), depsWith({ devMode: false }))
        .then(
          () => new Error('expected create() to fail'),
          (e: unknown) => e,
        );
      expect(err).toMatchObject({ code: 'ERR_CONFIG', message: expect.stringMatching(error) });
      expect((err as Error).message).toMatch(/^providers\.jwt\.publishedKeyFiles: /u);
    });
  }
});

describe('jwt provider: config schemas', () => {
  it('applies defaults and rejects unknown keys', () => {
    expect(jwtConfigSchema.parse({ issuer: ISSUER, signingKeyFile: 'k.json' })).toEqual({
      issuer: ISSUER,
      signingKeyFile: 'k.json',
      generateKeyIfMissing: false,
      publishedKeyFiles: [],
      maxTtlSeconds: 3600,
    });
    expect(jwtConfigSchema.safeParse({ issuer: ISSUER, signingKeyFile: 'k.json', signingKey: '{}' }).success).toBe(false);
    expect(jwtProfileParamsSchema.safeParse({ ...PARAMS, purpose: 'x' }).success).toBe(false);
  });

  it('requires an http(s) issuer URL and a sane maxTtlSeconds', () => {
    expect(jwtConfigSchema.safeParse({ issuer: 'quartermaster', signingKeyFile: 'k.json' }).success).toBe(false);
    expect(jwtConfigSchema.safeParse({ issuer: 'file:///etc', signingKeyFile: 'k.json' }).success).toBe(false);
    expect(jwtConfigSchema.safeParse({ issuer: ISSUER, signingKeyFile: 'k.json', maxTtlSeconds: 0 }).success).toBe(false);
    expect(jwtConfigSchema.safeParse({ issuer: ISSUER, signingKeyFile: 'k.json', maxTtlSeconds: 1.5 }).success).toBe(false);
  });

  it('accepts space-separated OAuth scopes and refuses malformed ones (RFC 6749 §3.3)', () => {
    expect(jwtProfileParamsSchema.safeParse(PARAMS).success).toBe(true);
    for (const scope of ['', ' alerts:read', 'alerts:read  timeline:read', 'alerts:read\ttimeline:read', 'say"hi"', 'back\\slash']) {
      expect(jwtProfileParamsSchema.safeParse({ ...PARAMS, scope }).success, JSON.stringify(scope)).toBe(false);
    }
  });
});

describe('provider registry', () => {
  it('lists each built-in once, jwt, vault and aws_sts among them', () => {
    expect(builtInProviders).toContain(jwtProvider);
    expect(builtInProviders.map((p) => p.name)).toEqual(['jwt', 'vault', 'aws_sts']);
  });

  it('refuses a provider listed twice at boot, naming it', async () => {
    const { config } = testConfig();
    const deps = { logger: createLogger({ level: 'silent' }), now: Date.now, devMode: true, callTimeoutMs: 1000 };
    const catalog = await createCatalog(config, builtInProviders, deps);
    await catalog.close();
    await expect(createCatalog(config, [...builtInProviders, jwtProvider], deps)).rejects.toThrow(
      /built-in provider jwt is registered twice/u,
    );
  });
});
