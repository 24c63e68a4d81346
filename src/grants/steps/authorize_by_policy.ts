/**
 * Step: the Cedar policy set decides (src/policy/, docs/policy.md), once the incident is known:
 * the agent's trust domain, the profile's tier, the incident's severity, status, source and the
 * tiers already granted in it, the TTL, the agent's quarantine. A deny throws PolicyDenied naming
 * the deciding policies (the 403 body's `decided_by`, the audit event); an allow adds its permits
 * to the decision. Without a configured set (`policy.dir`), the profile patterns and the incident
 * binding decide alone.
 */
import { policyDenied } from '../../errors.js';
import { isMajor } from '../../incidents/major_mode.js';
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
  /** Whether named humans approved this request (an approval being collected). */
  readonly approved?: boolean;
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
      major: isMajor(incident, input.now),
      tiersGranted: incident.tiersGranted ?? [],
    },
    ttlSeconds: input.ttlSeconds,
    purpose: input.purpose,
    quarantined: input.quarantined,
    approved: input.approved ?? false,
    hour: new Date(input.now).getUTCHours(),
  };
}

export function authorizeByPolicy(policy: { decide(request: PolicyRequest): PolicyDecision }, input: PolicyInput): Decision {
  return decisionOf(policy.decide(policyRequestOf(input)), input.decision);
}

/** What the policy asks before a grant: nothing more, or named humans' approval (the policies that asked for it). */
export interface PolicyOutcome {
  readonly decision: Decision;
  /** Null: no approval asked. Else the ids of the policies that refuse the request until it is approved (none: no permit without it). */
  readonly approvalAskedBy: readonly string[] | null;
}

/**
 * The policy decides the request as it stands (`context.approved` false); if it refuses, it is
 * asked again as approved: a request allowed only then waits for an approval (docs/approvals.md),
 * and the policies that refused it the first time are the ones that asked. A request refused
 * either way is refused, naming what still refuses it.
 */
export function authorizeByPolicyOrApproval(policy: { decide(request: PolicyRequest): PolicyDecision }, input: PolicyInput): PolicyOutcome {
  const asIs = policy.decide(policyRequestOf({ ...input, approved: false }));
  if (asIs.effect === 'allow') return { decision: decisionOf(asIs, input.decision), approvalAskedBy: null };
  const approved = policy.decide(policyRequestOf({ ...input, approved: true }));
  // An unfit request stays refused: it is not a question for a human.
  if (asIs.unfit || approved.effect === 'deny')
    return { decision: decisionOf(approved.effect === 'deny' ? approved : asIs, input.decision), approvalAskedBy: null };
  return { decision: decisionOf(approved, input.decision), approvalAskedBy: asIs.policyIds };
}

function decisionOf(decided: PolicyDecision, before: Decision): Decision {
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
    decidedBy: [...before.decidedBy, ...ids],
    reasons: [...before.reasons, `permitted by ${ids.join(', ')}`],
  };
}
