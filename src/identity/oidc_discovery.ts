/**
 * OIDC Discovery of an issuer's `jwks_uri` (OpenID Connect Discovery 1.0 §4). The document URL is
 * derived from the *configured* issuer, never from a token, and its `issuer` must equal the
 * configured one exactly (§4.3): otherwise an attacker who can serve one issuer's discovery
 * document could substitute another issuer's keys.
 */
import { isFetchableUrl } from '../config/identity_schema.js';
import { cleanForLog } from '../logging.js';
import { fetchBounded, FetchError, type FetchLimits } from './bounded_fetch.js';

/** §4.1: `/.well-known/openid-configuration` appended to the issuer, minus a trailing `/`. */
export function discoveryUrl(issuer: string): string {
  return `${issuer.replace(/\/$/, '')}/.well-known/openid-configuration`;
}

/** Fetches the discovery document and returns its checked `jwks_uri`. */
export async function discoverJwksUri(issuer: string, limits: FetchLimits): Promise<string> {
  const text = await fetchBounded(discoveryUrl(issuer), limits);
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw new FetchError('discovery document is not valid JSON');
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw new FetchError('discovery document is not a JSON object');
  const { issuer: advertised, jwks_uri: jwksUri } = doc as Record<string, unknown>;
  if (advertised !== issuer) {
    throw new FetchError(
      `discovery document names issuer ${JSON.stringify(cleanForLog(String(advertised), 200))}, not the configured ${JSON.stringify(issuer)}`,
    );
  }
  if (typeof jwksUri !== 'string' || !isFetchableUrl(jwksUri)) {
    throw new FetchError('discovery document has no https jwks_uri');
  }
  return jwksUri;
}
