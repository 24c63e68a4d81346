/**
 * Release flow (DESIGN.md flow 2): an agent ends its own grant early. Another agent's grant is
 * reported as not found, so grant ids cannot be probed. Idempotent: releasing a grant that is
 * already revoking or ended answers with its current state.
 */
import { grantNotFound } from '../errors.js';
import type { DomainDeps } from '../domain.js';
import type { AgentIdentity } from '../identity/types.js';
import type { Grant } from '../model.js';

export async function releaseGrant(deps: DomainDeps, agent: AgentIdentity, grantId: string): Promise<Grant> {
  const grant = await deps.store.getGrant(grantId);
  if (!grant || grant.agent !== agent.id) throw grantNotFound();
  if (grant.state !== 'active' && grant.state !== 'issuing') return grant;
  const updated = await deps.store.requestRevocation(grantId, 'released', deps.now());
  if (!updated) throw grantNotFound();
  deps.nudgeRevocation();
  await deps.audit.record({ at: deps.now(), type: 'grant.released', actor: agent.id, incidentId: grant.incidentId, grantId, profile: grant.profile });
  return updated;
}
