/**
 * An agent lists its own grants, oldest first: in every incident, or in one. Read through the
 * store's agent index, so neither form loads any other agent's grants. An unknown incident has none.
 */
import type { DomainDeps } from '../domain.js';
import type { AgentIdentity } from '../identity/types.js';
import type { Grant } from '../model.js';

export async function listOwnGrants(
  deps: Pick<DomainDeps, 'store'>,
  agent: Pick<AgentIdentity, 'id'>,
  incidentId?: string,
): Promise<Grant[]> {
  return deps.store.listGrantsByAgent(agent.id, incidentId === undefined ? {} : { incidentId });
}
