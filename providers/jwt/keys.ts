/**
 * The `jwt` provider's signing key: one EC P-256 private JWK in a file (ES256, RFC 7518 §3.4).
 *
 * Every error here names the file and the problem, never the file's content: a key file that is
 * half-right still holds a private scalar, and boot errors end up in terminals and log pipelines
 * (docs/security.md §4).
 */
import { createECDH, createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { open } from 'node:fs/promises';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, type JWK } from 'jose';
import { BrokerError, checkSecretFileMode, publishExclusive, type ProviderLogger } from '../../src/sdk.js';

export const SIGNING_ALG = 'ES256';

export interface SigningKey {
  /** RFC 7638 JWK thumbprint (SHA-256) of the public key: stable, and derived, never trusted from the file. */
  readonly kid: string;
  /** The private key, for synchronous node:crypto signing (no WebCrypto threadpool hop per token). */
  readonly signingKey: KeyObject;
  /** Its public key, for synchronous verification at introspection. */
  readonly verifyKey: KeyObject;
  /** Public members only (kty, crv, x, y, kid, alg, use), as served at /.well-known/jwks.json. */
  readonly publicJwk: Readonly<Record<string, string>>;
}

export interface LoadSigningKeyOptions {
  readonly file: string;
  readonly generateIfMissing: boolean;
  readonly devMode: boolean;
  readonly logger: ProviderLogger;
}

/** A JWK is a few hundred bytes; anything much larger is the wrong file. */
const MAX_KEY_FILE_BYTES = 64 * 1024;
/** base64url of a 32-byte P-256 coordinate or private scalar (RFC 7518 §6.2.1.2, §6.2.2.1). */
const P256_FIELD = /^[A-Za-z0-9_-]{43}$/u;

export async function loadSigningKey(options: LoadSigningKeyOptions): Promise<SigningKey> {
  const { file } = options;
  if (options.generateIfMissing && !options.devMode) {
    // A production broker that minted its own key on a fresh volume would silently change the
    // key every downstream verifier trusts; production keys are provisioned, never generated.
    throw configError('providers.jwt.generateKeyIfMissing: allowed only in development mode; provision signingKeyFile instead');
  }
  let text = await readKeyFile(file, !options.devMode);
  if (text === null) {
    if (!options.generateIfMissing) {
      throw keyFileError(file, 'does not exist (provision an EC P-256 private JWK, or set generateKeyIfMissing in development mode)');
    }
    text = await generateKeyFile(file, options.logger);
  }
  return importSigningKey(parseSigningJwk(text, file), file);
}

/** The file's text, or null when it does not exist. */
async function readKeyFile(file: string, strict: boolean): Promise<string | null> {
  let handle;
  try {
    handle = await open(file, 'r');
  } catch (err) {
    const code = errnoCode(err);
    if (code === 'ENOENT') return null;
    throw keyFileError(file, `cannot be opened (${code ?? 'unknown error'})`);
  }
  try {
    const stat = await handle.stat();
    if (!stat.isFile()) throw keyFileError(file, 'is not a regular file');
    checkSecretFileMode(file, stat.mode, { setting: 'providers.jwt.signingKeyFile', strictPermissions: strict });
    if (stat.size > MAX_KEY_FILE_BYTES) throw keyFileError(file, `is larger than ${MAX_KEY_FILE_BYTES} bytes; expected one JWK`);
    return await handle.readFile('utf8');
  } catch (err) {
    if (err instanceof BrokerError) throw err;
    throw keyFileError(file, `cannot be read (${errnoCode(err) ?? 'unknown error'})`);
  } finally {
    await handle.close();
  }
}

/**
 * Creates the key file with the broker's exclusive publish (sdk.ts publishExclusive: private temp
 * file, then a hard link that never replaces a key a concurrent creator already published), so
 * every creator ends up reading the same key back.
 */
async function generateKeyFile(file: string, logger: ProviderLogger): Promise<string> {
  const { privateKey } = await generateKeyPair(SIGNING_ALG, { extractable: true });
  const { kty, crv, x, y, d } = await exportJWK(privateKey);
  const kid = await calculateJwkThumbprint({ kty, crv, x, y } as JWK, 'sha256');
  const text = `${JSON.stringify({ kty, crv, x, y, d, kid, alg: SIGNING_ALG, use: 'sig' })}\n`;

  try {
    if (await publishExclusive(file, text, 0o600)) logger.info({ file, kid }, 'generated development jwt signing key');
  } catch (err) {
    throw keyFileError(file, `cannot be created (${errnoCode(err) ?? 'unknown error'})`);
  }
  const onDisk = await readKeyFile(file, false);
  if (onDisk === null) throw keyFileError(file, 'vanished right after it was created');
  return onDisk;
}

interface PrivateEcJwk {
  readonly kty: 'EC';
  readonly crv: 'P-256';
  readonly x: string;
  readonly y: string;
  readonly d: string;
}

function parseSigningJwk(text: string, file: string): PrivateEcJwk {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    // V8's JSON.parse message quotes the input around the error: never pass it on.
    throw keyFileError(file, 'is not valid JSON');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw keyFileError(file, 'must hold one JWK object');
  const jwk = value as Record<string, unknown>;
  if ('keys' in jwk) throw keyFileError(file, 'holds a JWK Set; expected one private JWK');
  if (jwk.kty === 'oct') throw keyFileError(file, 'holds a symmetric (oct) key; ES256 needs an EC P-256 private key');
  if (jwk.kty !== 'EC') throw keyFileError(file, `holds a key of type ${label(jwk.kty)}; ES256 needs kty "EC"`);
  if (jwk.crv !== 'P-256') throw keyFileError(file, `holds an EC key on curve ${label(jwk.crv)}; ES256 needs crv "P-256"`);
  if (jwk.d === undefined) throw keyFileError(file, 'holds a public key only (no "d"); signing needs the private key');
  if (jwk.alg !== undefined && jwk.alg !== SIGNING_ALG)
    throw keyFileError(file, `declares alg ${label(jwk.alg)}; expected "ES256" or none`);
  if (jwk.use !== undefined && jwk.use !== 'sig') throw keyFileError(file, `declares use ${label(jwk.use)}; expected "sig" or none`);
  for (const member of ['x', 'y', 'd'] as const) {
    const field = jwk[member];
    if (typeof field !== 'string' || !P256_FIELD.test(field)) {
      throw keyFileError(file, `has a malformed "${member}" (expected 32 bytes, base64url)`);
    }
  }
  return { kty: 'EC', crv: 'P-256', x: jwk.x as string, y: jwk.y as string, d: jwk.d as string };
}

async function importSigningKey(jwk: PrivateEcJwk, file: string): Promise<SigningKey> {
  const { kty, crv, x, y, d } = jwk;
  let signingKey: KeyObject;
  try {
    // A "d" that does not belong to x/y would sign tokens nobody can verify with our JWKS, and
    // a JWK import takes x/y on trust: derive the public point from d and compare.
    const ecdh = createECDH('prime256v1');
    ecdh.setPrivateKey(Buffer.from(d, 'base64url'));
    const point = ecdh.getPublicKey(); // 0x04 || X || Y (SEC 1 uncompressed)
    if (point.subarray(1, 33).toString('base64url') !== x || point.subarray(33).toString('base64url') !== y) throw new Error('mismatch');
    signingKey = createPrivateKey({ key: { kty, crv, x, y, d }, format: 'jwk' });
  } catch {
    // The cause may describe the key data: leave it out.
    throw keyFileError(file, 'is not a valid EC P-256 private key (the point is invalid or does not match "d")');
  }
  const kid = await calculateJwkThumbprint({ kty, crv, x, y }, 'sha256');
  return {
    kid,
    signingKey,
    verifyKey: createPublicKey(signingKey),
    publicJwk: Object.freeze({ kty, crv, x, y, kid, alg: SIGNING_ALG, use: 'sig' }),
  };
}

function keyFileError(file: string, problem: string): BrokerError {
  return configError(`providers.jwt.signingKeyFile: ${file} ${problem}`);
}

function configError(message: string): BrokerError {
  return new BrokerError('ERR_CONFIG', 500, message);
}

/** A short, safe rendering of a JWK member we refused (a type or curve name, never key data). */
function label(value: unknown): string {
  return typeof value === 'string' && /^[A-Za-z0-9+-]{1,16}$/u.test(value) ? `"${value}"` : 'unrecognised';
}

function errnoCode(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}
