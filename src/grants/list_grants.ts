/** An agent lists its own grants of one incident, oldest first. An unknown incident has none. */
import type { DomainDeps } from '../domain.js';
import type { AgentIdentity } from '../identity/types.js';
import type { Grant } from '../model.js';

export async function listOwnGrants(deps: Pick<DomainDeps, 'store'>, agent: Pick<AgentIdentity, 'id'>, incidentId: string): Promise<Grant[]> {
  return (await deps.store.listGrantsByIncident(incidentId)).filter((g) => g.agent === agent.id);
}
