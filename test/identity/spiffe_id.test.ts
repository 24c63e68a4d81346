import { describe, expect, it } from 'vitest';
import { isTrustDomainName, parseSpiffeId } from '../../src/identity/spiffe_id.js';

describe('parseSpiffeId', () => {
  it.each([
    ['spiffe://dev.local/agent/triage', 'dev.local', '/agent/triage'],
    ['spiffe://example.org', 'example.org', ''],
    ['spiffe://a-b_c.9/A.b-C_9/x', 'a-b_c.9', '/A.b-C_9/x'],
    ['spiffe://td/...', 'td', '/...'],
    ['spiffe://td/.hidden/..x', 'td', '/.hidden/..x'],
  ])('accepts %s', (id, trustDomain, path) => {
    expect(parseSpiffeId(id)).toEqual({ trustDomain, path });
  });

  // Each rejection changes one thing of the valid `spiffe://dev.local/agent/triage`.
  it.each([
    ['upper-case scheme', 'SPIFFE://dev.local/agent/triage'],
    ['other scheme', 'https://dev.local/agent/triage'],
    ['missing //', 'spiffe:dev.local/agent/triage'],
    ['empty trust domain', 'spiffe:///agent/triage'],
    ['upper-case trust domain', 'spiffe://Dev.local/agent/triage'],
    ['port', 'spiffe://dev.local:8443/agent/triage'],
    ['userinfo', 'spiffe://user@dev.local/agent/triage'],
    ['query', 'spiffe://dev.local/agent/triage?x=1'],
    ['fragment', 'spiffe://dev.local/agent/triage#frag'],
    ['percent-encoding', 'spiffe://dev.local/agent/tri%61ge'],
    ['percent-encoded slash', 'spiffe://dev.local/agent%2Ftriage'],
    ['empty segment', 'spiffe://dev.local/agent//triage'],
    ['trailing slash', 'spiffe://dev.local/agent/triage/'],
    ['bare trailing slash', 'spiffe://dev.local/'],
    ['dot segment', 'spiffe://dev.local/agent/./triage'],
    ['dot-dot segment', 'spiffe://dev.local/agent/../admin'],
    ['Cyrillic homoglyph in path', 'spiffe://dev.local/agent/tri\u0430ge'],
    ['Cyrillic homoglyph in trust domain', 'spiffe://d\u0435v.local/agent/triage'],
    ['space', 'spiffe://dev.local/agent/tri age'],
    ['backslash', 'spiffe://dev.local/agent\\triage'],
    ['NUL', 'spiffe://dev.local/agent/triage\u0000'],
    ['leading whitespace', ' spiffe://dev.local/agent/triage'],
    ['empty string', ''],
  ])('rejects %s', (_name, id) => {
    expect(parseSpiffeId('spiffe://dev.local/agent/triage')).not.toBeNull();
    expect(parseSpiffeId(id)).toBeNull();
  });

  it('rejects non-strings', () => {
    for (const value of [undefined, null, 42, {}, ['spiffe://dev.local/a']]) expect(parseSpiffeId(value)).toBeNull();
  });

  it('accepts an id of exactly 2048 bytes and rejects one byte more', () => {
    const prefix = 'spiffe://td/';
    const atLimit = prefix + 'a'.repeat(2048 - prefix.length);
    expect(parseSpiffeId(atLimit)).not.toBeNull();
    expect(parseSpiffeId(`${atLimit}a`)).toBeNull();
  });

  it('accepts a 255-byte trust domain and rejects a 256-byte one', () => {
    expect(parseSpiffeId(`spiffe://${'a'.repeat(255)}/x`)).not.toBeNull();
    expect(parseSpiffeId(`spiffe://${'a'.repeat(256)}/x`)).toBeNull();
  });
});

describe('isTrustDomainName', () => {
  it('accepts lower-case names and rejects anything a URL parser would rewrite', () => {
    expect(isTrustDomainName('dev.local')).toBe(true);
    for (const bad of ['', 'Dev.local', 'dev.local:80', 'dev/local', 'd\u0435v.local']) expect(isTrustDomainName(bad)).toBe(false);
  });
});

/**
 * Every byte value 0x00–0xFF, as the code unit a JSON string can carry, in a trust domain and in
 * a path position (SPIFFE-ID.md §2.1–2.2). Only the spec's characters pass; `/` passes only by
 * ending the trust domain or a segment where that leaves a valid ID, and the parts say so.
 */
describe('parseSpiffeId, byte by byte', () => {
  const BYTES = Array.from({ length: 256 }, (_, b) => b);
  const hex = (b: number): string => `0x${b.toString(16).padStart(2, '0')}`;
  const TRUST_DOMAIN_CHARS = /^[a-z0-9._-]$/;
  const PATH_CHARS = /^[A-Za-z0-9._-]$/;

  it.each(BYTES.map((b) => [hex(b), b] as const))('byte %s inside the trust domain', (_hex, b) => {
    const c = String.fromCharCode(b);
    const parsed = parseSpiffeId(`spiffe://de${c}v/x`);
    if (TRUST_DOMAIN_CHARS.test(c)) expect(parsed).toEqual({ trustDomain: `de${c}v`, path: '/x' });
    else if (c === '/') expect(parsed).toEqual({ trustDomain: 'de', path: '/v/x' });
    else expect(parsed).toBeNull();
  });

  it.each(BYTES.map((b) => [hex(b), b] as const))('byte %s as a whole trust domain', (_hex, b) => {
    const c = String.fromCharCode(b);
    expect(parseSpiffeId(`spiffe://${c}/x`)).toEqual(TRUST_DOMAIN_CHARS.test(c) ? { trustDomain: c, path: '/x' } : null);
  });

  it.each(BYTES.map((b) => [hex(b), b] as const))('byte %s inside a path segment', (_hex, b) => {
    const c = String.fromCharCode(b);
    const parsed = parseSpiffeId(`spiffe://dev.local/ag${c}ent`);
    if (PATH_CHARS.test(c) || c === '/') expect(parsed).toEqual({ trustDomain: 'dev.local', path: `/ag${c}ent` });
    else expect(parsed).toBeNull();
  });

  it.each(BYTES.map((b) => [hex(b), b] as const))('byte %s as a whole path segment', (_hex, b) => {
    const c = String.fromCharCode(b);
    const parsed = parseSpiffeId(`spiffe://dev.local/${c}/x`);
    // '.' alone is a dot segment; '/' alone makes an empty segment.
    expect(parsed).toEqual(PATH_CHARS.test(c) && c !== '.' ? { trustDomain: 'dev.local', path: `/${c}/x` } : null);
  });

  it.each(BYTES.map((b) => [hex(b), b] as const))('byte %s right after the scheme', (_hex, b) => {
    const c = String.fromCharCode(b);
    expect(parseSpiffeId(`spiffe:${c}/dev.local/x`)).toEqual(c === '/' ? { trustDomain: 'dev.local', path: '/x' } : null);
  });

  it('treats the UTF-8 encoding of every byte above 0x7f as the non-ASCII character it is', () => {
    for (const b of BYTES.filter((v) => v >= 0x80)) {
      const decoded = Buffer.from(String.fromCharCode(b), 'utf8').toString('utf8');
      expect(parseSpiffeId(`spiffe://dev.local/a${decoded}`)).toBeNull();
      expect(parseSpiffeId(`spiffe://dev${decoded}.local/a`)).toBeNull();
    }
  });
});
