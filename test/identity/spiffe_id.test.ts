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
