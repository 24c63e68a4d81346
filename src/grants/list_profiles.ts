/**
 * The credential profiles, and whether this agent may request each — from the same evaluation a
 * grant request gets: the profile's agent patterns and, given an incident, its assignment and the
 * policy set (with the profile's default TTL). Without an incident only the patterns can answer
 * (policies decide per incident). An agent no profile admits learns nothing of the incident: it is
 * read only when some profile's patterns allow the agent.
 */
import { isQuarantined, quarantineOf } from '../agents/quarantine.js';
import type { DomainDeps } from '../domain.js';
import { PolicyDenied } from '../errors.js';
import type { AgentIdentity } from '../identity/types.js';
import type { Incident } from '../model.js';
import { authorizeForIncident, decideByAgentPatterns } from './steps/authorize.js';
import { approvalRuleFor } from '../approvals/rule.js';
import { authorizeByPolicyOrApproval } from './steps/authorize_by_policy.js';
import { resolveTtl } from './steps/resolve_ttl.js';

export interface ProfileOffer {
  readonly name: string;
  readonly description: string;
  readonly provider: string;
  readonly tier: string;
  /** The longest TTL a grant of it can get: min(profile maxTtl, provider maximum). */
  readonly maxTtlSeconds: number;
  readonly allowed: boolean;
  /** What decided it (the ids a grant request's 403 or audit would name). */
  readonly decidedBy: readonly string[];
  /** Allowed, but a grant waits for named humans' approval first (its profile, or a policy, asks for it). */
  readonly approvalRequired: boolean;
}

export async function listProfilesFor(
  deps: Pick<DomainDeps, 'catalog' | 'store' | 'policy' | 'now' | 'config'>,
  agent: AgentIdentity,
  incidentId?: string,
): Promise<ProfileOffer[]> {
  const profiles = deps.catalog.profiles();
  const byPatterns = profiles.map((p) => decideByAgentPatterns(p, agent.id));
  let incident: Incident | null = null;
  let quarantined = false;
  if (incidentId !== undefined && byPatterns.some((d) => d.effect === 'allow')) {
    const [found, quarantine] = await Promise.all([deps.store.getIncident(incidentId), quarantineOf(deps.store, agent.id)]);
    incident = found;
    quarantined = isQuarantined(quarantine);
  }
  return profiles.map((p, i) => {
    let decision = byPatterns[i] as (typeof byPatterns)[number];
    let askedBy: readonly string[] | null = null;
    if (decision.effect === 'allow' && incidentId !== undefined) {
      if (incident === null || incident.status !== 'open') {
        decision = { effect: 'deny', decidedBy: ['incident'], reasons: ['the incident is not open'] };
      } else {
        try {
          decision = authorizeForIncident({ agent, incident, decision });
          if (deps.policy) {
            const ttlSeconds = resolveTtl({ profile: p, request: { incidentId, profile: p.name, purpose: '' } });
            const outcome = authorizeByPolicyOrApproval(deps.policy, {
              agent,
              profile: p,
              incident,
              ttlSeconds,
              purpose: '',
              quarantined,
              now: deps.now(),
              decision,
            });
            decision = outcome.decision;
            askedBy = outcome.approvalAskedBy;
          }
        } catch (err) {
          if (!(err instanceof PolicyDenied)) throw err;
          decision = err.decision;
        }
      }
    }
    return {
      name: p.name,
      description: p.config.description,
      provider: p.provider.name,
      tier: p.config.tier,
      maxTtlSeconds: Math.min(p.config.maxTtl, p.provider.capabilities.maxTtlSeconds),
      allowed: decision.effect === 'allow',
      decidedBy: decision.decidedBy,
      approvalRequired:
        decision.effect === 'allow' && approvalRuleFor(deps.config, p, askedBy, (id) => deps.policy?.annotations(id) ?? {}) !== null,
    };
  });
}
