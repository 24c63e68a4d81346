/**
 * RFC 7662 introspection of broker-issued tokens: the revocation channel for `jwt` grants. A token
 * is active only if a provider verifies it as its own (signature, issuer, expiry) AND its grant is
 * active and unexpired in the ledger, so a closed incident's or released grant's tokens answer
 * inactive while they still verify offline.
 */
import type { DomainDeps } from '../domain.js';
import { effectiveState } from '../model.js';
import type { TokenIntrospector } from '../sdk.js';

export type Introspection = { readonly active: false } | { readonly active: true; readonly claims: Readonly<Record<string, unknown>> };

export function introspectorsOf(catalog: DomainDeps['catalog']): readonly TokenIntrospector[] {
  return catalog.providers().flatMap((p) => (p.introspector ? [p.introspector] : []));
}

export async function introspectToken(deps: Pick<DomainDeps, 'store' | 'catalog' | 'now'>, token: string): Promise<Introspection> {
  for (const introspector of introspectorsOf(deps.catalog)) {
    const verified = await introspector.verifyIssued(token);
    if (!verified) continue;
    const grant = await deps.store.getGrant(verified.grantId);
    // Verified by this provider: no other one could claim it, so the ledger's answer is final.
    if (grant === null || effectiveState(grant, deps.now()) !== 'active') return { active: false };
    return { active: true, claims: verified.claims };
  }
  return { active: false };
}
