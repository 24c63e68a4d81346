/**
 * Strict SPIFFE ID parser (spiffe/spiffe SPIFFE-ID.md §2, as go-spiffe `spiffeid.FromString`
 * enforces it, and docs/security.md §1 "Claims"). A JWT-SVID's `sub` is the agent id that profiles
 * match on, so anything a URL parser would normalise, decode or tolerate is rejected instead:
 * upper-case scheme or trust domain, port, userinfo, query, fragment, percent-encoding, empty,
 * `.` or `..` segments, a trailing `/`, and non-ASCII look-alikes (jose accepted a Cyrillic
 * homoglyph as a plain string).
 */

export interface SpiffeId {
  /** Lower-case trust domain name, e.g. `prod.example.org`. */
  readonly trustDomain: string;
  /** `''` or `/seg/seg…`. */
  readonly path: string;
}

const SCHEME_PREFIX = 'spiffe://';
/** SPIFFE-ID.md §2.3: maximum length of a SPIFFE ID, in bytes. */
const MAX_ID_BYTES = 2048;
/** SPIFFE-ID.md §2.1: maximum length of a trust domain name. */
const MAX_TRUST_DOMAIN_BYTES = 255;
/** SPIFFE-ID.md §2.1: trust domain characters. */
const TRUST_DOMAIN = /^[a-z0-9._-]+$/;
/**
 * SPIFFE-ID.md §2.2: one or more `/segment`, each of the allowed characters and neither `.` nor
 * `..`. A trailing '/' or '//' leaves an empty segment, which does not match; '.' and '..' would
 * be normalised away by URL parsers and so name a different workload than the string says.
 */
const PATH = /^(?:\/(?!\.\.?(?:\/|$))[A-Za-z0-9._-]+)+$/;

/** Returns the parts of a valid SPIFFE ID, or null. Never throws. */
export function parseSpiffeId(value: unknown): SpiffeId | null {
  if (typeof value !== 'string') return null;
  // Every accepted character is ASCII, so string length equals byte length here; longer input
  // (in any encoding) is rejected before the per-character checks.
  if (value.length > MAX_ID_BYTES || !value.startsWith(SCHEME_PREFIX)) return null;
  const rest = value.slice(SCHEME_PREFIX.length);
  const slash = rest.indexOf('/');
  const trustDomain = slash === -1 ? rest : rest.slice(0, slash);
  const path = slash === -1 ? '' : rest.slice(slash);
  if (!isTrustDomainName(trustDomain)) return null;
  if (path !== '' && !isValidPath(path)) return null;
  return { trustDomain, path };
}

/** A bare trust domain name as it appears in config (`trustDomains`) or in a SPIFFE ID. */
export function isTrustDomainName(value: string): boolean {
  return value.length > 0 && value.length <= MAX_TRUST_DOMAIN_BYTES && TRUST_DOMAIN.test(value);
}

function isValidPath(path: string): boolean {
  return PATH.test(path);
}
