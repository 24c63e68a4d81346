/**
 * Step: may this agent have this profile? Returns the Decision that allows it, or throws the
 * PolicyDenied that carries the one that denies it (its ids go to the 403 body and the audit).
 * Today the rule is the profile's anchored agent patterns; the Cedar policy issue replaces this
 * step and only this step.
 */
import { policyDenied, profileNotFound } from '../../errors.js';
import type { Catalog, ProfileEntry } from '../../catalog/catalog.js';
import type { Decision } from '../../model.js';
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

export function agentMayRequest(profile: ProfileEntry, agentId: string): boolean {
  return decideByAgentPatterns(profile, agentId).effect === 'allow';
}
