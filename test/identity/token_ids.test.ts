/**
 * The names of a token (src/identity/token_ids.ts): the digest of header.payload, a keyed
 * fingerprint that replicas sharing a key agree on, and the replay-cache id, which is the same
 * for every encoding of one jti and never collides with a digest.
 */
import { createHash, createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createTokenNamer, signingInputDigest, tokenIdOf } from '../../src/identity/token_ids.js';

describe('token names', () => {
  it('digests header.payload as hex SHA-256', () => {
    expect(signingInputDigest('h.p')).toBe(createHash('sha256').update('h.p').digest('hex'));
    expect(signingInputDigest('h.p')).toMatch(/^[0-9a-f]{64}$/u);
  });

  it('fingerprints with a keyed HMAC, 16 hex characters, equal across namers with one key only', () => {
    const digest = signingInputDigest('h.p');
    const key = Buffer.from('shared-fingerprint-key');
    const fingerprint = createTokenNamer(key).fingerprint(digest);
    expect(fingerprint).toBe(createHmac('sha256', key).update(digest).digest('hex').slice(0, 16));
    expect(createTokenNamer(Buffer.from('shared-fingerprint-key')).fingerprint(digest)).toBe(fingerprint);
    expect(createTokenNamer(Buffer.from('another-key')).fingerprint(digest)).not.toBe(fingerprint);
    expect(createTokenNamer().fingerprint(digest)).toMatch(/^[0-9a-f]{16}$/u);
    expect(createTokenNamer().fingerprint(digest)).not.toBe(createTokenNamer().fingerprint(digest));
    expect(createTokenNamer(key).fingerprint(signingInputDigest('h.q'))).not.toBe(fingerprint);
  });

  it('names a token by issuer and jti when it has one, else by its digest', () => {
    const digest = signingInputDigest('h.p');
    expect(tokenIdOf('https://iss', undefined, digest)).toBe(digest);
    const id = tokenIdOf('https://iss', 'j-1', digest);
    expect(id).toBe(createHash('sha256').update('jti\u0000https://iss\u0000j-1').digest('hex'));
    expect(tokenIdOf('https://iss', 'j-1', signingInputDigest('other.encoding'))).toBe(id);
    expect(tokenIdOf('https://other', 'j-1', digest)).not.toBe(id);
    expect(tokenIdOf('https://iss', 'j-2', digest)).not.toBe(id);
  });
});
