/**
 * The `jwt` provider's keys: the signing key, one EC P-256 private JWK in a file (ES256, RFC 7518
 * §3.4), and the keys published beside it for rotation (previous and next, public JWKs).
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

/** A key published in the JWKS and accepted at introspection, but never used to sign. */
export interface PublishedKey {
  readonly kid: string;
  readonly verifyKey: KeyObject;
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
  let text = (await readKeyFile(file, SIGNING_SETTING, !options.devMode))?.text ?? null;
  if (text === null) {
    if (!options.generateIfMissing) {
      throw keyFileError(file, 'does not exist (provision an EC P-256 private JWK, or set generateKeyIfMissing in development mode)');
    }
    text = await generateKeyFile(file, options.logger);
  }
  const jwk = parseEcJwk(text, file, SIGNING_SETTING);
  if (jwk.d === undefined) throw keyFileError(file, 'holds a public key only (no "d"); signing needs the private key');
  return importSigningKey({ ...jwk, d: jwk.d }, file);
}

/**
 * A key of `publishedKeyFiles`: the previous signing key (its tokens stay valid until they expire)
 * or the next one (downstream verifiers cache it before it signs). A public JWK is enough; a file
 * that holds the private half too is checked like the signing key (the point must match "d", the
 * file must be readable by its owner only outside development mode) and only its public half is kept.
 */
export async function loadPublishedKey(file: string, devMode: boolean): Promise<PublishedKey> {
  const read = await readKeyFile(file, PUBLISHED_SETTING, false);
  if (read === null) throw keyFileError(file, 'does not exist', PUBLISHED_SETTING);
  const jwk = parseEcJwk(read.text, file, PUBLISHED_SETTING);
  if (jwk.d !== undefined) {
    checkSecretFileMode(file, read.mode, { setting: PUBLISHED_SETTING, strictPermissions: !devMode });
    const { kid, verifyKey, publicJwk } = await importSigningKey({ ...jwk, d: jwk.d }, file, PUBLISHED_SETTING);
    return { kid, verifyKey, publicJwk };
  }
  const { kty, crv, x, y } = jwk;
  let verifyKey: KeyObject;
  try {
    verifyKey = createPublicKey({ key: { kty, crv, x, y }, format: 'jwk' });
  } catch {
    throw keyFileError(file, 'is not a valid EC P-256 public key (the point is not on the curve)', PUBLISHED_SETTING);
  }
  const kid = await calculateJwkThumbprint({ kty, crv, x, y }, 'sha256');
  return { kid, verifyKey, publicJwk: Object.freeze({ kty, crv, x, y, kid, alg: SIGNING_ALG, use: 'sig' }) };
}

const SIGNING_SETTING = 'providers.jwt.signingKeyFile';
const PUBLISHED_SETTING = 'providers.jwt.publishedKeyFiles';

/** The file's text and mode, or null when it does not exist. */
async function readKeyFile(file: string, setting: string, strict: boolean): Promise<{ text: string; mode: number } | null> {
  let handle;
  try {
    handle = await open(file, 'r');
  } catch (err) {
    const code = errnoCode(err);
    if (code === 'ENOENT') return null;
    throw keyFileError(file, `cannot be opened (${code ?? 'unknown error'})`, setting);
  }
  try {
    const stat = await handle.stat();
    if (!stat.isFile()) throw keyFileError(file, 'is not a regular file', setting);
    checkSecretFileMode(file, stat.mode, { setting, strictPermissions: strict });
    if (stat.size > MAX_KEY_FILE_BYTES) throw keyFileError(file, `is larger than ${MAX_KEY_FILE_BYTES} bytes; expected one JWK`, setting);
    return { text: await handle.readFile('utf8'), mode: stat.mode };
  } catch (err) {
    if (err instanceof BrokerError) throw err;
    throw keyFileError(file, `cannot be read (${errnoCode(err) ?? 'unknown error'})`, setting);
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
  const onDisk = await readKeyFile(file, SIGNING_SETTING, false);
  if (onDisk === null) throw keyFileError(file, 'vanished right after it was created');
  return onDisk.text;
}

interface EcJwk {
  readonly kty: 'EC';
  readonly crv: 'P-256';
  readonly x: string;
  readonly y: string;
  readonly d?: string;
}
type PrivateEcJwk = EcJwk & { readonly d: string };

/** One EC P-256 JWK, public or private; refuses every other shape with the file and the problem. */
function parseEcJwk(text: string, file: string, setting: string): EcJwk {
  const refuse = (problem: string): BrokerError => keyFileError(file, problem, setting);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    // V8's JSON.parse message quotes the input around the error: never pass it on.
    throw refuse('is not valid JSON');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw refuse('must hold one JWK object');
  const jwk = value as Record<string, unknown>;
  if ('keys' in jwk) throw refuse('holds a JWK Set; expected one JWK');
  if (jwk.kty === 'oct') throw refuse('holds a symmetric (oct) key; ES256 needs an EC P-256 key');
  if (jwk.kty !== 'EC') throw refuse(`holds a key of type ${label(jwk.kty)}; ES256 needs kty "EC"`);
  if (jwk.crv !== 'P-256') throw refuse(`holds an EC key on curve ${label(jwk.crv)}; ES256 needs crv "P-256"`);
  if (jwk.alg !== undefined && jwk.alg !== SIGNING_ALG) throw refuse(`declares alg ${label(jwk.alg)}; expected "ES256" or none`);
  if (jwk.use !== undefined && jwk.use !== 'sig') throw refuse(`declares use ${label(jwk.use)}; expected "sig" or none`);
  for (const member of jwk.d === undefined ? (['x', 'y'] as const) : (['x', 'y', 'd'] as const)) {
    const field = jwk[member];
    if (typeof field !== 'string' || !P256_FIELD.test(field)) {
      throw refuse(`has a malformed "${member}" (expected 32 bytes, base64url)`);
    }
  }
  const { x, y, d } = jwk as { x: string; y: string; d?: string };
  return d === undefined ? { kty: 'EC', crv: 'P-256', x, y } : { kty: 'EC', crv: 'P-256', x, y, d };
}

async function importSigningKey(jwk: PrivateEcJwk, file: string, setting = SIGNING_SETTING): Promise<SigningKey> {
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
    throw keyFileError(file, 'is not a valid EC P-256 private key (the point is invalid or does not match "d")', setting);
  }
  const kid = await calculateJwkThumbprint({ kty, crv, x, y }, 'sha256');
  return {
    kid,
    signingKey,
    verifyKey: createPublicKey(signingKey),
    publicJwk: Object.freeze({ kty, crv, x, y, kid, alg: SIGNING_ALG, use: 'sig' }),
  };
}

function keyFileError(file: string, problem: string, setting = SIGNING_SETTING): BrokerError {
  return configError(`${setting}: ${file} ${problem}`);
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
