import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { calculateJwkThumbprint, decodeJwt, decodeProtectedHeader } from 'jose';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { configSchema } from '../../src/config/schema.js';
import { DEV_KEY_FILES, ensureDevKeys, mintAgentToken, mintOperatorToken } from '../../src/identity/dev_issuer.js';
import { createIdentity } from '../../src/identity/verifier.js';
import { createLogger } from '../../src/logging.js';

const AGENT_ISS = 'https://dev.quartermaster.local/agents';
const OPERATOR_ISS = 'https://dev.quartermaster.local/operators';
const AUDIENCE = 'quartermaster';
const NOW = Date.UTC(2030, 0, 1, 12, 0, 0);

let keyDir: string;
beforeEach(() => {
  keyDir = join(mkdtempSync(join(tmpdir(), 'qm-dev-issuer-')), 'keys');
});
afterEach(() => rmSync(join(keyDir, '..'), { recursive: true, force: true }));

const readJson = (name: string): Record<string, unknown> => JSON.parse(readFileSync(join(keyDir, name), 'utf8')) as Record<string, unknown>;

function verifierFor(dir: string) {
  const config = configSchema.shape.identity.parse({
    audience: AUDIENCE,
    agents: {
      spiffe: [
        { trustDomain: 'dev.local', issuer: AGENT_ISS, bundle: { file: join(dir, DEV_KEY_FILES.agent.publicSet) }, algorithms: ['ES256'] },
      ],
    },
    operators: { issuer: OPERATOR_ISS, keys: { file: join(dir, DEV_KEY_FILES.operator.publicSet) }, algorithms: ['ES256'] },
  });
  return createIdentity(config, { logger: createLogger({ level: 'silent' }), now: () => NOW });
}

describe('ensureDevKeys', () => {
  it('creates private keys (0600), an agent SPIFFE bundle and an operator JWKS whose kid is the JWK thumbprint', async () => {
    await ensureDevKeys(keyDir);
    expect(readdirSync(keyDir).sort()).toEqual([
      'agent-bundle.json',
      'agent-signing-key.json',
      'operator-jwks.json',
      'operator-signing-key.json',
    ]);
    for (const kind of ['agent', 'operator'] as const) {
      const files = DEV_KEY_FILES[kind];
      expect(statSync(join(keyDir, files.privateKey)).mode & 0o777).toBe(0o600);
      const privateJwk = readJson(files.privateKey);
      const { keys } = readJson(files.publicSet) as { keys: Array<{ x: string; y: string; kid: string }> };
      expect(keys).toHaveLength(1);
      const [publicJwk] = keys as [{ x: string; y: string; kid: string }];
      expect(publicJwk).not.toHaveProperty('d');
      // SPIFFE_Trust_Domain_and_Bundle.md §4.2.2: bundle keys for JWT-SVIDs are use "jwt-svid".
      expect(publicJwk).toMatchObject({ kty: 'EC', crv: 'P-256', alg: 'ES256', use: files.use, x: privateJwk.x, y: privateJwk.y });
      expect(publicJwk.kid).toBe(await calculateJwkThumbprint({ kty: 'EC', crv: 'P-256', x: publicJwk.x, y: publicJwk.y }));
      expect(privateJwk.kid).toBe(publicJwk.kid);
    }
    expect(readJson(DEV_KEY_FILES.agent.publicSet)).not.toEqual(readJson(DEV_KEY_FILES.operator.publicSet));
  });

  it('keeps existing keys on a second run', async () => {
    await ensureDevKeys(keyDir);
    const before = readFileSync(join(keyDir, DEV_KEY_FILES.agent.privateKey), 'utf8');
    await ensureDevKeys(keyDir);
    expect(readFileSync(join(keyDir, DEV_KEY_FILES.agent.privateKey), 'utf8')).toBe(before);
  });

  it('settles on one key pair when several creators race, and leaves no temp files', async () => {
    await Promise.all(Array.from({ length: 8 }, () => ensureDevKeys(keyDir)));
    expect(readdirSync(keyDir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    const privateJwk = readJson(DEV_KEY_FILES.agent.privateKey);
    const { keys } = readJson(DEV_KEY_FILES.agent.publicSet) as { keys: Array<Record<string, unknown>> };
    expect(keys[0]?.kid).toBe(privateJwk.kid);
    const identity = await verifierFor(keyDir);
    const token = await mintAgentToken({ keyDir, issuer: AGENT_ISS, audience: AUDIENCE, agentId: 'spiffe://dev.local/agent/a', now: NOW });
    await expect(identity.authenticateAgent(token)).resolves.toMatchObject({ id: 'spiffe://dev.local/agent/a' });
  });

  it('rewrites a missing public set from the private key', async () => {
    await ensureDevKeys(keyDir);
    const before = readJson(DEV_KEY_FILES.operator.publicSet);
    rmSync(join(keyDir, DEV_KEY_FILES.operator.publicSet));
    await ensureDevKeys(keyDir);
    expect(readJson(DEV_KEY_FILES.operator.publicSet)).toEqual(before);
  });
});

describe('minting', () => {
  it('mints an agent token the verifier accepts, with typ, kid, iat, exp, jti', async () => {
    await ensureDevKeys(keyDir);
    const token = await mintAgentToken({
      keyDir,
      issuer: AGENT_ISS,
      audience: AUDIENCE,
      agentId: 'spiffe://dev.local/agent/triage',
      now: NOW,
    });
    const header = decodeProtectedHeader(token);
    expect(header).toEqual({ alg: 'ES256', typ: 'JWT', kid: readJson(DEV_KEY_FILES.agent.privateKey).kid });
    const claims = decodeJwt(token);
    expect(claims).toMatchObject({
      iss: AGENT_ISS,
      aud: AUDIENCE,
      sub: 'spiffe://dev.local/agent/triage',
      iat: NOW / 1000,
      exp: NOW / 1000 + 600,
    });
    expect(typeof claims.jti).toBe('string');
    const identity = await verifierFor(keyDir);
    await expect(identity.authenticateAgent(token)).resolves.toMatchObject({
      id: 'spiffe://dev.local/agent/triage',
      trustDomain: 'dev.local',
      jti: claims.jti,
    });
  });

  it('mints an already-expired token for a negative ttl, which the verifier refuses as expired', async () => {
    await ensureDevKeys(keyDir);
    const token = await mintAgentToken({
      keyDir,
      issuer: AGENT_ISS,
      audience: AUDIENCE,
      agentId: 'spiffe://dev.local/a',
      ttlSeconds: -120,
      now: NOW,
    });
    await expect((await verifierFor(keyDir)).authenticateAgent(token)).rejects.toMatchObject({ code: 'ERR_TOKEN_EXPIRED' });
  });

  it('mints a fresh jti per token', async () => {
    await ensureDevKeys(keyDir);
    const mint = () => mintAgentToken({ keyDir, issuer: AGENT_ISS, audience: AUDIENCE, agentId: 'spiffe://dev.local/a', now: NOW });
    expect(decodeJwt(await mint()).jti).not.toBe(decodeJwt(await mint()).jti);
  });

  it('mints an operator token carrying the roles claim', async () => {
    await ensureDevKeys(keyDir);
    const token = await mintOperatorToken({
      keyDir,
      issuer: OPERATOR_ISS,
      audience: `${AUDIENCE}/operators`,
      subject: 'alice@example.com',
      now: NOW,
    });
    expect(decodeJwt(token)).toMatchObject({ roles: ['operator'], exp: NOW / 1000 + 3600 });
    const identity = await verifierFor(keyDir);
    await expect(identity.authenticateOperator(token)).resolves.toMatchObject({ subject: 'alice@example.com', roles: ['operator'] });
    await expect(identity.authenticateAgent(token)).rejects.toMatchObject({ code: 'ERR_TOKEN_ISSUER_UNTRUSTED' });
  });

  it('signs agent and operator tokens with different keys', async () => {
    await ensureDevKeys(keyDir);
    const agent = await mintAgentToken({ keyDir, issuer: AGENT_ISS, audience: AUDIENCE, agentId: 'spiffe://dev.local/a', now: NOW });
    const operator = await mintOperatorToken({
      keyDir,
      issuer: OPERATOR_ISS,
      audience: `${AUDIENCE}/operators`,
      subject: 'alice',
      now: NOW,
    });
    expect(decodeProtectedHeader(agent).kid).not.toBe(decodeProtectedHeader(operator).kid);
  });

  it('refuses a fractional ttl, a registered claim as roles claim, and missing keys', async () => {
    await expect(
      mintAgentToken({ keyDir, issuer: AGENT_ISS, audience: AUDIENCE, agentId: 'spiffe://dev.local/a', now: NOW }),
    ).rejects.toThrow(/not found/);
    await ensureDevKeys(keyDir);
    await expect(
      mintAgentToken({ keyDir, issuer: AGENT_ISS, audience: AUDIENCE, agentId: 'spiffe://dev.local/a', ttlSeconds: 1.5, now: NOW }),
    ).rejects.toThrow(/ttlSeconds/);
    await expect(
      mintOperatorToken({ keyDir, issuer: OPERATOR_ISS, audience: `${AUDIENCE}/operators`, subject: 'a', rolesClaim: 'sub' }),
    ).rejects.toThrow(/registered claim/);
  });
});

describe('key files on disk', () => {
  it('keeps the key directory to its owner, and publishes the public sets world-readable', async () => {
    await ensureDevKeys(keyDir);
    expect(statSync(keyDir).mode & 0o777).toBe(0o700);
    for (const kind of ['agent', 'operator'] as const)
      expect(statSync(join(keyDir, DEV_KEY_FILES[kind].publicSet)).mode & 0o777).toBe(0o644);
    expect(readFileSync(join(keyDir, DEV_KEY_FILES.agent.publicSet), 'utf8')).toMatch(/^\{\n {2}"keys": \[\n[^]*\}\n$/u);
  });

  it('rewrites a public set that no longer matches the private key', async () => {
    await ensureDevKeys(keyDir);
    const before = readFileSync(join(keyDir, DEV_KEY_FILES.agent.publicSet), 'utf8');
    writeFileSync(join(keyDir, DEV_KEY_FILES.agent.publicSet), '{"keys":[]}');
    await ensureDevKeys(keyDir);
    expect(readFileSync(join(keyDir, DEV_KEY_FILES.agent.publicSet), 'utf8')).toBe(before);
  });

  it('refuses a private key file that is not JSON or not an ES256 private JWK, and one it cannot read', async () => {
    await ensureDevKeys(keyDir);
    const file = join(keyDir, DEV_KEY_FILES.agent.privateKey);
    const good = readJson(DEV_KEY_FILES.agent.privateKey);
    const mint = () => mintAgentToken({ keyDir, issuer: AGENT_ISS, audience: AUDIENCE, agentId: 'spiffe://dev.local/a', now: NOW });
    await expect(mint()).resolves.toBeTypeOf('string');
    writeFileSync(file, '{');
    await expect(mint()).rejects.toThrow(`${file} is not valid JSON; delete the development key directory to regenerate keys`);
    for (const change of [{ kty: 'RSA' }, { crv: 'P-384' }, { x: 1 }, { y: null }, { d: undefined }, { kid: 7 }]) {
      writeFileSync(file, JSON.stringify({ ...good, ...change }));
      await expect(mint()).rejects.toThrow(`${file} is not an ES256 private JWK with a kid; delete the development key directory`);
      await expect(ensureDevKeys(keyDir)).rejects.toThrow('is not an ES256 private JWK');
    }
    rmSync(file);
    mkdirSync(file);
    await expect(mint()).rejects.toMatchObject({ code: 'EISDIR' });
  });
});

describe('minting, claim by claim', () => {
  it('puts the roles in the configured claim', async () => {
    await ensureDevKeys(keyDir);
    const token = await mintOperatorToken({
      keyDir,
      issuer: OPERATOR_ISS,
      audience: AUDIENCE,
      subject: 'bob',
      roles: ['viewer', 'operator'],
      rolesClaim: 'groups',
      ttlSeconds: 60,
      now: NOW,
    });
    const claims = decodeJwt(token);
    expect(claims).toMatchObject({ groups: ['viewer', 'operator'], iss: OPERATOR_ISS, sub: 'bob', aud: AUDIENCE, exp: NOW / 1000 + 60 });
    expect(claims).not.toHaveProperty('roles');
    expect(decodeProtectedHeader(token)).toEqual({ alg: 'ES256', typ: 'JWT', kid: readJson(DEV_KEY_FILES.operator.privateKey).kid });
  });

  it.each(['iss', 'sub', 'aud', 'exp', 'nbf', 'iat', 'jti'])('refuses the registered claim %s as the roles claim', async (claim) => {
    await ensureDevKeys(keyDir);
    await expect(
      mintOperatorToken({ keyDir, issuer: OPERATOR_ISS, audience: AUDIENCE, subject: 'a', rolesClaim: 'groups', now: NOW }),
    ).resolves.toBeTypeOf('string');
    await expect(
      mintOperatorToken({ keyDir, issuer: OPERATOR_ISS, audience: AUDIENCE, subject: 'a', rolesClaim: claim, now: NOW }),
    ).rejects.toThrow(`rolesClaim must not be a registered claim, got ${claim}`);
  });

  it('issues at the whole second of now, and at the clock when no now is given', async () => {
    await ensureDevKeys(keyDir);
    const at = (now?: number) =>
      mintAgentToken({
        keyDir,
        issuer: AGENT_ISS,
        audience: AUDIENCE,
        agentId: 'spiffe://dev.local/a',
        ...(now === undefined ? {} : { now }),
      });
    expect(decodeJwt(await at(NOW + 999))).toMatchObject({ iat: NOW / 1000, exp: NOW / 1000 + 600 });
    const before = Math.floor(Date.now() / 1000);
    const { iat } = decodeJwt(await at());
    expect(iat).toBeGreaterThanOrEqual(before);
    expect(iat).toBeLessThanOrEqual(Math.floor(Date.now() / 1000));
    await expect(
      mintAgentToken({ keyDir, issuer: AGENT_ISS, audience: AUDIENCE, agentId: 'spiffe://dev.local/a', ttlSeconds: 1.5, now: NOW }),
    ).rejects.toThrow('ttlSeconds must be a whole number, got 1.5');
  });
});
