import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
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
