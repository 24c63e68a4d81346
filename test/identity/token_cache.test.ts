/**
 * The verified-token cache's own rules (token_cache.ts); its use by the verifier is in
 * verifier.test.ts. A stand-in key set answers `peek` so presence can be switched off.
 */
import { describe, expect, it } from 'vitest';
import type { VerificationKey } from '../../src/identity/jwk_document.js';
import type { KeySet } from '../../src/identity/key_set.js';
import { createTokenCache } from '../../src/identity/token_cache.js';

const key = { kid: 'k' } as VerificationKey;
function keySet(present = true): KeySet & { present: boolean } {
  const set = {
    present,
    label: 'test',
    loaded: Promise.resolve(),
    peek: (kid: string) => (set.present && kid === 'k' ? key : undefined),
    keyFor: async () => key,
  };
  return set;
}
const entry = (ks: KeySet, result: string, expiresAt = 1000) => ({ kind: 'agent' as const, expiresAt, keySet: ks, key, result });

describe('verified-token cache', () => {
  it('hits only for the same signature, kind, before expiry, while the key is present', () => {
    const cache = createTokenCache<string>(10);
    const ks = keySet();
    cache.set('h.p', 'sig', entry(ks, 'identity'));
    expect(cache.get('h.p', 'sig', 'agent', 999)).toBe('identity');
    expect(cache.get('h.p', 'other-sig', 'agent', 999)).toBeUndefined();
    expect(cache.get('h.p', 'sig', 'operator', 999)).toBeUndefined();
    expect(cache.get('h.p2', 'sig', 'agent', 999)).toBeUndefined();
    ks.present = false;
    expect(cache.get('h.p', 'sig', 'agent', 999)).toBeUndefined();
    ks.present = true;
    expect(cache.get('h.p', 'sig', 'agent', 999)).toBeUndefined();
    cache.set('h.p', 'sig', entry(ks, 'identity'));
    expect(cache.get('h.p', 'sig', 'agent', 1000)).toBeUndefined();
    expect(cache.size).toBe(0);
  });

  it('evicts the least recently used entry beyond maxEntries', () => {
    const cache = createTokenCache<string>(2);
    const ks = keySet();
    cache.set('a', 'sig', entry(ks, 'A'));
    cache.set('b', 'sig', entry(ks, 'B'));
    expect(cache.get('a', 'sig', 'agent', 0)).toBe('A');
    cache.set('c', 'sig', entry(ks, 'C'));
    expect(cache.size).toBe(2);
    expect(cache.get('b', 'sig', 'agent', 0)).toBeUndefined();
    expect(cache.get('a', 'sig', 'agent', 0)).toBe('A');
    expect(cache.get('c', 'sig', 'agent', 0)).toBe('C');
  });

  it('counts setting an entry again as a use, with the new signature and result', () => {
    const cache = createTokenCache<string>(2);
    const ks = keySet();
    cache.set('a', 'sig', entry(ks, 'A'));
    cache.set('b', 'sig', entry(ks, 'B'));
    cache.set('a', 'sig2', entry(ks, 'A2'));
    expect(cache.size).toBe(2);
    cache.set('c', 'sig', entry(ks, 'C'));
    expect(cache.get('b', 'sig', 'agent', 0)).toBeUndefined();
    expect(cache.get('a', 'sig', 'agent', 0)).toBeUndefined();
    expect(cache.get('a', 'sig2', 'agent', 0)).toBe('A2');
    expect(cache.size).toBe(2);
  });

  it('keeps an entry that missed on signature or kind, and drops one that expired or lost its key', () => {
    const cache = createTokenCache<string>(10);
    const ks = keySet();
    cache.set('a', 'sig', entry(ks, 'A'));
    expect(cache.get('a', 'forged', 'agent', 0)).toBeUndefined();
    expect(cache.get('a', 'sig', 'operator', 0)).toBeUndefined();
    expect(cache.size).toBe(1);
    expect(cache.get('a', 'sig', 'agent', 999)).toBe('A');
    expect(cache.get('a', 'sig', 'agent', 1000)).toBeUndefined();
    expect(cache.size).toBe(0);
  });

  it('holds nothing with maxEntries 0', () => {
    const cache = createTokenCache<string>(0);
    cache.set('a', 'sig', entry(keySet(), 'A'));
    expect(cache.get('a', 'sig', 'agent', 0)).toBeUndefined();
    expect(cache.size).toBe(0);
  });
});
