/**
 * The trust table built from config once at boot, and the choice of which entry may verify a
 * token (docs/security.md §1 "Keys", CONTRIBUTING.md #12). A token is verified with exactly one entry's keys,
 * never the union of all keys:
 *
 * - agent endpoints: an `iss` equal to a configured OIDC issuer selects that issuer; otherwise a
 *   `sub` that parses strictly as a SPIFFE ID selects its trust domain's bundle (trust domain B is
 *   verified only with B's keys; the verifier checks the trust domain again after verification);
 * - operator endpoints: only the operator issuer. Agent and operator entries never overlap, so a
 *   token of one kind is refused on endpoints of the other.
 *
 * Only `iss` and the trust domain of `sub` are read before the signature is checked, and only to
 * pick the entry; everything else is checked after it.
 */
import type { IdentityConfig } from '../config/identity_schema.js';
import { cleanForLog } from '../logging.js';
import { compileClaimConstraints, type ClaimConstraint } from './claim_constraints.js';
import { createOidcKeySet, createSpiffeBundleKeySet, isFileSource } from './key_sources.js';
import type { KeySet, KeySetDeps } from './key_set.js';
import { parseSpiffeId } from './spiffe_id.js';
import type { ClaimRules } from './token_claims.js';
import { ownClaim } from './token_claims.js';
import { tokenError } from './token_errors.js';

export interface TrustedIssuer {
  readonly kind: 'spiffe' | 'oidc' | 'operator';
  /** Config path, for logs and error details: `identity.agents.spiffe[prod.example.com]`. */
  readonly label: string;
  /** Trust domain (SPIFFE) or configured name (OIDC), for logs and metrics. */
  readonly name: string;
  /** The issuer the identity reports, and the namespace of its `jti`s. */
  readonly issuer: string;
  readonly trustDomain?: string;
  readonly algorithms: ReadonlySet<string>;
  readonly rules: ClaimRules;
  readonly constraints: readonly ClaimConstraint[];
  readonly keySet: KeySet;
  /** Whether the key source is a local file (a failed first load is then a config error). */
  readonly fileSource: boolean;
}

export interface TrustTable {
  readonly spiffe: ReadonlyMap<string, TrustedIssuer>;
  readonly oidc: ReadonlyMap<string, TrustedIssuer>;
  readonly operator: TrustedIssuer;
  readonly all: readonly TrustedIssuer[];
}

type Checks = Pick<
  IdentityConfig['operators'],
  'allowMultipleAudiences' | 'maxLifetimeSeconds' | 'clockLeewaySeconds' | 'claims' | 'algorithms'
> & {
  readonly audience?: string | undefined;
};

function common(checks: Checks, audience: string, issuer: string | undefined) {
  return {
    algorithms: new Set<string>(checks.algorithms),
    rules: {
      audience: checks.audience ?? audience,
      allowMultipleAudiences: checks.allowMultipleAudiences,
      maxLifetimeSeconds: checks.maxLifetimeSeconds,
      clockLeewaySeconds: checks.clockLeewaySeconds,
      ...(issuer === undefined ? {} : { issuer }),
    },
    constraints: compileClaimConstraints(checks.claims),
  };
}

export function buildTrustTable(config: IdentityConfig, deps: KeySetDeps): TrustTable {
  const spiffe = new Map<string, TrustedIssuer>();
  for (const td of config.agents.spiffe) {
    const label = `identity.agents.spiffe[${td.trustDomain}]`;
    spiffe.set(
      td.trustDomain,
      Object.freeze({
        kind: 'spiffe',
        label,
        name: td.trustDomain,
        issuer: td.issuer ?? `spiffe://${td.trustDomain}`,
        trustDomain: td.trustDomain,
        ...common(td, config.audience, td.issuer),
        keySet: createSpiffeBundleKeySet(td.bundle, `${label}.bundle`, deps),
        fileSource: isFileSource(td.bundle),
      }),
    );
  }
  const oidc = new Map<string, TrustedIssuer>();
  for (const o of config.agents.oidc) {
    const label = `identity.agents.oidc[${o.name}]`;
    oidc.set(
      o.issuer,
      Object.freeze({
        kind: 'oidc',
        label,
        name: o.name,
        issuer: o.issuer,
        ...common(o, config.audience, o.issuer),
        keySet: createOidcKeySet(o.keys, o.issuer, `${label}.keys`, deps),
        fileSource: isFileSource(o.keys),
      }),
    );
  }
  const op = config.operators;
  const operator: TrustedIssuer = Object.freeze({
    kind: 'operator',
    label: 'identity.operators',
    name: 'operators',
    issuer: op.issuer,
    ...common(op, config.audience, op.issuer),
    keySet: createOidcKeySet(op.keys, op.issuer, 'identity.operators.keys', deps),
    fileSource: isFileSource(op.keys),
  });
  return { spiffe, oidc, operator, all: [...spiffe.values(), ...oidc.values(), operator] };
}

export interface AgentRoute {
  readonly trusted: TrustedIssuer;
  /** SPIFFE entries: the `sub` that chose the entry, parsed strictly. */
  readonly spiffeId?: { readonly id: string; readonly trustDomain: string };
}

/** The entry whose keys may verify this agent token; throws when none may. */
export function routeAgent(table: TrustTable, payload: Readonly<Record<string, unknown>>): AgentRoute {
  const iss = ownClaim(payload, 'iss');
  const byIssuer = typeof iss === 'string' ? table.oidc.get(iss) : undefined;
  if (byIssuer) return { trusted: byIssuer };
  const sub = ownClaim(payload, 'sub');
  if (typeof sub === 'string' && /^spiffe:/i.test(sub)) {
    const id = parseSpiffeId(sub);
    if (!id) throw tokenError('ERR_TOKEN_CLAIMS', '"sub" looks like a SPIFFE ID but is not a valid one (SPIFFE-ID.md §2)');
    // spiffe://<td> alone names the trust domain itself (SPIFFE-ID.md §2.2), not a workload.
    if (id.path === '') throw tokenError('ERR_TOKEN_CLAIMS', '"sub" names a trust domain, not a workload (SPIFFE-ID.md §2.2)');
    const td = table.spiffe.get(id.trustDomain);
    if (td) return { trusted: td, spiffeId: { id: sub, trustDomain: id.trustDomain } };
    throw tokenError('ERR_TOKEN_ISSUER_UNTRUSTED', `trust domain ${id.trustDomain} is not configured`);
  }
  const pinned = typeof iss === 'string' ? [...table.spiffe.values()].find((td) => td.rules.issuer === iss) : undefined;
  if (pinned) throw tokenError('ERR_TOKEN_CLAIMS', `${pinned.label}: "sub" is not a SPIFFE ID (SPIFFE-ID.md §2)`);
  if (typeof iss === 'string' && iss === table.operator.issuer) {
    throw tokenError(
      'ERR_TOKEN_ISSUER_UNTRUSTED',
      `issuer ${cleanForLog(iss)} is the operator issuer, not an agent issuer; token kinds never cross`,
    );
  }
  throw tokenError(
    'ERR_TOKEN_ISSUER_UNTRUSTED',
    typeof iss === 'string'
      ? `issuer ${cleanForLog(iss)} is not configured and "sub" is not a SPIFFE ID`
      : '"iss" is absent or not a string and "sub" is not a SPIFFE ID',
  );
}

/** The operator issuer, if the token claims it; throws otherwise. */
export function routeOperator(table: TrustTable, payload: Readonly<Record<string, unknown>>): TrustedIssuer {
  const iss = ownClaim(payload, 'iss');
  if (iss === table.operator.issuer) return table.operator;
  if (typeof iss !== 'string') throw tokenError('ERR_TOKEN_CLAIMS', 'required claim "iss" is missing or not a string');
  const agentIssuer = table.oidc.has(iss) || [...table.spiffe.values()].some((td) => td.rules.issuer === iss);
  throw tokenError(
    'ERR_TOKEN_ISSUER_UNTRUSTED',
    `issuer ${cleanForLog(iss)} ${agentIssuer ? 'is an agent issuer, not the operator issuer; token kinds never cross' : 'is not the operator issuer'}`,
  );
}
