/**
 * Key documents (jwk_document.ts) against RFC 7517 and SPIFFE_Trust_Domain_and_Bundle.md §4:
 * which keys a set yields, which it ignores, and which refuse the whole document.
 */
import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { KeyDocumentError, parseKeyDocument, type KeyDocumentFormat } from '../../src/identity/jwk_document.js';
import { createSigner } from './token_factory.js';

const es = createSigner('ES256', 'es');
const rsa = createSigner('RS256', 'rsa');
const ed = createSigner('EdDSA', 'ed');
const parse = (doc: unknown, format: KeyDocumentFormat = 'spiffe-bundle') => parseKeyDocument(JSON.stringify(doc), format, 'test');
const kids = (doc: unknown, format?: KeyDocumentFormat): string[] => [...parse(doc, format).keys.keys()];
const jwkOf = (key: ReturnType<typeof generateKeyPairSync>['publicKey'], kid: string) => ({
  ...(key.export({ format: 'jwk' }) as object),
  kid,
});

describe('SPIFFE bundles', () => {
  it('yields only use jwt-svid keys, with their type, curve and alg', () => {
    const doc = parse({
      keys: [
        { ...es.jwk, use: 'jwt-svid' },
        { ...rsa.jwk, use: 'jwt-svid', alg: 'RS256' },
        { ...ed.jwk, use: 'jwt-svid' },
        { ...es.jwk, kid: 'x', use: 'x509-svid' },
        { ...es.jwk, kid: 'y' },
      ],
    });
    expect([...doc.keys.values()].map((k) => [k.kid, k.kty, k.crv, k.alg])).toEqual([
      ['es', 'EC', 'P-256', undefined],
      ['rsa', 'RSA', undefined, 'RS256'],
      ['ed', 'OKP', 'Ed25519', undefined],
    ]);
    expect(doc.ignored).toBe(2);
  });

  it('trusts nothing when keys is empty', () => {
    expect(parse({ keys: [] }).keys.size).toBe(0);
  });

  it('reads spiffe_refresh_hint and spiffe_sequence when they are whole numbers, and ignores them otherwise', () => {
    expect(parse({ keys: [], spiffe_refresh_hint: 60, spiffe_sequence: 7 })).toMatchObject({ refreshHintSeconds: 60, sequence: 7 });
    for (const hint of [0, -5, 1.5, '60', null]) expect(parse({ keys: [], spiffe_refresh_hint: hint }).refreshHintSeconds).toBeUndefined();
  });

  it.each([
    ['an unknown key type', { kty: 'AKP', alg: 'ML-DSA-44', pub: 'AAAA', kid: 'pq', use: 'jwt-svid' }],
    ['an ECDH curve', jwkOf(generateKeyPairSync('x25519').publicKey, 'x25519')],
    ['a curve JWS does not use (secp256k1)', jwkOf(generateKeyPairSync('ec', { namedCurve: 'secp256k1' }).publicKey, 'k1')],
    ['a key without kid', { ...es.jwk, kid: undefined }],
    ['a key with an empty kid', { ...es.jwk, kid: '' }],
    ['key_ops without verify', { ...es.jwk, key_ops: ['encrypt'] }],
    ['an RSA key under 2048 bits', jwkOf(generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey, 'weak')],
  ])('ignores %s (SPIFFE §4.1.3 / §4.2.1: MUST ignore)', (_name, jwk) => {
    expect(
      kids({
        keys: [
          { ...es.jwk, kid: 'good', use: 'jwt-svid' },
          { use: 'jwt-svid', ...jwk },
        ],
      }),
    ).toEqual(['good']);
  });

  it.each([
    ['a private EC key', { ...(es.privateKey.export({ format: 'jwk' }) as object), kid: 'p' }, /private key \(member "d"\)/],
    ['a private RSA key', { ...(rsa.privateKey.export({ format: 'jwk' }) as object), kid: 'p' }, /private key/],
    ['a symmetric key', { kty: 'oct', k: 'c2VjcmV0', kid: 'h' }, /symmetric/],
    ['a symmetric key without k', { kty: 'oct', kid: 'h' }, /symmetric/],
    ['a private key of another use', { ...(es.privateKey.export({ format: 'jwk' }) as object), kid: 'p', use: 'x509-svid' }, /private key/],
    ['an EC key without y', { kty: 'EC', crv: 'P-256', x: es.jwk.x, kid: 'broken' }, /without a string "y"/],
    ['an EC key off the curve', { ...es.jwk, x: Buffer.alloc(32, 1).toString('base64url') }, /cannot be imported/],
    ['a second key with the same kid', { ...rsa.jwk, kid: 'es' }, /names two keys/],
    ['a member that is not a JWK', 'es', /not a JWK/],
  ])('refuses the whole document for %s', (_name, jwk, message) => {
    const doc = { keys: [{ ...es.jwk, use: 'jwt-svid' }, typeof jwk === 'string' ? jwk : { use: 'jwt-svid', ...jwk }] };
    expect(() => parse(doc)).toThrow(KeyDocumentError);
    expect(() => parse(doc)).toThrow(message);
  });

  it.each([
    ['not JSON', '{"keys": ['],
    ['an array', '[]'],
    ['keys not an array', '{"keys": {}}'],
    ['no keys', '{}'],
  ])('refuses a document that is %s', (_name, text) => {
    expect(() => parseKeyDocument(text, 'spiffe-bundle', 'test')).toThrow(KeyDocumentError);
  });
});

describe('OIDC JWK Sets', () => {
  it('yields keys with use sig or no use, and ignores encryption keys and jwt-svid keys', () => {
    expect(
      kids({ keys: [{ ...es.jwk, use: 'sig' }, rsa.jwk, { ...ed.jwk, use: 'enc' }, { ...es.jwk, kid: 'svid', use: 'jwt-svid' }] }, 'jwks'),
    ).toEqual(['es', 'rsa']);
  });

  it('gives an unchanged key the same thumbprint across documents, and a changed one another', () => {
    const first = parse({ keys: [rsa.jwk] }, 'jwks').keys.get('rsa');
    expect(parse({ keys: [{ ...rsa.jwk, use: 'sig' }] }, 'jwks').keys.get('rsa')?.thumbprint).toBe(first?.thumbprint);
    expect(parse({ keys: [{ ...es.jwk, kid: 'rsa' }] }, 'jwks').keys.get('rsa')?.thumbprint).not.toBe(first?.thumbprint);
    expect(parse({ keys: [{ ...rsa.jwk, alg: 'PS256' }] }, 'jwks').keys.get('rsa')?.thumbprint).not.toBe(first?.thumbprint);
  });
});

describe('key members, one by one', () => {
  const good = { ...es.jwk, kid: 'good', use: 'jwt-svid' };

  it.each(['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k', 'priv'])(
    'refuses a public key that also carries the secret member %s',
    (member) => {
      expect(kids({ keys: [good, { ...es.jwk, use: 'jwt-svid' }] })).toEqual(['good', 'es']);
      expect(() => parse({ keys: [good, { ...es.jwk, use: 'jwt-svid', [member]: 'AAAA' }] })).toThrow(
        `test: keys[1] is a private key (member "${member}"); publish only public keys`,
      );
    },
  );

  it('keeps key_ops that include verify, and ignores key_ops that are not such an array', () => {
    expect(kids({ keys: [good, { ...es.jwk, use: 'jwt-svid', key_ops: ['sign', 'verify'] }] })).toEqual(['good', 'es']);
    expect(kids({ keys: [good, { ...es.jwk, use: 'jwt-svid', key_ops: 'verify' }] })).toEqual(['good']);
    expect(kids({ keys: [good, { ...es.jwk, use: 'jwt-svid', key_ops: [] }] })).toEqual(['good']);
  });

  it('ignores a key whose alg is not a string, or whose curve is missing', () => {
    expect(kids({ keys: [good, { ...es.jwk, use: 'jwt-svid', alg: 'ES256' }] })).toEqual(['good', 'es']);
    expect(kids({ keys: [good, { ...es.jwk, use: 'jwt-svid', alg: 256 }] })).toEqual(['good']);
    expect(kids({ keys: [good, { ...es.jwk, use: 'jwt-svid', crv: undefined }] })).toEqual(['good']);
    expect(kids({ keys: [good, { ...es.jwk, use: 'jwt-svid', kid: 7 }] })).toEqual(['good']);
  });

  it('keeps every JWS curve: P-256, P-384, P-521, Ed25519, Ed448', () => {
    const keys = [
      jwkOf(generateKeyPairSync('ec', { namedCurve: 'P-384' }).publicKey, 'p384'),
      jwkOf(generateKeyPairSync('ec', { namedCurve: 'P-521' }).publicKey, 'p521'),
      jwkOf(generateKeyPairSync('ed448').publicKey, 'ed448'),
    ].map((k) => ({ ...k, use: 'jwt-svid' }));
    expect(parse({ keys: [good, ...keys] }).keys.get('ed448')?.crv).toBe('Ed448');
    expect(kids({ keys: [good, ...keys] })).toEqual(['good', 'p384', 'p521', 'ed448']);
  });

  it('keeps an RSA key of exactly 2048 bits', () => {
    expect(parse({ keys: [{ ...rsa.jwk, use: 'jwt-svid' }] }).keys.get('rsa')?.key.asymmetricKeyDetails?.modulusLength).toBe(2048);
  });

  it('names the member an RSA key lacks, and the kid of a key that cannot be imported', () => {
    const noModulus = { ...rsa.jwk, n: undefined };
    expect(() => parse({ keys: [{ ...noModulus, use: 'jwt-svid' }] })).toThrow('test: keys[0]: RSA key without a string "n"');
    expect(() => parse({ keys: [good, { ...es.jwk, use: 'jwt-svid', y: 7 }] })).toThrow('test: keys[1]: EC key without a string "y"');
    expect(() => parse({ keys: [{ ...es.jwk, kid: 'off', use: 'jwt-svid', x: Buffer.alloc(32, 1).toString('base64url') }] })).toThrow(
      'test: keys[0]: EC key "off" cannot be imported',
    );
  });

  it('refuses members that are not JWKs: null, an array, a kty that is not a string', () => {
    for (const member of [null, [es.jwk], { ...es.jwk, kty: 2 }])
      expect(() => parse({ keys: [good, member] })).toThrow('test: keys[1] is not a JWK');
  });

  it('says which kind of document it expected, and names two keys under one kid', () => {
    expect(() => parseKeyDocument('{}', 'jwks', 'where')).toThrow('where: not a JSON Web Key Set (an object with a "keys" array)');
    expect(() => parseKeyDocument('null', 'spiffe-bundle', 'where')).toThrow('where: not a SPIFFE bundle (an object with a "keys" array)');
    expect(() => parseKeyDocument('{', 'jwks', 'where')).toThrow('where: not valid JSON');
    expect(() => parse({ keys: [good, { ...rsa.jwk, kid: 'good', use: 'jwt-svid' }] })).toThrow('test: kid "good" names two keys');
    expect(() => parse({ keys: [{ kty: 'oct', kid: 'h' }] })).toThrow(
      'test: keys[0] is a symmetric (kty "oct") key; only public keys are accepted',
    );
  });

  it('reads bundle hints at their bounds, and none from a JWK Set', () => {
    expect(parse({ keys: [], spiffe_refresh_hint: 1, spiffe_sequence: 0 })).toMatchObject({ refreshHintSeconds: 1, sequence: 0 });
    expect(parse({ keys: [], spiffe_sequence: -1 }).sequence).toBeUndefined();
    expect(parse({ keys: [], spiffe_sequence: 1.5 }).sequence).toBeUndefined();
    const jwks = parse({ keys: [], spiffe_refresh_hint: 60, spiffe_sequence: 7 }, 'jwks');
    expect(jwks).toEqual({ keys: new Map(), ignored: 0 });
  });
});
