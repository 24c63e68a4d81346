/**
 * Reads a key document — an OIDC JWK Set (RFC 7517 §5) or a SPIFFE bundle
 * (SPIFFE_Trust_Domain_and_Bundle.md §4) — into verification keys by `kid`.
 *
 * - Any private or symmetric key refuses the whole document: a set that carries one is a leaked
 *   secret, and an `oct` key would let anyone holding the "public" set mint tokens (RFC 8725 §3.1).
 * - SPIFFE bundles: only keys with `use == "jwt-svid"` verify JWT-SVIDs (§4.2.2; `x509-svid`
 *   keys are CA certificates for another SVID type). OIDC sets: `use` absent or `sig`.
 * - Unknown key types, uses and curves are ignored (§4.1.3, §4.2.1 MUST ignore), as are keys
 *   without a `kid` (tokens must name theirs) and RSA keys under 2048 bits (RFC 7518 §3.3).
 * - `keys: []` is a valid document that trusts nothing.
 * - Two usable keys with one `kid` refuse the document: which one a token means is ambiguous.
 */
import { createHash, createPublicKey, type KeyObject } from 'node:crypto';
import { cleanForLog } from '../logging.js';

export type KeyDocumentFormat = 'jwks' | 'spiffe-bundle';

export interface VerificationKey {
  readonly kid: string;
  readonly kty: 'RSA' | 'EC' | 'OKP';
  readonly crv?: string;
  /** The JWK's `alg`, when it names one. */
  readonly alg?: string;
  readonly key: KeyObject;
  /** SHA-256 over the key's public members: the same key across reloads keeps its entry. */
  readonly thumbprint: string;
}

export interface KeyDocument {
  readonly keys: ReadonlyMap<string, VerificationKey>;
  /** SPIFFE `spiffe_refresh_hint`, seconds (§4.1.2). */
  readonly refreshHintSeconds?: number;
  /** SPIFFE `spiffe_sequence` (§4.1.1), for logs. */
  readonly sequence?: number;
  /** Keys skipped as unknown, unusable or of another use, for logs. */
  readonly ignored: number;
}

export class KeyDocumentError extends Error {
  override readonly name = 'KeyDocumentError';
}

/** JWK members that only private or symmetric keys carry (RFC 7518 §6.2.2, §6.3.2, §6.4; AKP `priv`). */
const SECRET_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k', 'priv'] as const;
/** Public members per key type: only these reach the importer. */
const PUBLIC_MEMBERS = { RSA: ['n', 'e'], EC: ['crv', 'x', 'y'], OKP: ['crv', 'x'] } as const;
const CURVES: Readonly<Record<string, readonly string[]>> = { EC: ['P-256', 'P-384', 'P-521'], OKP: ['Ed25519', 'Ed448'] };
const MIN_RSA_BITS = 2048;

export function parseKeyDocument(text: string, format: KeyDocumentFormat, where: string): KeyDocument {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new KeyDocumentError(`${where}: not valid JSON`);
  }
  if (!isPlainObject(value) || !Array.isArray(value.keys)) {
    throw new KeyDocumentError(
      `${where}: not a ${format === 'jwks' ? 'JSON Web Key Set' : 'SPIFFE bundle'} (an object with a "keys" array)`,
    );
  }
  const keys = new Map<string, VerificationKey>();
  let ignored = 0;
  value.keys.forEach((jwk: unknown, i: number) => {
    if (!isPlainObject(jwk) || typeof jwk.kty !== 'string') throw new KeyDocumentError(`${where}: keys[${i}] is not a JWK`);
    if (jwk.kty === 'oct') throw new KeyDocumentError(`${where}: keys[${i}] is a symmetric (kty "oct") key; only public keys are accepted`);
    const secret = SECRET_MEMBERS.find((m) => Object.hasOwn(jwk, m));
    if (secret !== undefined)
      throw new KeyDocumentError(`${where}: keys[${i}] is a private key (member "${secret}"); publish only public keys`);
    const key = usableKey(jwk, format, `${where}: keys[${i}]`);
    if (!key) {
      ignored += 1;
      return;
    }
    if (keys.has(key.kid)) throw new KeyDocumentError(`${where}: kid "${cleanForLog(key.kid, 64)}" names two keys`);
    keys.set(key.kid, key);
  });
  return { keys, ignored, ...bundleHints(value, format) };
}

function usableKey(jwk: Record<string, unknown>, format: KeyDocumentFormat, where: string): VerificationKey | null {
  const { kty, kid, use, alg } = jwk;
  const wantedUse = format === 'spiffe-bundle' ? use === 'jwt-svid' : use === undefined || use === 'sig';
  if (!wantedUse || (kty !== 'RSA' && kty !== 'EC' && kty !== 'OKP')) return null;
  if (typeof kid !== 'string' || kid === '') return null;
  if (jwk.key_ops !== undefined && !(Array.isArray(jwk.key_ops) && jwk.key_ops.includes('verify'))) return null;
  if (alg !== undefined && typeof alg !== 'string') return null;
  const crv = typeof jwk.crv === 'string' ? jwk.crv : undefined;
  if (kty !== 'RSA' && !CURVES[kty]?.includes(crv ?? '')) return null;
  const members: Record<string, unknown> = { kty };
  for (const m of PUBLIC_MEMBERS[kty]) {
    if (typeof jwk[m] !== 'string') throw new KeyDocumentError(`${where}: ${kty} key without a string "${m}"`);
    members[m] = jwk[m];
  }
  let key: KeyObject;
  try {
    key = createPublicKey({ key: members as never, format: 'jwk' });
  } catch {
    throw new KeyDocumentError(`${where}: ${kty} key "${cleanForLog(kid, 64)}" cannot be imported`);
  }
  if (kty === 'RSA' && (key.asymmetricKeyDetails?.modulusLength ?? 0) < MIN_RSA_BITS) return null;
  const thumbprint = createHash('sha256')
    .update(JSON.stringify(members))
    .update(`\u0000${alg ?? ''}`)
    .digest('base64url');
  return { kid, kty, key, thumbprint, ...(crv === undefined ? {} : { crv }), ...(alg === undefined ? {} : { alg }) };
}

function bundleHints(doc: Record<string, unknown>, format: KeyDocumentFormat): { refreshHintSeconds?: number; sequence?: number } {
  if (format !== 'spiffe-bundle') return {};
  const hint = doc.spiffe_refresh_hint;
  const sequence = doc.spiffe_sequence;
  // §4.1.2: an integer number of seconds; anything else is ignored (the configured interval applies).
  return {
    ...(Number.isSafeInteger(hint) && (hint as number) > 0 ? { refreshHintSeconds: hint as number } : {}),
    ...(Number.isSafeInteger(sequence) && (sequence as number) >= 0 ? { sequence: sequence as number } : {}),
  };
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
