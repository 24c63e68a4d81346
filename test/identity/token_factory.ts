/**
 * Hand-rolled token minting for the identity tests: node:crypto signs raw header and payload
 * text (never jose), so a case can carry what no JOSE library would produce — duplicate members,
 * `none`, HS256 over the public key, non-canonical base64url, r = s = 0 — and so the verifier is
 * checked against a signer that is not its own library.
 */
import { constants, createHmac, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';

export type SignAlg = 'RS256' | 'RS384' | 'RS512' | 'PS256' | 'PS384' | 'PS512' | 'ES256' | 'ES384' | 'ES512' | 'EdDSA';

export interface Signer {
  readonly alg: SignAlg;
  readonly kid: string;
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
  /** Public JWK with `kid` (no `use`, no `alg`): callers add what their document needs. */
  readonly jwk: Record<string, unknown>;
}

const HASH = { 256: 'sha256', 384: 'sha384', 512: 'sha512' } as const;
const hashOf = (alg: SignAlg): string => HASH[Number(alg.slice(2)) as 256 | 384 | 512];

function generate(alg: SignAlg): { privateKey: KeyObject; publicKey: KeyObject } {
  if (alg.startsWith('RS') || alg.startsWith('PS')) return generateKeyPairSync('rsa', { modulusLength: 2048 });
  if (alg === 'EdDSA') return generateKeyPairSync('ed25519');
  return generateKeyPairSync('ec', { namedCurve: { ES256: 'P-256', ES384: 'P-384', ES512: 'P-521' }[alg as 'ES256'] });
}

export function createSigner(alg: SignAlg, kid: string): Signer {
  const { privateKey, publicKey } = generate(alg);
  return { alg, kid, privateKey, publicKey, jwk: { ...(publicKey.export({ format: 'jwk' }) as Record<string, unknown>), kid } };
}

/** A signer for another algorithm over the same key pair (RS256 ↔ PS256). */
export const withAlg = (signer: Signer, alg: SignAlg): Signer => ({ ...signer, alg });

/** JWS signature (RFC 7518 §3) over `input`, as raw bytes. */
export function signBytes(signer: Signer, input: string): Buffer {
  const data = Buffer.from(input, 'latin1');
  const { alg, privateKey: key } = signer;
  if (alg === 'EdDSA') return sign(null, data, key);
  if (alg.startsWith('ES')) return sign(hashOf(alg), data, { key, dsaEncoding: 'ieee-p1363' });
  if (alg.startsWith('PS'))
    return sign(hashOf(alg), data, { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_DIGEST });
  return sign(hashOf(alg), data, key);
}

export interface TokenSpec {
  readonly header: Record<string, unknown> | string;
  readonly payload: Record<string, unknown> | string;
  readonly signer: Signer;
  /** Replaces the signature part (base64url). */
  readonly signature?: (signingInput: string) => string;
}

export const b64 = (text: string | Buffer): string => Buffer.from(text).toString('base64url');
const text = (v: Record<string, unknown> | string): string => (typeof v === 'string' ? v : JSON.stringify(v));

export function build(spec: TokenSpec): string {
  const input = `${b64(text(spec.header))}.${b64(text(spec.payload))}`;
  const signature = spec.signature ? spec.signature(input) : b64(signBytes(spec.signer, input));
  return `${input}.${signature}`;
}

export const withHeader = (spec: TokenSpec, header: Record<string, unknown>): TokenSpec => ({
  ...spec,
  header: { ...(spec.header as object), ...header },
});
export const withClaims = (spec: TokenSpec, claims: Record<string, unknown>): TokenSpec => ({
  ...spec,
  payload: { ...(spec.payload as object), ...claims },
});
export function without(spec: TokenSpec, part: 'header' | 'payload', name: string): TokenSpec {
  const copy = { ...(spec[part] as Record<string, unknown>) };
  delete copy[name];
  return { ...spec, [part]: copy };
}
/** Signed by `signer`, naming its kid. */
export const signedBy = (spec: TokenSpec, signer: Signer): TokenSpec => ({
  ...withHeader(spec, { kid: signer.kid, alg: signer.alg }),
  signer,
});

/** RFC 8725 §2.1 alg confusion: an HMAC keyed with some public representation of the key. */
export const hmacWith = (spec: TokenSpec, alg: 'HS256' | 'HS384' | 'HS512', secret: string | Buffer): TokenSpec => ({
  ...withHeader(spec, { alg }),
  signature: (input) =>
    createHmac(`sha${alg.slice(2)}`, secret)
      .update(input)
      .digest('base64url'),
});

// ── ECDSA signature surgery (P-256) ──────────────────────────────────────────────────────

const P256_ORDER = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n;
const toBig = (b: Buffer): bigint => BigInt(`0x${b.toString('hex') || '0'}`);
const fromBig = (n: bigint, size: number): Buffer => Buffer.from(n.toString(16).padStart(size * 2, '0'), 'hex');

/** The other valid ECDSA signature of the same message: (r, n − s). Malleable by design. */
export function highSTwin(token: string): string {
  const i = token.lastIndexOf('.');
  const sig = Buffer.from(token.slice(i + 1), 'base64url');
  const r = sig.subarray(0, 32);
  const s = toBig(sig.subarray(32));
  return `${token.slice(0, i + 1)}${b64(Buffer.concat([r, fromBig(P256_ORDER - s, 32)]))}`;
}

/** The same r and s, DER-encoded as X.509/OpenSSL would (not the JWS R || S form). */
export function derEncoded(token: string): string {
  const i = token.lastIndexOf('.');
  const sig = Buffer.from(token.slice(i + 1), 'base64url');
  const int = (b: Buffer): Buffer => {
    let v = b;
    while (v.length > 1 && v[0] === 0 && (v[1] ?? 0) < 0x80) v = v.subarray(1);
    if ((v[0] ?? 0) >= 0x80) v = Buffer.concat([Buffer.from([0]), v]);
    return Buffer.concat([Buffer.from([0x02, v.length]), v]);
  };
  const body = Buffer.concat([int(sig.subarray(0, 32)), int(sig.subarray(32))]);
  return `${token.slice(0, i + 1)}${b64(Buffer.concat([Buffer.from([0x30, body.length]), body]))}`;
}

export const replaceSignature = (token: string, signature: Buffer): string =>
  `${token.slice(0, token.lastIndexOf('.') + 1)}${b64(signature)}`;
export const P256_ORDER_BYTES = fromBig(P256_ORDER, 32);
