/** The credential profiles, and whether this agent may request each (the same rule authorize applies). */
import type { DomainDeps } from '../domain.js';
import type { AgentIdentity } from '../identity/types.js';
import { agentMayRequest } from './steps/authorize.js';

export interface ProfileOffer {
  readonly name: string;
  readonly description: string;
  readonly provider: string;
  readonly tier: string;
  /** The longest TTL a grant of it can get: min(profile maxTtl, provider maximum). */
  readonly maxTtlSeconds: number;
  readonly allowed: boolean;
}

export function listProfilesFor(deps: Pick<DomainDeps, 'catalog'>, agent: Pick<AgentIdentity, 'id'>): ProfileOffer[] {
  return deps.catalog.profiles().map((p) => ({
    name: p.name,
    description: p.config.description,
    provider: p.provider.name,
    tier: p.config.tier,
    maxTtlSeconds: Math.min(p.config.maxTtl, p.provider.capabilities.maxTtlSeconds),
    allowed: agentMayRequest(p, agent.id),
  }));
}
