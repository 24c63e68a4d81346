/**
 * Step: the Cedar policy set decides (src/policy/, docs/policy.md), once the incident is known:
 * the agent's trust domain, the profile's tier, the incident's severity, status, source and the
 * tiers already granted in it, the TTL, the agent's quarantine. A deny throws PolicyDenied naming
 * the deciding policies (the 403 body's `decided_by`, the audit event); an allow adds its permits
 * to the decision. Without a configured set (`policy.dir`), the profile patterns and the incident
 * binding decide alone.
 */
import { policyDenied } from '../../errors.js';
import type { AgentIdentity } from '../../identity/types.js';
import type { Decision, Incident } from '../../model.js';
import type { ProfileEntry } from '../../catalog/catalog.js';
import type { PolicyDecision, PolicyRequest } from '../../policy/policy_set.js';

export interface PolicyInput {
  readonly agent: AgentIdentity;
  readonly profile: ProfileEntry;
  readonly incident: Incident;
  readonly ttlSeconds: number;
  readonly purpose: string;
  readonly quarantined: boolean;
  readonly now: number;
  readonly decision: Decision;
}

/** An OIDC agent's "trust domain": its issuer URL's host, or the issuer's configured name when the issuer is no URL. */
function issuerHost(agent: AgentIdentity): string {
  try {
    return new URL(agent.issuer).host || agent.issuerName;
  } catch {
    return agent.issuerName;
  }
}

/** The request in the schema's terms. */
export function policyRequestOf(input: PolicyInput): PolicyRequest {
  const { agent, profile, incident } = input;
  const spiffe = agent.trustDomain !== undefined;
  return {
    action: 'issue',
    agent: {
      id: agent.id,
      kind: spiffe ? 'spiffe' : 'oidc',
      trustDomain: spiffe ? (agent.trustDomain as string) : issuerHost(agent),
      path: spiffe ? agent.id.slice(`spiffe://${agent.trustDomain}`.length) : agent.subject,
      issuer: agent.issuer,
      ...(agent.claims === undefined ? {} : { claims: agent.claims }),
    },
    profile: { name: profile.name, provider: profile.provider.name, tier: profile.config.tier, maxTtl: profile.config.maxTtl },
    incident: {
      id: incident.id,
      severity: Number(incident.severity.slice(3)),
      status: incident.status,
      source: incident.source,
      major: false,
      tiersGranted: incident.tiersGranted ?? [],
    },
    ttlSeconds: input.ttlSeconds,
    purpose: input.purpose,
    quarantined: input.quarantined,
    approved: false,
    hour: new Date(input.now).getUTCHours(),
  };
}

export function authorizeByPolicy(policy: { decide(request: PolicyRequest): PolicyDecision }, input: PolicyInput): Decision {
  const decided = policy.decide(policyRequestOf(input));
  const ids = decided.policyIds.map((id) => `policy:${id}`);
  if (decided.effect === 'deny') {
    throw policyDenied({
      effect: 'deny',
      decidedBy: ids.length > 0 ? ids : [decided.unfit ? 'policy:request-unfit' : 'policy:no-permit'],
      reasons: [
        ids.length > 0
          ? `forbidden by ${ids.join(', ')}`
          : decided.unfit
            ? 'the request does not fit the policy schema'
            : 'no policy permits it',
        ...decided.errors,
      ],
    });
  }
  return {
    effect: 'allow',
    decidedBy: [...input.decision.decidedBy, ...ids],
    reasons: [...input.decision.reasons, `permitted by ${ids.join(', ')}`],
  };
}
