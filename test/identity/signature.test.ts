/**
 * Signature checks (src/identity/signature.ts) on their own: which algorithm a key may verify at
 * all (kty, curve, the key's own `alg`), and verification with node:crypto, including the fixed
 * R || S size of ECDSA signatures. The verifier's use of them is in attacks.test.ts.
 */
import { generateKeyPairSync, sign } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { VerificationKey } from '../../src/identity/jwk_document.js';
import { isSupportedAlgorithm, keyMismatch, verifySignature } from '../../src/identity/signature.js';
import { createSigner, signBytes, type Signer } from './token_factory.js';

const es256 = createSigner('ES256', 'es256');
const es384 = createSigner('ES384', 'es384');
const rsa = createSigner('RS256', 'rsa');
const ed25519 = createSigner('EdDSA', 'ed');

const verificationKey = (s: Signer, extra: Partial<VerificationKey> = {}): VerificationKey => {
  const jwk = s.jwk as { kty: 'RSA' | 'EC' | 'OKP'; crv?: string };
  return { kid: s.kid, kty: jwk.kty, key: s.publicKey, thumbprint: s.kid, ...(jwk.crv === undefined ? {} : { crv: jwk.crv }), ...extra };
};

describe('keyMismatch', () => {
  it('accepts each algorithm with a key of its type and curve', () => {
    expect(keyMismatch('ES256', verificationKey(es256))).toBeNull();
    expect(keyMismatch('ES384', verificationKey(es384))).toBeNull();
    for (const alg of ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512']) expect(keyMismatch(alg, verificationKey(rsa))).toBeNull();
    expect(keyMismatch('EdDSA', verificationKey(ed25519))).toBeNull();
    expect(keyMismatch('EdDSA', { ...verificationKey(ed25519), crv: 'Ed448' })).toBeNull();
  });

  it('names an algorithm it does not support, including Object.prototype names', () => {
    for (const alg of ['HS256', 'none', 'toString', '__proto__', 'constructor'])
      expect(keyMismatch(alg, verificationKey(es256))).toBe(`alg ${alg} is not a supported signature algorithm`);
  });

  it('names a key of another type', () => {
    expect(keyMismatch('ES256', verificationKey(rsa))).toBe('alg ES256 needs kty EC; key rsa is kty RSA');
    expect(keyMismatch('RS256', verificationKey(es256))).toBe('alg RS256 needs kty RSA; key es256 is kty EC');
    expect(keyMismatch('EdDSA', verificationKey(es256))).toBe('alg EdDSA needs kty OKP; key es256 is kty EC');
  });

  it('names a key on another curve, or on none', () => {
    expect(keyMismatch('ES256', verificationKey(es384))).toBe('alg ES256 needs curve P-256; key es384 is P-384');
    expect(keyMismatch('ES512', verificationKey(es256))).toBe('alg ES512 needs curve P-521; key es256 is P-256');
    const noCurve: VerificationKey = { kid: 'es256', kty: 'EC', key: es256.publicKey, thumbprint: 'es256' };
    expect(keyMismatch('ES256', noCurve)).toBe('alg ES256 needs curve P-256; key es256 is none');
    expect(keyMismatch('EdDSA', { ...verificationKey(ed25519), crv: 'X25519' })).toBe(
      'alg EdDSA needs curve Ed25519 or Ed448; key ed is X25519',
    );
  });

  it('holds a key that names its algorithm to that algorithm only (RFC 7517 §4.4)', () => {
    expect(keyMismatch('RS256', verificationKey(rsa, { alg: 'RS256' }))).toBeNull();
    expect(keyMismatch('PS256', verificationKey(rsa, { alg: 'RS256' }))).toBe('key rsa is for alg RS256, not PS256');
  });
});

describe('verifySignature', () => {
  const input = 'eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0';

  it('verifies a good signature and refuses one over other input', () => {
    for (const [alg, s] of [
      ['ES256', es256],
      ['ES384', es384],
      ['RS256', rsa],
      ['EdDSA', ed25519],
    ] as const) {
      const signature = signBytes(s, input);
      expect(verifySignature(alg, s.publicKey, input, signature)).toBe(true);
      expect(verifySignature(alg, s.publicKey, `${input}x`, signature)).toBe(false);
    }
  });

  it('verifies PSS with the salt as long as the hash, and nothing else', () => {
    const ps = { ...rsa, alg: 'PS256' as const };
    expect(verifySignature('PS256', rsa.publicKey, input, signBytes(ps, input))).toBe(true);
    expect(verifySignature('RS256', rsa.publicKey, input, signBytes(ps, input))).toBe(false);
    expect(verifySignature('PS256', rsa.publicKey, input, signBytes(rsa, input))).toBe(false);
  });

  it('refuses an ECDSA signature that is not exactly R || S, even one that verifies as DER', () => {
    const data = Buffer.from(input, 'latin1');
    const der = sign('sha256', data, { key: es256.privateKey, dsaEncoding: 'der' });
    expect(verifySignature('ES256', es256.publicKey, input, der)).toBe(false);
    const good = signBytes(es256, input);
    expect(good).toHaveLength(64);
    expect(verifySignature('ES256', es256.publicKey, input, Buffer.concat([good, Buffer.alloc(1)]))).toBe(false);
    expect(verifySignature('ES256', es256.publicKey, input, good.subarray(0, 63))).toBe(false);
  });

  it('reads the input as latin1 bytes, as the compact serialization is ASCII', () => {
    const text = 'h.p\u00e9';
    const latin1 = sign('sha256', Buffer.from(text, 'latin1'), { key: es256.privateKey, dsaEncoding: 'ieee-p1363' });
    expect(verifySignature('ES256', es256.publicKey, text, latin1)).toBe(true);
  });

  it('refuses an algorithm it does not know', () => {
    const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    expect(verifySignature('HS256', publicKey, input, Buffer.alloc(32))).toBe(false);
    expect(verifySignature('toString', publicKey, input, Buffer.alloc(64))).toBe(false);
  });
});

describe('isSupportedAlgorithm', () => {
  it('knows the RFC 7518 asymmetric algorithms and EdDSA, nothing symmetric, nothing inherited', () => {
    for (const alg of ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'])
      expect(isSupportedAlgorithm(alg)).toBe(true);
    for (const alg of ['HS256', 'none', 'es256', 'toString', '__proto__', 'hasOwnProperty']) expect(isSupportedAlgorithm(alg)).toBe(false);
  });
});
