/**
 * RFC 7662 introspection of broker-issued tokens: the revocation channel for `jwt` grants. A token
 * is active only if a provider verifies it as its own (signature, issuer, expiry) AND its grant is
 * active and unexpired in the ledger, so a closed incident's or released grant's tokens answer
 * inactive while they still verify offline. An introspection client (a resource server) learns
 * that only of tokens issued for one of its own audiences: any other token is inactive to it, so it
 * cannot read what other tools' tokens say or whether they live.
 */
import type { DomainDeps } from '../domain.js';
import { effectiveState } from '../model.js';
import type { TokenIntrospector } from '../sdk.js';

export type Introspection = { readonly active: false } | { readonly active: true; readonly claims: Readonly<Record<string, unknown>> };

/** Who asks: an operator sees every token; a client only those whose `aud` is one of its audiences. */
export type IntrospectionScope = { readonly kind: 'all' } | { readonly kind: 'audiences'; readonly audiences: ReadonlySet<string> };

export function introspectorsOf(catalog: DomainDeps['catalog']): readonly TokenIntrospector[] {
  return catalog.providers().flatMap((p) => (p.introspector ? [p.introspector] : []));
}

export async function introspectToken(
  deps: Pick<DomainDeps, 'store' | 'catalog' | 'now' | 'detectors'>,
  token: string,
  scope: IntrospectionScope,
): Promise<Introspection> {
  for (const introspector of introspectorsOf(deps.catalog)) {
    const verified = await introspector.verifyIssued(token);
    if (!verified) continue;
    // Before the ledger is read: another audience's token is inactive here, whatever its grant.
    // `aud` is a string or a list of them (RFC 7519 §4.1.3); anything else matches no audience.
    const aud = verified.claims.aud;
    if (scope.kind === 'audiences' && !(Array.isArray(aud) ? aud : [aud]).some((a) => scope.audiences.has(a as string)))
      return { active: false };
    const grant = await deps.store.getGrant(verified.grantId);
    // Verified by this provider: no other one could claim it, so the ledger's answer is final.
    if (grant === null) return { active: false };
    if (effectiveState(grant, deps.now()) !== 'active') {
      // A token whose grant was revoked, presented to a resource server: a deviation detector's event.
      deps.detectors?.introspectedDead(grant);
      return { active: false };
    }
    return { active: true, claims: verified.claims };
  }
  return { active: false };
}
