/**
 * Signed audit checkpoints (docs/audit.md "Checkpoints"): a compact JWS (RFC 7515, `alg` EdDSA,
 * RFC 8037) over `{"seq", "hash", "at"}`, the chain link at `seq`, signed with an Ed25519 key the
 * store never holds. Anyone with the public key (GET /v1/audit/keys, or the key file's public
 * half) can check a checkpoint offline with any JOSE library, and with it every event up to `seq`.
 *
 * The key is an Ed25519 private JWK in a file (`audit.chain.keyFile`); its `kid` is its RFC 7638
 * thumbprint, derived, never trusted from the file. In development mode a missing file is
 * generated. Retired keys stay listed (`previousPublicKeyFiles`) so older checkpoints still verify.
 * Errors name the file and the problem, never the content.
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';
import { calculateJwkThumbprint } from 'jose';
import { BrokerError } from '../errors.js';
import { publishExclusive } from '../key_files.js';
import type { Logger } from '../logging.js';
import { readSecretText } from '../secret_files.js';
import type { CheckpointClaim } from './chain.js';

export const CHECKPOINT_TYP = 'qm-audit-checkpoint+jws';

export interface PublicCheckpointKey {
  readonly kid: string;
  readonly key: KeyObject;
  /** kty, crv, x, kid, alg, use: as served at GET /v1/audit/keys. */
  readonly jwk: Readonly<Record<string, string>>;
}

export interface CheckpointSigner {
  readonly kid: string;
  /** The compact JWS of the checkpoint. */
  sign(checkpoint: { readonly seq: number; readonly hash: string; readonly at: number }): string;
  /** Every key a checkpoint of this broker may be signed with: the active one first. */
  readonly publicKeys: readonly PublicCheckpointKey[];
}

const b64url = (data: string | Buffer): string => Buffer.from(data).toString('base64url');

const keyError = (setting: string, file: string, problem: string): BrokerError =>
  new BrokerError('ERR_CONFIG', 500, `${setting}: ${file} ${problem}`);

interface OkpJwk {
  readonly kty: 'OKP';
  readonly crv: 'Ed25519';
  readonly x: string;
  readonly d?: string;
}

function parseOkp(text: string, setting: string, file: string, needPrivate: boolean): OkpJwk {
  let jwk: unknown;
  try {
    jwk = JSON.parse(text);
  } catch {
    throw keyError(setting, file, 'is not JSON; expected one Ed25519 JWK');
  }
  const j = jwk as Record<string, unknown>;
  if (typeof j !== 'object' || j === null || j.kty !== 'OKP' || j.crv !== 'Ed25519' || typeof j.x !== 'string') {
    throw keyError(setting, file, 'is not an Ed25519 JWK (kty "OKP", crv "Ed25519", x)');
  }
  if (needPrivate && typeof j.d !== 'string')
    throw keyError(setting, file, 'holds a public key only (no "d"); signing needs the private key');
  return { kty: 'OKP', crv: 'Ed25519', x: j.x, ...(typeof j.d === 'string' ? { d: j.d } : {}) };
}

async function publicKeyOf(jwk: OkpJwk, setting: string, file: string): Promise<PublicCheckpointKey> {
  let key: KeyObject;
  try {
    key = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: jwk.x }, format: 'jwk' });
  } catch {
    throw keyError(setting, file, 'is not a valid Ed25519 public key');
  }
  const kid = await calculateJwkThumbprint({ kty: 'OKP', crv: 'Ed25519', x: jwk.x });
  return { kid, key, jwk: { kty: 'OKP', crv: 'Ed25519', x: jwk.x, kid, alg: 'EdDSA', use: 'sig' } };
}

/** A new Ed25519 private JWK, as text. */
export function generateCheckpointJwk(): string {
  const { privateKey } = generateKeyPairSync('ed25519');
  const { x, d } = privateKey.export({ format: 'jwk' });
  return `${JSON.stringify({ kty: 'OKP', crv: 'Ed25519', x, d })}\n`;
}

export interface LoadCheckpointKeyOptions {
  readonly keyFile: string;
  readonly previousPublicKeyFiles: readonly string[];
  /** Development mode: create the key file when it is missing. */
  readonly generateIfMissing: boolean;
  readonly strictPermissions: boolean;
  readonly logger: Logger;
}

/** An Ed25519 key from a JWK file, and the compact JWS it signs (audit checkpoints, revocation SETs). */
export interface Ed25519Signer {
  readonly kid: string;
  /** The active key first, then the retired ones (public only). */
  readonly publicKeys: readonly PublicCheckpointKey[];
  /** The compact JWS of `payload` (JSON), with `typ` in the protected header. */
  signJws(payload: unknown, typ: string): string;
}

export interface LoadEd25519Options extends LoadCheckpointKeyOptions {
  /** The config setting the key file comes from, for errors: `audit.chain.keyFile`. */
  readonly setting: string;
  readonly previousSetting: string;
  /** What the key is for, in the log line when one is generated. */
  readonly purpose: string;
}

export async function loadEd25519Signer(options: LoadEd25519Options): Promise<Ed25519Signer> {
  const { setting } = options;
  const file = options.keyFile;
  if (options.generateIfMissing && (await publishExclusive(file, generateCheckpointJwk(), 0o600))) {
    options.logger.info({ file }, `generated development ${options.purpose} key`);
  }
  const jwk = parseOkp(await readSecretText(file, { setting, strictPermissions: options.strictPermissions }), setting, file, true);
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey({ key: { ...jwk }, format: 'jwk' });
  } catch {
    throw keyError(setting, file, 'is not a valid Ed25519 private key');
  }
  // The public half must be the one "x" names, or what it signs would verify with no published key.
  if (createPublicKey(privateKey).export({ format: 'jwk' }).x !== jwk.x)
    throw keyError(setting, file, 'has an "x" that does not match its "d"');
  const active = await publicKeyOf(jwk, setting, file);
  const previous: PublicCheckpointKey[] = [];
  for (const path of options.previousPublicKeyFiles) {
    const text = await readSecretText(path, { setting: options.previousSetting, strictPermissions: false });
    previous.push(await publicKeyOf(parseOkp(text, options.previousSetting, path, false), options.previousSetting, path));
  }
  return {
    kid: active.kid,
    publicKeys: [active, ...previous.filter((k) => k.kid !== active.kid)],
    signJws(payload, typ) {
      const input = `${b64url(JSON.stringify({ alg: 'EdDSA', kid: active.kid, typ }))}.${b64url(JSON.stringify(payload))}`;
      return `${input}.${sign(null, Buffer.from(input), privateKey).toString('base64url')}`;
    },
  };
}

export async function loadCheckpointSigner(options: LoadCheckpointKeyOptions): Promise<CheckpointSigner> {
  const signer = await loadEd25519Signer({
    ...options,
    setting: 'audit.chain.keyFile',
    previousSetting: 'audit.chain.previousPublicKeyFiles',
    purpose: 'audit checkpoint',
  });
  return {
    kid: signer.kid,
    publicKeys: signer.publicKeys,
    sign: ({ seq, hash, at }) => signer.signJws({ seq, hash, at }, CHECKPOINT_TYP),
  };
}

/** Public keys from a JWKS document (`{"keys": [...]}`) or a single JWK, for offline verification. */
export async function publicKeysFromJson(text: string, source: string): Promise<PublicCheckpointKey[]> {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw new Error(`${source} is not JSON`);
  }
  const list =
    typeof doc === 'object' && doc !== null && Array.isArray((doc as { keys?: unknown }).keys) ? (doc as { keys: unknown[] }).keys : [doc];
  return Promise.all(list.map((k) => publicKeyOf(parseOkp(JSON.stringify(k), 'keys', source, false), 'keys', source)));
}

const B64URL = /^[A-Za-z0-9_-]*$/u;

/** Reads and checks one checkpoint JWS against `keys`; a bad one comes back with `invalid` set. */
export function readCheckpoint(jws: string, keys: readonly PublicCheckpointKey[], seqHint = 0): CheckpointClaim {
  const bad = (invalid: string): CheckpointClaim => ({ seq: seqHint, hash: '', at: 0, kid: '', invalid });
  const parts = jws.split('.');
  if (parts.length !== 3 || !parts.every((p) => B64URL.test(p))) return bad('not a compact JWS');
  const [h, p, s] = parts as [string, string, string];
  let header: Record<string, unknown>;
  let payload: Record<string, unknown>;
  try {
    header = JSON.parse(Buffer.from(h, 'base64url').toString('utf8')) as Record<string, unknown>;
    payload = JSON.parse(Buffer.from(p, 'base64url').toString('utf8')) as Record<string, unknown>;
  } catch {
    return bad('its header or payload is not JSON');
  }
  const seq = Number.isSafeInteger(payload.seq) ? (payload.seq as number) : seqHint;
  if (header.alg !== 'EdDSA') return { ...bad('its alg is not EdDSA'), seq };
  const key = keys.find((k) => k.kid === header.kid);
  if (!key) return { ...bad(`it is signed with kid ${JSON.stringify(String(header.kid))}, which no given key has`), seq };
  if (!verify(null, Buffer.from(`${h}.${p}`), key.key, Buffer.from(s, 'base64url')))
    return { ...bad('its signature does not verify'), seq };
  if (
    !Number.isSafeInteger(payload.seq) ||
    typeof payload.hash !== 'string' ||
    !/^[0-9a-f]{64}$/u.test(payload.hash) ||
    typeof payload.at !== 'number'
  ) {
    return { ...bad('its payload is not {seq, hash, at}'), seq };
  }
  return { seq, hash: payload.hash, at: payload.at, kid: key.kid };
}
