/**
 * What makes a verified operator-issuer token an operator, beyond signature, issuer, audience and
 * lifetime: the OIDC client it was issued to (`azp`, else `client_id`; identity.operators
 * .allowedClients), how the human signed in (`amr`, RFC 8176; identity.operators.amrAnyOf), and
 * that a human signed in at all — a token a client obtained for itself (client credentials) is a
 * service principal and is refused unless identity.operators.allowServicePrincipals says so.
 * Each refusal is ERR_TOKEN_CLAIMS; the detail names the rule, never the token.
 */
import type { OperatorIssuerConfig } from '../config/schema.js';
import { cleanForLog } from '../logging.js';
import { ownClaim } from './token_claims.js';
import { tokenError } from './token_errors.js';

export type OperatorRules = Pick<OperatorIssuerConfig, 'allowedClients' | 'amrAnyOf' | 'allowServicePrincipals'>;

const WHERE = 'identity.operators';

export function checkOperatorClaims(rules: OperatorRules, claims: Readonly<Record<string, unknown>>): void {
  const azp = stringClaim(claims, 'azp') ?? stringClaim(claims, 'client_id');
  if (rules.allowedClients !== undefined && (azp === undefined || !rules.allowedClients.includes(azp))) {
    throw tokenError(
      'ERR_TOKEN_CLAIMS',
      azp === undefined
        ? `${WHERE}: the token names no client (azp or client_id) and allowedClients is set`
        : `${WHERE}: client ${JSON.stringify(cleanForLog(azp, 128))} is not in allowedClients`,
    );
  }
  if (rules.amrAnyOf !== undefined) {
    const amr = ownClaim(claims, 'amr');
    const methods = Array.isArray(amr) ? amr.filter((m): m is string => typeof m === 'string') : [];
    if (!methods.some((m) => rules.amrAnyOf?.includes(m))) {
      throw tokenError('ERR_TOKEN_CLAIMS', `${WHERE}: amr holds none of ${rules.amrAnyOf.join(', ')} (a sign-in method amrAnyOf requires)`);
    }
  }
  if (!rules.allowServicePrincipals) {
    const why = servicePrincipalSign(claims, azp);
    if (why !== null) throw tokenError('ERR_TOKEN_CLAIMS', `${WHERE}: a service-principal token (${why}); operators are humans`);
  }
}

/** Why the token looks issued to a client for itself, or null. */
function servicePrincipalSign(claims: Readonly<Record<string, unknown>>, azp: string | undefined): string | null {
  // Microsoft Entra: app-only access tokens carry idtyp "app" (optional claim).
  if (stringClaim(claims, 'idtyp') === 'app') return 'idtyp is app';
  // Auth0: the grant type that produced the token.
  if (stringClaim(claims, 'gty') === 'client-credentials') return 'gty is client-credentials';
  // Okta, Keycloak-style client credentials, and most IdPs: the subject is the client itself.
  const sub = stringClaim(claims, 'sub');
  if (sub !== undefined && (sub === azp || sub === stringClaim(claims, 'client_id'))) return 'sub is the client id';
  return null;
}

function stringClaim(claims: Readonly<Record<string, unknown>>, name: string): string | undefined {
  const value = ownClaim(claims, name);
  return typeof value === 'string' ? value : undefined;
}
