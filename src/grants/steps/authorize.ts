/**
 * Step: may this agent have this profile? v0 matches the agent id against the profile's anchored
 * patterns; the Cedar policy issue replaces this step and only this step.
 */
import { policyDenied, profileNotFound } from '../../errors.js';
import type { Catalog, ProfileEntry } from '../../catalog/catalog.js';
import type { AgentIdentity } from '../../identity/types.js';

export function authorize(catalog: Pick<Catalog, 'profile'>, agent: AgentIdentity, profileName: string): ProfileEntry {
  const profile = catalog.profile(profileName);
  if (!profile) throw profileNotFound();
  if (!agentMayRequest(profile, agent.id)) {
    throw policyDenied(`agent not in profiles.${profile.name}.agents`);
  }
  return profile;
}

export function agentMayRequest(profile: ProfileEntry, agentId: string): boolean {
  return profile.agentMatchers.some((m) => m.test(agentId));
}
