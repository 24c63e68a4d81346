/**
 * Development token issuer: local ES256 keys for one agent issuer and one operator issuer, and
 * functions that mint tokens the verifier accepts. Development mode only — config validation
 * refuses `devIssuer` in production and the CLI refuses to mint outside development mode.
 *
 * Key files in `keyDir`: private JWKs (`*-signing-key.json`, mode 0600) and the public sets the
 * verifier's `{ file }` key sources read: for agents a SPIFFE bundle (`agent-bundle.json`, its
 * key marked `use: "jwt-svid"` as SPIFFE_Trust_Domain_and_Bundle.md §4.2.2 requires), for
 * operators a plain JWK Set (`operator-jwks.json`). The CLI and the broker may both create
 * them at once, so creation is race-safe: the private key is published with link(2), which fails
 * if another creator won (key_files.ts), and the public set is always derived from the winning private key and
 * written by temp file + rename, so a reader never sees a half-written file.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdir, readFile, rename, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, importJWK, SignJWT } from 'jose';
import { publishExclusive } from '../key_files.js';

const ALG = 'ES256';

/** File names inside keyDir, per token kind. */
export const DEV_KEY_FILES = {
  agent: { privateKey: 'agent-signing-key.json', publicSet: 'agent-bundle.json', use: 'jwt-svid' },
  operator: { privateKey: 'operator-signing-key.json', publicSet: 'operator-jwks.json', use: 'sig' },
} as const;

type Kind = keyof typeof DEV_KEY_FILES;

interface PrivateJwk {
  readonly kty: 'EC';
  readonly crv: 'P-256';
  readonly x: string;
  readonly y: string;
  readonly d: string;
  readonly kid: string;
  readonly alg: typeof ALG;
  readonly use: 'sig';
}

/** Creates any missing key pair in keyDir; existing keys are kept. Safe to run concurrently. */
export async function ensureDevKeys(keyDir: string): Promise<void> {
  await mkdir(keyDir, { recursive: true, mode: 0o700 });
  for (const kind of Object.keys(DEV_KEY_FILES) as Kind[]) await ensurePair(keyDir, kind);
}

async function ensurePair(keyDir: string, kind: Kind): Promise<void> {
  const files = DEV_KEY_FILES[kind];
  const privatePath = join(keyDir, files.privateKey);
  let jwk = await readPrivateJwk(privatePath);
  if (!jwk) {
    const candidate = await generatePrivateJwk();
    const published = await publishExclusive(privatePath, serialize(candidate), 0o600);
    // Lost the race: use the key the other creator published, so both agree on one key.
    jwk = published ? candidate : await readPrivateJwk(privatePath);
    if (!jwk) throw new Error(`${privatePath} vanished while creating development keys`);
  }
  // Derived from the private key every time, so a crash between the two writes heals itself.
  const publicPath = join(keyDir, files.publicSet);
  const wanted = serialize({ keys: [{ ...publicOf(jwk), use: files.use }] });
  const current = await readFile(publicPath, 'utf8').catch(() => null);
  if (current !== wanted) await writeAtomic(publicPath, wanted, 0o644);
}

export interface MintAgentTokenOptions {
  readonly keyDir: string;
  readonly issuer: string;
  readonly audience: string;
  /** The token's `sub`: a SPIFFE ID in the dev trust domain (identity.agents.spiffe). */
  readonly agentId: string;
  readonly ttlSeconds?: number;
  /** Issue time, ms since the epoch (default: the clock). */
  readonly now?: number;
  /** More claims for the token (policy.agentClaims maps them into policy); never a registered one. */
  readonly claims?: Readonly<Record<string, unknown>>;
}

export async function mintAgentToken(options: MintAgentTokenOptions): Promise<string> {
  const { keyDir, issuer, audience, agentId, ttlSeconds = 600, now = Date.now(), claims = {} } = options;
  const taken = Object.keys(claims).find((name) => REGISTERED_CLAIMS.has(name));
  if (taken !== undefined) throw new Error(`claims must not set a registered claim, got ${taken}`);
  return mint(keyDir, 'agent', new SignJWT({ ...claims }), { issuer, audience, subject: agentId, ttlSeconds, now });
}

export interface MintOperatorTokenOptions {
  readonly keyDir: string;
  readonly issuer: string;
  readonly audience: string;
  readonly subject: string;
  readonly roles?: readonly string[];
  /** Claim that carries the roles (identity.operators.rolesClaim). */
  readonly rolesClaim?: string;
  readonly ttlSeconds?: number;
  /** Issue time, ms since the epoch (default: the clock). */
  readonly now?: number;
}

/** Registered claims (RFC 7519 §4.1) the roles must never overwrite. */
const REGISTERED_CLAIMS: ReadonlySet<string> = new Set(['iss', 'sub', 'aud', 'exp', 'nbf', 'iat', 'jti']);

export async function mintOperatorToken(options: MintOperatorTokenOptions): Promise<string> {
  const { keyDir, issuer, audience, subject, roles = ['operator'], rolesClaim = 'roles', ttlSeconds = 3600, now = Date.now() } = options;
  if (REGISTERED_CLAIMS.has(rolesClaim)) throw new Error(`rolesClaim must not be a registered claim, got ${rolesClaim}`);
  return mint(keyDir, 'operator', new SignJWT({ [rolesClaim]: [...roles] }), { issuer, audience, subject, ttlSeconds, now });
}

async function mint(
  keyDir: string,
  kind: Kind,
  jwt: SignJWT,
  claims: { issuer: string; audience: string; subject: string; ttlSeconds: number; now: number },
): Promise<string> {
  // Any whole number: tests mint already-expired tokens with a negative TTL. The CLI allows only positive ones.
  if (!Number.isSafeInteger(claims.ttlSeconds)) throw new Error(`ttlSeconds must be a whole number, got ${claims.ttlSeconds}`);
  const path = join(keyDir, DEV_KEY_FILES[kind].privateKey);
  const jwk = await readPrivateJwk(path);
  if (!jwk) throw new Error(`${path} not found; run ensureDevKeys first`);
  const key = await importJWK(jwk, ALG);
  const iat = Math.floor(claims.now / 1000);
  return jwt
    .setProtectedHeader({ alg: ALG, typ: 'JWT', kid: jwk.kid })
    .setIssuer(claims.issuer)
    .setSubject(claims.subject)
    .setAudience(claims.audience)
    .setIssuedAt(iat)
    .setExpirationTime(iat + claims.ttlSeconds)
    .setJti(randomUUID())
    .sign(key);
}

async function generatePrivateJwk(): Promise<PrivateJwk> {
  const { privateKey } = await generateKeyPair(ALG, { extractable: true });
  const { x, y, d } = await exportJWK(privateKey);
  if (!x || !y || !d) throw new Error('generated EC key lacks x, y or d');
  // RFC 7638 thumbprint: a kid derived from the key, stable across restarts.
  const kid = await calculateJwkThumbprint({ kty: 'EC', crv: 'P-256', x, y });
  return { kty: 'EC', crv: 'P-256', x, y, d, kid, alg: ALG, use: 'sig' };
}

/** The private key file, or null when it does not exist. Anything else about it is an error. */
async function readPrivateJwk(path: string): Promise<PrivateJwk | null> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  let value: Record<string, unknown>;
  try {
    value = JSON.parse(text) as Record<string, unknown>;
  } catch {
    throw new Error(`${path} is not valid JSON; delete the development key directory to regenerate keys`);
  }
  const { kty, crv, x, y, d, kid } = value;
  if (
    kty !== 'EC' ||
    crv !== 'P-256' ||
    typeof x !== 'string' ||
    typeof y !== 'string' ||
    typeof d !== 'string' ||
    typeof kid !== 'string'
  ) {
    throw new Error(`${path} is not an ES256 private JWK with a kid; delete the development key directory to regenerate keys`);
  }
  return { kty, crv, x, y, d, kid, alg: ALG, use: 'sig' };
}

function publicOf(jwk: PrivateJwk): Omit<PrivateJwk, 'd' | 'use'> {
  return { kty: jwk.kty, crv: jwk.crv, x: jwk.x, y: jwk.y, kid: jwk.kid, alg: jwk.alg };
}

function serialize(value: unknown): string {
  return `${JSON.stringify(value, null, 2)}\n`;
}

function tempPathFor(path: string): string {
  return `${path}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
}

/** Replaces `path` atomically: readers see the old or the new content, never a partial file. */
async function writeAtomic(path: string, content: string, mode: number): Promise<void> {
  const tmp = tempPathFor(path);
  await writeFile(tmp, content, { mode, flag: 'wx' });
  try {
    await rename(tmp, path);
  } catch (err) {
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
}
