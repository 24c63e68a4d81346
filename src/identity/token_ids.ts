/**
 * The two stable names of a verified token, neither of which is the token (SECURITY.md §1 "Replay", §4):
 *
 * - `fingerprint`, for logs and audit: HMAC-SHA256 of `header.payload` under a key from
 *   `identity.fingerprintKeyFile` (shared by replicas, so their audit records correlate) or, by
 *   default, a random per-process key. Keyed, so whoever reads the logs cannot confirm a guessed
 *   or stolen token against them (STYLE.md #15).
 * - `tokenId`, for the single-use replay cache shared by every replica: SHA-256 of the issuer's
 *   namespace and `jti` when the token has one, else of `header.payload`. Never of the signature:
 *   ECDSA signatures and base64url are malleable, so a re-encoded signature must not make a new token.
 */
import { createHash, createHmac, randomBytes } from 'node:crypto';

export interface TokenNamer {
  fingerprint(signingInput: string): string;
}

export function createTokenNamer(key: Buffer = randomBytes(32)): TokenNamer {
  return {
    fingerprint: (signingInput) => createHmac('sha256', key).update(signingInput).digest('hex').slice(0, 16),
  };
}

/** `namespace` is the issuer (OIDC) or `spiffe://<trust domain>`: jtis are unique per issuer only. */
export function tokenIdOf(namespace: string, jti: string | undefined, signingInput: string): string {
  const hash = createHash('sha256');
  if (jti !== undefined) hash.update('jti\u0000').update(namespace).update('\u0000').update(jti);
  else hash.update('jws\u0000').update(signingInput);
  return hash.digest('hex');
}
