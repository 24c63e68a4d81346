/**
 * Verified-token cache, one per Identity instance (no module state; CONTRIBUTING.md #7). A hit skips
 * JSON parsing and the signature check, which is most of a verification's cost (docs/performance.md S3).
 *
 * - Keyed on the hex SHA-256 of `header.payload` (token_ids.ts), never on the raw token
 *   (docs/security.md §1 "Replay").
 *   Because ECDSA signatures and base64url are malleable, the entry also holds a hash of the
 *   signature it verified: a hit needs the same signature; another signature over the same
 *   `header.payload` (forged, or a valid high-S twin) takes the full path.
 * - Valid until the token's `exp` (never into the clock leeway; the full path handles that),
 *   and only while the key that verified it is still the same entry in its key set: a key that
 *   left the set, or changed under its `kid`, invalidates every entry it verified.
 * - Bounded: least recently used entries are evicted first (a Map keeps insertion order).
 */
import { hash } from 'node:crypto';
import type { VerificationKey } from './jwk_document.js';
import type { KeySet } from './key_set.js';

/** Which endpoint kind a token verified for: a hit for one kind never answers another. */
export type TokenKind = 'agent' | 'operator' | 'introspector';

export interface CachedVerification<T> {
  readonly kind: TokenKind;
  /** ms since the epoch: the token's `exp`. */
  readonly expiresAt: number;
  readonly keySet: KeySet;
  readonly key: VerificationKey;
  readonly result: T;
}

export interface TokenCache<T> {
  /** The cached result, if this exact token verified for this kind and is still valid. */
  get(digest: string, signature: string, kind: TokenKind, now: number): T | undefined;
  /** Remembers `result` for this `header.payload` digest and the signature part that verified. */
  set(digest: string, signature: string, entry: CachedVerification<T>): void;
  readonly size: number;
}

/** What an entry remembers of the signature: its hash, so the cache keeps no token material. */
const signatureHashOf = (signature: string): string => hash('sha256', signature, 'base64');

interface Entry<T> extends CachedVerification<T> {
  /** SHA-256 (base64) of the signature part that verified. */
  readonly signatureHash: string;
}

export function createTokenCache<T>(maxEntries: number): TokenCache<T> {
  const entries = new Map<string, Entry<T>>();
  return {
    get size() {
      return entries.size;
    },
    get(id, signature, kind, now) {
      const entry = entries.get(id);
      if (!entry) return undefined;
      if (now >= entry.expiresAt || entry.keySet.peek(entry.key.kid) !== entry.key) {
        entries.delete(id);
        return undefined;
      }
      // Compared as hashes, so the comparison time says nothing about the cached signature.
      if (entry.kind !== kind || signatureHashOf(signature) !== entry.signatureHash) return undefined;
      entries.delete(id);
      entries.set(id, entry);
      return entry.result;
    },
    set(id, signature, entry) {
      if (maxEntries === 0) return;
      entries.delete(id);
      entries.set(id, { ...entry, signatureHash: signatureHashOf(signature) });
      while (entries.size > maxEntries) {
        const oldest = entries.keys().next();
        if (oldest.done) break;
        entries.delete(oldest.value);
      }
    },
  };
}
