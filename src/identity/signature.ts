/**
 * JWS signature verification with node:crypto, synchronously (RFC 7518 §3). The algorithm comes
 * from the issuer's configured allowlist (checked before this), and must match the key's type
 * and curve: an RSA key never verifies ES256, a P-384 key never verifies ES256, and no symmetric
 * algorithm exists here at all, so HS256-with-the-public-key confusion has nothing to run on
 * (RFC 8725 §3.1).
 *
 * Why not jose's jwtVerify: jose 6 verifies through WebCrypto, asynchronously on the thread pool;
 * under load its p50 grew to 1.5–1.9 ms at 500 req/s against 0.15 ms for a synchronous verify
 * (docs/performance.md). The rules jose applied are applied here explicitly, and tests check tokens
 * from independent signers (PyJWT, hand-rolled node:crypto) and jose agree with this code.
 */
import { constants, verify, type KeyObject } from 'node:crypto';
import type { VerificationKey } from './jwk_document.js';

interface AlgorithmSpec {
  readonly hash: 'sha256' | 'sha384' | 'sha512' | null;
  readonly kty: 'RSA' | 'EC' | 'OKP';
  /** EC: the one curve; OKP: the allowed curves. */
  readonly curves?: readonly string[];
  readonly padding?: number;
  /** ECDSA signatures are R || S of fixed size (RFC 7518 §3.4), never DER. */
  readonly signatureBytes?: number;
}

const ALGORITHMS: Readonly<Record<string, AlgorithmSpec>> = {
  RS256: { hash: 'sha256', kty: 'RSA', padding: constants.RSA_PKCS1_PADDING },
  RS384: { hash: 'sha384', kty: 'RSA', padding: constants.RSA_PKCS1_PADDING },
  RS512: { hash: 'sha512', kty: 'RSA', padding: constants.RSA_PKCS1_PADDING },
  // RFC 7518 §3.5: the salt is as long as the hash output; other salt lengths are refused.
  PS256: { hash: 'sha256', kty: 'RSA', padding: constants.RSA_PKCS1_PSS_PADDING },
  PS384: { hash: 'sha384', kty: 'RSA', padding: constants.RSA_PKCS1_PSS_PADDING },
  PS512: { hash: 'sha512', kty: 'RSA', padding: constants.RSA_PKCS1_PSS_PADDING },
  ES256: { hash: 'sha256', kty: 'EC', curves: ['P-256'], signatureBytes: 64 },
  ES384: { hash: 'sha384', kty: 'EC', curves: ['P-384'], signatureBytes: 96 },
  ES512: { hash: 'sha512', kty: 'EC', curves: ['P-521'], signatureBytes: 132 },
  // RFC 8037 §3.1: EdDSA over Ed25519 or Ed448; the hash is part of the scheme.
  EdDSA: { hash: null, kty: 'OKP', curves: ['Ed25519', 'Ed448'] },
};

/** Whether `alg` may be verified with this key at all; the reason when not. */
export function keyMismatch(alg: string, key: VerificationKey): string | null {
  const spec = Object.hasOwn(ALGORITHMS, alg) ? ALGORITHMS[alg] : undefined;
  if (!spec) return `alg ${alg} is not a supported signature algorithm`;
  if (key.kty !== spec.kty) return `alg ${alg} needs kty ${spec.kty}; key ${key.kid} is kty ${key.kty}`;
  if (spec.curves && !spec.curves.includes(key.crv ?? ''))
    return `alg ${alg} needs curve ${spec.curves.join(' or ')}; key ${key.kid} is ${key.crv ?? 'none'}`;
  // RFC 7517 §4.4: a key that names its algorithm is for that algorithm only.
  if (key.alg !== undefined && key.alg !== alg) return `key ${key.kid} is for alg ${key.alg}, not ${alg}`;
  return null;
}

/** True when `signature` is a valid `alg` signature of `signingInput` by `key` (after keyMismatch). */
export function verifySignature(alg: string, key: KeyObject, signingInput: string, signature: Buffer): boolean {
  const spec = ALGORITHMS[alg];
  if (!spec) return false;
  if (spec.signatureBytes !== undefined && signature.length !== spec.signatureBytes) return false;
  const data = Buffer.from(signingInput, 'latin1');
  if (spec.kty === 'EC') return verify(spec.hash, data, { key, dsaEncoding: 'ieee-p1363' }, signature);
  if (spec.kty === 'RSA') {
    return verify(spec.hash, data, { key, padding: spec.padding, saltLength: constants.RSA_PSS_SALTLEN_DIGEST }, signature);
  }
  return verify(null, data, key, signature);
}

export function isSupportedAlgorithm(alg: string): boolean {
  return Object.hasOwn(ALGORITHMS, alg);
}
