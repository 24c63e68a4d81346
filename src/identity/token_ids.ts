/**
 * The names of a token, none of which is the token (docs/security.md §1 "Replay", §4). All start from
 * `digest`, the hex SHA-256 of `header.payload`, computed once per verification (signingInputDigest):
 *
 * - the verified-token cache key is the digest itself;
 * - `fingerprint`, for logs and audit: HMAC-SHA256 of the digest under a key from
 *   `identity.fingerprintKeyFile` (shared by replicas, so their audit records correlate) or, by
 *   default, a random per-process key. Keyed, so whoever reads the logs cannot confirm a guessed
 *   or stolen token against them (CONTRIBUTING.md #15).
 * - `tokenId`, for the single-use replay cache shared by every replica: SHA-256 of the issuer's
 *   namespace and `jti` when the token has one, else the digest of `header.payload`. Never of the signature:
 *   ECDSA signatures and base64url are malleable, so a re-encoded signature must not make a new token.
 */
import { createHmac, hash, randomBytes } from 'node:crypto';

/** Hex SHA-256 of `header.payload`. */
export const signingInputDigest = (signingInput: string): string => hash('sha256', signingInput, 'hex');

export interface TokenNamer {
  fingerprint(digest: string): string;
}

export function createTokenNamer(key: Buffer = randomBytes(32)): TokenNamer {
  return {
    fingerprint: (digest) => createHmac('sha256', key).update(digest).digest('hex').slice(0, 16),
  };
}

/**
 * `namespace` is the issuer (OIDC) or `spiffe://<trust domain>`: jtis are unique per issuer only.
 * The two forms cannot collide: a `header.payload` never starts with `jti` and a NUL.
 */
export function tokenIdOf(namespace: string, jti: string | undefined, digest: string): string {
  return jti === undefined ? digest : hash('sha256', `jti\u0000${namespace}\u0000${jti}`, 'hex');
}
