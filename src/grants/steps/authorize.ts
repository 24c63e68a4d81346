/**
 * Steps: may this agent have this profile, and act on this incident? `authorize` runs before
 * the incident is read, so an agent no profile allows learns nothing about incidents (a uniform
 * 403, whatever the incident's state or existence); `authorizeForIncident` then applies the
 * incident's assignment, if an operator set one. Each returns the Decision that allows, or throws
 * the PolicyDenied that carries the one that denies (its ids go to the 403 body and the audit).
 * These rules are anchored agent patterns; the Cedar policy set (authorize_by_policy.ts) decides after them.
 */
import { policyDenied, profileNotFound } from '../../errors.js';
import type { Catalog, ProfileEntry } from '../../catalog/catalog.js';
import type { Decision } from '../../model.js';
import { anchoredPattern } from '../../patterns.js';
import type { GrantContext } from '../grant_context.js';

export interface Authorized {
  readonly profile: ProfileEntry;
  readonly decision: Decision;
}

export function authorize(catalog: Pick<Catalog, 'profile'>, ctx: Pick<GrantContext, 'agent' | 'request'>): Authorized {
  const profile = catalog.profile(ctx.request.profile);
  if (!profile) throw profileNotFound();
  const decision = decideByAgentPatterns(profile, ctx.agent.id);
  if (decision.effect === 'deny') throw policyDenied(decision);
  return { profile, decision };
}

/** The profile's own rule: an anchored agent pattern matches (the config path is its id). */
export function decideByAgentPatterns(profile: ProfileEntry, agentId: string): Decision {
  const rule = `profiles.${profile.name}.agents`;
  return profile.agentMatchers.some((m) => m.test(agentId))
    ? { effect: 'allow', decidedBy: [rule], reasons: [`agent matches ${rule}`] }
    : { effect: 'deny', decidedBy: [rule], reasons: [`agent not in ${rule}`] };
}

/** The incident's assignment (Incident.agents): without one, the profile's decision stands. */
export function authorizeForIncident(ctx: Pick<GrantContext, 'agent' | 'incident' | 'decision'>): Decision {
  const { agents } = ctx.incident;
  if (agents === undefined) return ctx.decision;
  const rule = 'incident.agents';
  const assigned = agents.some((pattern) => anchoredPattern(pattern).test(ctx.agent.id));
  if (!assigned) throw policyDenied({ effect: 'deny', decidedBy: [rule], reasons: [`agent not assigned to incident ${ctx.incident.id}`] });
  return {
    effect: 'allow',
    decidedBy: [...ctx.decision.decidedBy, rule],
    reasons: [...ctx.decision.reasons, `agent assigned to incident ${ctx.incident.id}`],
  };
}

export function agentMayRequest(profile: ProfileEntry, agentId: string): boolean {
  return decideByAgentPatterns(profile, agentId).effect === 'allow';
}
