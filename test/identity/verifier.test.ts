/**
 * Identity v0 against SECURITY.md §1. Tokens are built by hand (node:crypto over raw header and
 * payload text) so a case can carry what no JOSE library would produce: duplicate members, `none`,
 * HS256 over the public key, non-canonical base64url. Every negative case first proves its valid
 * counterpart passes, then changes one thing (SPIFFE conformance method, STYLE.md #18).
 */
import { createHmac, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { calculateJwkThumbprint, type JWK } from 'jose';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { configSchema, type Config } from '../../src/config/schema.js';
import { BrokerError } from '../../src/errors.js';
import { FILE_RELOAD_COOLDOWN_MS } from '../../src/identity/key_sets.js';
import type { Identity } from '../../src/identity/types.js';
import { createIdentity } from '../../src/identity/verifier.js';
import { createLogger } from '../../src/logging.js';
import { createLogCapture } from '../support/log_capture.js';

const AUDIENCE = 'quartermaster';
const AGENT_ISS = 'https://agents.example.test';
const OPAQUE_ISS = 'https://ci.example.test';
const OPERATOR_ISS = 'https://operators.example.test';
const AGENT_ID = 'spiffe://dev.local/agent/triage';
const START = Date.UTC(2030, 0, 1, 12, 0, 0);

interface Signer {
  readonly privateKey: KeyObject;
  readonly publicJwk: JWK;
  readonly kid: string;
}

async function createSigner(): Promise<Signer> {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const jwk = publicKey.export({ format: 'jwk' }) as JWK;
  const kid = await calculateJwkThumbprint(jwk);
  return { privateKey, publicJwk: { ...jwk, kid, alg: 'ES256', use: 'sig' }, kid };
}

interface TokenSpec {
  header: Record<string, unknown> | string;
  payload: Record<string, unknown> | string;
  signer: Signer;
  /** Replaces the ES256 signature (base64url). */
  signature?: (signingInput: string) => string;
}

const b64 = (text: string): string => Buffer.from(text, 'utf8').toString('base64url');

function build(spec: TokenSpec): string {
  const header = typeof spec.header === 'string' ? spec.header : JSON.stringify(spec.header);
  const payload = typeof spec.payload === 'string' ? spec.payload : JSON.stringify(spec.payload);
  const input = `${b64(header)}.${b64(payload)}`;
  const signature = spec.signature
    ? spec.signature(input)
    : sign('sha256', Buffer.from(input), { key: spec.signer.privateKey, dsaEncoding: 'ieee-p1363' }).toString('base64url');
  return `${input}.${signature}`;
}

function writeJwks(file: string, keys: readonly JWK[]): void {
  writeFileSync(file, JSON.stringify({ keys }));
}

function identityConfig(dir: string, overrides: { operatorsJwks?: unknown } = {}): Config['identity'] {
  return configSchema.shape.identity.parse({
    audience: AUDIENCE,
    agents: [
      { name: 'spire', issuer: AGENT_ISS, jwks: { file: join(dir, 'agents.json') }, algorithms: ['ES256'], subject: 'spiffe', trustDomains: ['dev.local'], maxLifetimeSeconds: 3600, clockLeewaySeconds: 30 },
      { name: 'ci', issuer: OPAQUE_ISS, jwks: { file: join(dir, 'opaque.json') }, algorithms: ['ES256'], subject: 'opaque' },
    ],
    operators: { issuer: OPERATOR_ISS, jwks: overrides.operatorsJwks ?? { file: join(dir, 'operators.json') }, algorithms: ['ES256'], rolesClaim: 'roles', operatorRole: 'operator' },
    maxTokenBytes: 8192,
  });
}

let agentSigner: Signer;
let opaqueSigner: Signer;
let operatorSigner: Signer;
let now = START;
const clock = (): number => now;
const nowSec = (): number => Math.floor(now / 1000);

function agentSpec(): TokenSpec {
  return {
    header: { alg: 'ES256', typ: 'JWT', kid: agentSigner.kid },
    payload: { iss: AGENT_ISS, sub: AGENT_ID, aud: AUDIENCE, iat: nowSec(), exp: nowSec() + 600, jti: 'jti-1' },
    signer: agentSigner,
  };
}

function operatorSpec(): TokenSpec {
  return {
    header: { alg: 'ES256', typ: 'JWT', kid: operatorSigner.kid },
    payload: { iss: OPERATOR_ISS, sub: 'alice@example.com', aud: AUDIENCE, iat: nowSec(), exp: nowSec() + 600, roles: ['operator'] },
    signer: operatorSigner,
  };
}

const withHeader = (spec: TokenSpec, header: Record<string, unknown>): TokenSpec => ({ ...spec, header: { ...(spec.header as object), ...header } });
const withClaims = (spec: TokenSpec, claims: Record<string, unknown>): TokenSpec => ({ ...spec, payload: { ...(spec.payload as object), ...claims } });
function without(record: Record<string, unknown> | string, name: string): Record<string, unknown> {
  const copy = { ...(record as Record<string, unknown>) };
  delete copy[name];
  return copy;
}

async function rejection(promise: Promise<unknown>): Promise<BrokerError> {
  try {
    await promise;
  } catch (err) {
    expect(err).toBeInstanceOf(BrokerError);
    return err as BrokerError;
  }
  throw new Error('expected the token to be refused');
}

let dir: string;
let identity: Identity;

async function bootIdentity(config = identityConfig(dir)): Promise<Identity> {
  return createIdentity(config, { logger: createLogger({ level: 'silent' }), now: clock });
}

beforeAll(async () => {
  [agentSigner, opaqueSigner, operatorSigner] = await Promise.all([createSigner(), createSigner(), createSigner()]);
});

beforeEach(async () => {
  now = START;
  dir = mkdtempSync(join(tmpdir(), 'qm-identity-'));
  writeJwks(join(dir, 'agents.json'), [agentSigner.publicJwk]);
  writeJwks(join(dir, 'opaque.json'), [opaqueSigner.publicJwk]);
  writeJwks(join(dir, 'operators.json'), [operatorSigner.publicJwk]);
  identity = await bootIdentity();
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('valid tokens', () => {
  it('accepts a valid agent JWT-SVID and reports its identity', async () => {
    const token = build(agentSpec());
    const agent = await identity.authenticateAgent(token);
    expect(agent).toEqual({
      kind: 'agent', id: AGENT_ID, issuer: AGENT_ISS, issuerName: 'spire', subject: AGENT_ID,
      trustDomain: 'dev.local', jti: 'jti-1', expiresAt: (nowSec() + 600) * 1000, fingerprint: expect.stringMatching(/^[0-9a-f]{16}$/),
    });
    expect(Object.isFrozen(agent)).toBe(true);
  });

  it('names an opaque-issuer agent issuer#sub', async () => {
    const token = build({ ...agentSpec(), header: { alg: 'ES256', kid: opaqueSigner.kid }, payload: { iss: OPAQUE_ISS, sub: 'repo:acme/ops', aud: AUDIENCE, exp: nowSec() + 60 }, signer: opaqueSigner });
    const agent = await identity.authenticateAgent(token);
    expect(agent.id).toBe(`${OPAQUE_ISS}#repo:acme/ops`);
    expect(agent.trustDomain).toBeUndefined();
    expect(agent.jti).toBeUndefined();
  });

  it('accepts a valid operator token with the operator role', async () => {
    const operator = await identity.authenticateOperator(build(operatorSpec()));
    expect(operator).toMatchObject({ kind: 'operator', subject: 'alice@example.com', issuer: OPERATOR_ISS, roles: ['operator'], isOperator: true });
  });

  it.each([
    ['without the roles claim', undefined, []],
    ['with other roles', ['viewer'], ['viewer']],
    ['with roles that are not all strings', ['operator', 1], []],
    ['with roles as an object', { operator: true }, []],
  ])('authenticates an operator %s but not as operator', async (_name, roles, expected) => {
    await expect(identity.authenticateOperator(build(operatorSpec()))).resolves.toMatchObject({ isOperator: true });
    const spec = operatorSpec();
    const payload = roles === undefined ? without(spec.payload, 'roles') : { ...(spec.payload as object), roles };
    const operator = await identity.authenticateOperator(build({ ...spec, payload }));
    expect(operator.roles).toEqual(expected);
    expect(operator.isOperator).toBe(false);
  });

  it('accepts a single role given as a string', async () => {
    const operator = await identity.authenticateOperator(build(withClaims(operatorSpec(), { roles: 'operator' })));
    expect(operator.roles).toEqual(['operator']);
    expect(operator.isOperator).toBe(true);
  });

  it('does not read a roles claim from Object.prototype', async () => {
    const config = identityConfig(dir);
    const custom = await bootIdentity({ ...config, operators: { ...config.operators, rolesClaim: 'toString' } });
    const spec = operatorSpec();
    const operator = await custom.authenticateOperator(build({ ...spec, payload: without(spec.payload, 'roles') }));
    expect(operator.roles).toEqual([]);
  });

  it.each([
    ['typ absent', (s: TokenSpec) => ({ ...s, header: without(s.header, 'typ') })],
    ['typ JOSE', (s: TokenSpec) => withHeader(s, { typ: 'JOSE' })],
    ['typ application/jwt', (s: TokenSpec) => withHeader(s, { typ: 'application/jwt' })],
    ['aud an array containing the broker audience', (s: TokenSpec) => withClaims(s, { aud: ['other', AUDIENCE] })],
    ['no iat', (s: TokenSpec) => ({ ...s, payload: without(s.payload, 'iat') })],
    ['exp just inside the clock leeway', (s: TokenSpec) => withClaims(s, { iat: nowSec() - 600, exp: nowSec() - 20 })],
    ['lifetime exactly the maximum', (s: TokenSpec) => withClaims(s, { exp: nowSec() + 3600 })],
  ])('accepts an agent token with %s', async (_name, change) => {
    await expect(identity.authenticateAgent(build(change(agentSpec())))).resolves.toMatchObject({ id: AGENT_ID });
  });
});

type Endpoint = 'agent' | 'operator';
interface NegativeCase {
  readonly name: string;
  readonly endpoint?: Endpoint;
  /** The valid token this case starts from (default: the endpoint's own kind). */
  readonly base?: () => TokenSpec;
  readonly change?: (spec: TokenSpec) => TokenSpec;
  /** Applied to the finished token. */
  readonly tamper?: (token: string) => string;
  readonly code: string;
}

const BASE64URL_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
/** An ES256 signature (64 bytes, 86 chars) leaves 4 unused bits in its last char: set one. */
function setTrailingBit(token: string): string {
  const last = BASE64URL_ALPHABET.indexOf(token.at(-1) ?? '');
  return token.slice(0, -1) + BASE64URL_ALPHABET.charAt(last ^ 1);
}

const hs256WithPublicKey = (s: TokenSpec): TokenSpec => ({
  ...withHeader(s, { alg: 'HS256' }),
  // RFC 8725 §2.1 "alg confusion": an HMAC keyed with the verifier's public key.
  signature: (input) => createHmac('sha256', JSON.stringify(agentSigner.publicJwk)).update(input).digest('base64url'),
});

const NEGATIVE_CASES: readonly NegativeCase[] = [
  // Header and algorithm
  { name: 'alg none with an empty signature', change: (s) => ({ ...withHeader(s, { alg: 'none' }), signature: () => '' }), code: 'ERR_TOKEN_MALFORMED' },
  { name: 'alg none with a signature', change: (s) => withHeader(s, { alg: 'none' }), code: 'ERR_TOKEN_SIGNATURE' },
  { name: 'HS256 keyed with the public key', change: hs256WithPublicKey, code: 'ERR_TOKEN_SIGNATURE' },
  { name: 'an algorithm outside the issuer allowlist (ES384)', change: (s) => withHeader(s, { alg: 'ES384' }), code: 'ERR_TOKEN_SIGNATURE' },
  { name: 'an unknown kid', change: (s) => withHeader(s, { kid: 'not-a-known-key' }), code: 'ERR_TOKEN_SIGNATURE' },
  { name: 'no kid', change: (s) => ({ ...s, header: without(s.header, 'kid') }), code: 'ERR_TOKEN_MALFORMED' },
  { name: 'a kid longer than 128 characters', change: (s) => withHeader(s, { kid: 'k'.repeat(129) }), code: 'ERR_TOKEN_MALFORMED' },
  { name: 'a numeric kid', change: (s) => withHeader(s, { kid: 7 }), code: 'ERR_TOKEN_MALFORMED' },
  { name: 'an embedded jwk header', change: (s) => withHeader(s, { jwk: agentSigner.publicJwk }), code: 'ERR_TOKEN_MALFORMED' },
  { name: 'a jku header', change: (s) => withHeader(s, { jku: 'https://evil.example/jwks.json' }), code: 'ERR_TOKEN_MALFORMED' },
  { name: 'an x5u header', change: (s) => withHeader(s, { x5u: 'https://evil.example/cert.pem' }), code: 'ERR_TOKEN_MALFORMED' },
  { name: 'an x5c header', change: (s) => withHeader(s, { x5c: ['MIIB'] }), code: 'ERR_TOKEN_MALFORMED' },
  { name: 'a crit header', change: (s) => withHeader(s, { crit: ['exp'] }), code: 'ERR_TOKEN_MALFORMED' },
  { name: 'b64 false', change: (s) => withHeader(s, { b64: false, crit: ['b64'] }), code: 'ERR_TOKEN_MALFORMED' },
  { name: 'a __proto__ header member', change: (s) => ({ ...s, header: `{"alg":"ES256","kid":"${agentSigner.kid}","__proto__":{"x":1}}` }), code: 'ERR_TOKEN_MALFORMED' },
  { name: 'typ at+jwt (a broker access token)', change: (s) => withHeader(s, { typ: 'at+jwt' }), code: 'ERR_TOKEN_CLAIMS' },
  { name: 'a duplicate header member', change: (s) => ({ ...s, header: `{"alg":"ES256","kid":"${agentSigner.kid}","kid":"${agentSigner.kid}"}` }), code: 'ERR_TOKEN_MALFORMED' },
  // Structure
  { name: '4 parts', tamper: (t) => `${t}.${t.split('.')[2]}`, code: 'ERR_TOKEN_MALFORMED' },
  { name: '5 parts (JWE shape)', tamper: (t) => `${t}.AA.AA`, code: 'ERR_TOKEN_MALFORMED' },
  { name: '2 parts', tamper: (t) => t.split('.').slice(0, 2).join('.'), code: 'ERR_TOKEN_MALFORMED' },
  { name: 'an empty signature', tamper: (t) => t.slice(0, t.lastIndexOf('.') + 1), code: 'ERR_TOKEN_MALFORMED' },
  { name: 'an empty payload', tamper: (t) => { const [h, , s] = t.split('.'); return `${h}..${s}`; }, code: 'ERR_TOKEN_MALFORMED' },
  { name: 'padding characters', tamper: (t) => `${t}=`, code: 'ERR_TOKEN_MALFORMED' },
  { name: 'non-canonical base64url in the signature (trailing bits)', tamper: setTrailingBit, code: 'ERR_TOKEN_MALFORMED' },
  { name: 'the JSON serialization', tamper: (t) => { const [h, p, s] = t.split('.'); return JSON.stringify({ protected: h, payload: p, signature: s }); }, code: 'ERR_TOKEN_MALFORMED' },
  { name: 'a size above maxTokenBytes', change: (s) => withClaims(s, { pad: 'x'.repeat(9000) }), code: 'ERR_TOKEN_MALFORMED' },
  { name: 'a payload that is not an object', change: (s) => ({ ...s, payload: '["iss"]' }), code: 'ERR_TOKEN_MALFORMED' },
  { name: 'a byte-order mark before the payload', change: (s) => ({ ...s, payload: `\ufeff${JSON.stringify(s.payload)}` }), code: 'ERR_TOKEN_MALFORMED' },
  // Signature
  { name: 'a payload changed after signing', tamper: (t) => { const [h, , s] = t.split('.'); return `${h}.${b64(JSON.stringify({ ...(agentSpec().payload as object), sub: 'spiffe://dev.local/agent/admin' }))}.${s}`; }, code: 'ERR_TOKEN_SIGNATURE' },
  { name: 'a signature by another issuer\'s key under that key\'s kid', change: (s) => ({ ...withHeader(s, { kid: operatorSigner.kid }), signer: operatorSigner }), code: 'ERR_TOKEN_SIGNATURE' },
  { name: 'a signature by another key under the right kid', change: (s) => ({ ...s, signer: operatorSigner }), code: 'ERR_TOKEN_SIGNATURE' },
  // Time and lifetime
  { name: 'an exp in the past beyond the leeway', change: (s) => withClaims(s, { iat: nowSec() - 700, exp: nowSec() - 31 }), code: 'ERR_TOKEN_EXPIRED' },
  { name: 'no exp', change: (s) => ({ ...s, payload: without(s.payload, 'exp') }), code: 'ERR_TOKEN_CLAIMS' },
  { name: 'a string exp', change: (s) => withClaims(s, { exp: String(nowSec() + 600) }), code: 'ERR_TOKEN_CLAIMS' },
  { name: 'an nbf in the future beyond the leeway', change: (s) => withClaims(s, { nbf: nowSec() + 120 }), code: 'ERR_TOKEN_NOT_YET_VALID' },
  { name: 'an iat in the future beyond the leeway', change: (s) => withClaims(s, { iat: nowSec() + 120 }), code: 'ERR_TOKEN_NOT_YET_VALID' },
  { name: 'exp further away than the maximum lifetime', change: (s) => withClaims(s, { exp: nowSec() + 7200 }), code: 'ERR_TOKEN_LIFETIME' },
  { name: 'exp 1e308', change: (s) => withClaims(s, { exp: 1e308 }), code: 'ERR_TOKEN_LIFETIME' },
  { name: 'no iat and exp further away than the maximum lifetime', change: (s) => ({ ...s, payload: { ...without(s.payload, 'iat'), exp: nowSec() + 3600 + 31 } }), code: 'ERR_TOKEN_LIFETIME' },
  { name: 'exp - iat above the maximum lifetime', change: (s) => withClaims(s, { iat: nowSec() - 3000, exp: nowSec() + 1000 }), code: 'ERR_TOKEN_LIFETIME' },
  // Audience and issuer
  { name: 'another audience', change: (s) => withClaims(s, { aud: 'someone-else' }), code: 'ERR_TOKEN_AUDIENCE' },
  { name: 'an aud array without the broker audience', change: (s) => withClaims(s, { aud: ['a', 'b'] }), code: 'ERR_TOKEN_AUDIENCE' },
  { name: 'an audience differing in case', change: (s) => withClaims(s, { aud: 'Quartermaster' }), code: 'ERR_TOKEN_AUDIENCE' },
  { name: 'an aud array with a non-string member', change: (s) => withClaims(s, { aud: [AUDIENCE, 1] }), code: 'ERR_TOKEN_CLAIMS' },
  { name: 'no aud', change: (s) => ({ ...s, payload: without(s.payload, 'aud') }), code: 'ERR_TOKEN_CLAIMS' },
  { name: 'an unknown issuer', change: (s) => withClaims(s, { iss: 'https://evil.example' }), code: 'ERR_TOKEN_ISSUER_UNTRUSTED' },
  { name: 'an issuer differing by a trailing slash', change: (s) => withClaims(s, { iss: `${AGENT_ISS}/` }), code: 'ERR_TOKEN_ISSUER_UNTRUSTED' },
  { name: 'no iss', change: (s) => ({ ...s, payload: without(s.payload, 'iss') }), code: 'ERR_TOKEN_CLAIMS' },
  { name: 'an agent token on the operator endpoint', endpoint: 'operator', base: agentSpec, code: 'ERR_TOKEN_ISSUER_UNTRUSTED' },
  { name: 'an operator token on the agent endpoint', endpoint: 'agent', base: operatorSpec, code: 'ERR_TOKEN_ISSUER_UNTRUSTED' },
  // Subject
  { name: 'a sub that is not a SPIFFE ID', change: (s) => withClaims(s, { sub: 'triage-bot' }), code: 'ERR_TOKEN_CLAIMS' },
  { name: 'a SPIFFE sub with a dot-dot segment', change: (s) => withClaims(s, { sub: 'spiffe://dev.local/agent/../admin' }), code: 'ERR_TOKEN_CLAIMS' },
  { name: 'a SPIFFE sub with a Cyrillic homoglyph', change: (s) => withClaims(s, { sub: 'spiffe://dev.local/agent/tri\u0430ge' }), code: 'ERR_TOKEN_CLAIMS' },
  { name: 'a trust domain the issuer may not vouch for', change: (s) => withClaims(s, { sub: 'spiffe://prod.example/agent/triage' }), code: 'ERR_TOKEN_ISSUER_UNTRUSTED' },
  { name: 'a numeric sub', change: (s) => withClaims(s, { sub: 42 }), code: 'ERR_TOKEN_CLAIMS' },
  { name: 'no sub', change: (s) => ({ ...s, payload: without(s.payload, 'sub') }), code: 'ERR_TOKEN_CLAIMS' },
  { name: 'a numeric jti', change: (s) => withClaims(s, { jti: 5 }), code: 'ERR_TOKEN_CLAIMS' },
  // Duplicate members: JSON.parse would keep the last one.
  { name: 'a duplicate aud claim', change: (s) => ({ ...s, payload: JSON.stringify(s.payload).replace('{', '{"aud":"someone-else",') }), code: 'ERR_TOKEN_MALFORMED' },
  { name: 'a duplicate claim spelled with an escape', change: (s) => ({ ...s, payload: JSON.stringify(s.payload).replace('{', '{"\\u0061ud":"x",') }), code: 'ERR_TOKEN_MALFORMED' },
  { name: 'a duplicate member in a nested claim', change: (s) => ({ ...s, payload: JSON.stringify(s.payload).replace('{', '{"act":{"sub":"a","sub":"b"},') }), code: 'ERR_TOKEN_MALFORMED' },
  // Operator specifics
  { name: 'an operator token for another audience', endpoint: 'operator', change: (s) => withClaims(s, { aud: 'someone-else' }), code: 'ERR_TOKEN_AUDIENCE' },
  { name: 'an operator token with typ at+jwt', endpoint: 'operator', change: (s) => withHeader(s, { typ: 'at+jwt' }), code: 'ERR_TOKEN_CLAIMS' },
  { name: 'an operator token signed with the agent key', endpoint: 'operator', change: (s) => ({ ...withHeader(s, { kid: agentSigner.kid }), signer: agentSigner }), code: 'ERR_TOKEN_SIGNATURE' },
];

function authenticate(endpoint: Endpoint, token: string): Promise<unknown> {
  return endpoint === 'agent' ? identity.authenticateAgent(token) : identity.authenticateOperator(token);
}

describe('refused tokens', () => {
  it.each(NEGATIVE_CASES)('refuses $name with $code', async (c) => {
    const endpoint = c.endpoint ?? 'agent';
    const base = c.base ?? (endpoint === 'agent' ? agentSpec : operatorSpec);
    // The valid counterpart passes on its own endpoint…
    const valid = build(base());
    if (base === agentSpec) await expect(identity.authenticateAgent(valid)).resolves.toMatchObject({ kind: 'agent' });
    else await expect(identity.authenticateOperator(valid)).resolves.toMatchObject({ kind: 'operator' });
    // …then one thing changes.
    let token = build(c.change ? c.change(base()) : base());
    if (c.tamper) token = c.tamper(token);
    const err = await rejection(authenticate(endpoint, token));
    expect(err.code).toBe(c.code);
    expect(err.status).toBe(401);
    expect(err.headers).toEqual({ 'WWW-Authenticate': 'Bearer error="invalid_token"' });
    expect(err.expose).toBe(true);
    expect(err.detail).toBeTruthy();
    for (const text of [err.message, err.detail ?? '', JSON.stringify(err.toBody())]) {
      expect(text).not.toContain(token.slice(0, 40));
      expect(text).not.toContain(token.split('.')[2] || '\u0000');
    }
  });

  it('refuses a token that is not a string', async () => {
    const err = await rejection(identity.authenticateAgent(42 as unknown as string));
    expect(err.code).toBe('ERR_TOKEN_MALFORMED');
  });
});

describe('key sets', () => {
  it('picks up a rotated key file after the cooldown, not before', async () => {
    const rotated = await createSigner();
    const spec = (): TokenSpec => ({ ...withHeader(agentSpec(), { kid: rotated.kid }), signer: rotated });
    await expect(identity.authenticateAgent(build(agentSpec()))).resolves.toMatchObject({ id: AGENT_ID });
    expect((await rejection(identity.authenticateAgent(build(spec())))).code).toBe('ERR_TOKEN_SIGNATURE');

    writeJwks(join(dir, 'agents.json'), [agentSigner.publicJwk, rotated.publicJwk]);
    now += FILE_RELOAD_COOLDOWN_MS - 1_000;
    expect((await rejection(identity.authenticateAgent(build(spec())))).code).toBe('ERR_TOKEN_SIGNATURE');

    now += 1_000;
    await expect(identity.authenticateAgent(build(spec()))).resolves.toMatchObject({ id: AGENT_ID });
    await expect(identity.authenticateAgent(build(agentSpec()))).resolves.toMatchObject({ id: AGENT_ID });
  });

  it('drops a key removed from the file once an unknown kid prompts a re-read', async () => {
    const rotated = await createSigner();
    writeJwks(join(dir, 'agents.json'), [rotated.publicJwk]);
    await expect(identity.authenticateAgent(build(agentSpec()))).resolves.toMatchObject({ id: AGENT_ID });
    now += FILE_RELOAD_COOLDOWN_MS;
    await expect(identity.authenticateAgent(build({ ...withHeader(agentSpec(), { kid: rotated.kid }), signer: rotated }))).resolves.toMatchObject({ id: AGENT_ID });
    expect((await rejection(identity.authenticateAgent(build(agentSpec())))).code).toBe('ERR_TOKEN_SIGNATURE');
  });

  it('keeps the last good keys when a re-read finds a broken or private-key file', async () => {
    for (const content of ['{"keys": [', JSON.stringify({ keys: [{ ...agentSigner.publicJwk, d: 'AAAA' }] })]) {
      await expect(identity.authenticateAgent(build(agentSpec()))).resolves.toMatchObject({ id: AGENT_ID });
      writeFileSync(join(dir, 'agents.json'), content);
      now += FILE_RELOAD_COOLDOWN_MS;
      expect((await rejection(identity.authenticateAgent(build(withHeader(agentSpec(), { kid: 'unknown' }))))).code).toBe('ERR_TOKEN_SIGNATURE');
      await expect(identity.authenticateAgent(build(agentSpec()))).resolves.toMatchObject({ id: AGENT_ID });
    }
  });

  it.each([
    ['a private key (d)', (jwk: JWK) => [{ ...jwk, d: 'AAAA' }]],
    ['a symmetric key (kty oct)', (jwk: JWK) => [jwk, { kty: 'oct', k: 'c2VjcmV0', kid: 'hmac' }]],
    ['a symmetric key with its secret elsewhere (kty oct, no k)', (jwk: JWK) => [jwk, { kty: 'oct', kid: 'hmac' }]],
  ])('refuses to boot when a key file holds %s', async (_name, keys) => {
    await expect(bootIdentity()).resolves.toBeTruthy();
    writeJwks(join(dir, 'agents.json'), keys(agentSigner.publicJwk));
    const err = await rejection(bootIdentity());
    expect(err.code).toBe('ERR_CONFIG');
    expect(err.message).toContain('identity.agents[spire].jwks');
  });

  it('refuses to boot when a key file is missing or not a key set', async () => {
    await expect(bootIdentity()).resolves.toBeTruthy();
    rmSync(join(dir, 'operators.json'));
    expect((await rejection(bootIdentity())).code).toBe('ERR_CONFIG');
    writeFileSync(join(dir, 'operators.json'), '[]');
    expect((await rejection(bootIdentity())).code).toBe('ERR_CONFIG');
  });
});

describe('remote key sets', () => {
  let server: Server;
  let baseUrl: string;
  let routes: Record<string, (res: ServerResponse) => void>;
  const hits: string[] = [];

  beforeAll(async () => {
    server = createServer((req, res) => {
      hits.push(req.url ?? '');
      const route = routes[req.url ?? ''];
      if (route) return route(res);
      // Catch-all: any unexpected request fails loudly (STYLE.md #16).
      res.writeHead(501).end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));
  beforeEach(() => {
    hits.length = 0;
    routes = {
      '/jwks': (res) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: [operatorSigner.publicJwk] })),
    };
  });

  const remoteIdentity = (path: string, maxBytes = 4096): Promise<Identity> =>
    bootIdentity(identityConfig(dir, { operatorsJwks: { url: `${baseUrl}${path}`, timeoutMs: 2000, maxBytes, cooldownSeconds: 30 } }));

  it('verifies an operator token with keys fetched from the configured URL', async () => {
    const remote = await remoteIdentity('/jwks');
    await expect(remote.authenticateOperator(build(operatorSpec()))).resolves.toMatchObject({ isOperator: true });
    expect(hits).toEqual(['/jwks']);
  });

  it('refuses keys from a response above maxBytes', async () => {
    await expect((await remoteIdentity('/jwks')).authenticateOperator(build(operatorSpec()))).resolves.toMatchObject({ isOperator: true });
    const big = JSON.stringify({ keys: [operatorSigner.publicJwk], pad: 'x'.repeat(8192) });
    routes['/big'] = (res) => res.writeHead(200, { 'content-type': 'application/json' }).end(big);
    routes['/chunked'] = (res) => { res.writeHead(200, { 'content-type': 'application/json' }); res.write(big.slice(0, 100)); res.end(big.slice(100)); };
    for (const path of ['/big', '/chunked']) {
      expect((await rejection((await remoteIdentity(path)).authenticateOperator(build(operatorSpec())))).code).toBe('ERR_TOKEN_SIGNATURE');
    }
  });

  it('refuses a remote key set that carries a private key', async () => {
    await expect((await remoteIdentity('/jwks')).authenticateOperator(build(operatorSpec()))).resolves.toMatchObject({ isOperator: true });
    routes['/private'] = (res) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: [{ ...operatorSigner.publicJwk, d: 'AAAA' }] }));
    expect((await rejection((await remoteIdentity('/private')).authenticateOperator(build(operatorSpec())))).code).toBe('ERR_TOKEN_SIGNATURE');
  });

  it('does not follow a redirect away from the configured URL', async () => {
    await expect((await remoteIdentity('/jwks')).authenticateOperator(build(operatorSpec()))).resolves.toMatchObject({ isOperator: true });
    hits.length = 0;
    routes['/moved'] = (res) => res.writeHead(302, { location: `${baseUrl}/jwks` }).end();
    expect((await rejection((await remoteIdentity('/moved')).authenticateOperator(build(operatorSpec())))).code).toBe('ERR_TOKEN_SIGNATURE');
    expect(hits).toEqual(['/moved']);
  });
});

describe('logging', () => {
  it('never writes a token or its signature to the log, on success or refusal', async () => {
    const capture = createLogCapture();
    const logged = await createIdentity(identityConfig(dir), { logger: createLogger({ level: 'trace', destination: capture }), now: clock });
    const tokens = [
      build(agentSpec()),
      build(operatorSpec()),
      build(withClaims(agentSpec(), { aud: 'someone-else' })),
      build(withClaims(agentSpec(), { iat: nowSec() - 700, exp: nowSec() - 60 })),
      build(hs256WithPublicKey(agentSpec())),
      build({ ...agentSpec(), payload: JSON.stringify(agentSpec().payload).replace('{', '{"aud":"x",') }),
      build(withHeader(agentSpec(), { kid: 'unknown' })),
    ];
    // A broken key file re-read: the one path that logs a warning.
    writeFileSync(join(dir, 'agents.json'), '{"keys": [');
    now += FILE_RELOAD_COOLDOWN_MS;
    tokens.push(build(withHeader(agentSpec(), { kid: 'unknown-after-cooldown' })));
    for (const token of tokens) {
      await logged.authenticateAgent(token).catch(() => undefined);
      await logged.authenticateOperator(token).catch(() => undefined);
    }
    const text = capture.text();
    expect(text).toContain('key file re-read failed');
    for (const token of tokens) {
      expect(text).not.toContain(token);
      const signature = token.split('.')[2];
      if (signature && signature.length > 20) expect(text).not.toContain(signature);
    }
  });
});
