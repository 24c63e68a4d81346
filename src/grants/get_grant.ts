/**
 * An agent reads one of its own grants. The ownership rule lives here once: another agent's grant
 * is "not found", exactly like a grant that does not exist, so grant ids cannot be probed.
 */
import { grantNotFound } from '../errors.js';
import type { DomainDeps } from '../domain.js';
import type { AgentIdentity } from '../identity/types.js';
import type { Grant } from '../model.js';

export async function getOwnGrant(deps: Pick<DomainDeps, 'store'>, agent: Pick<AgentIdentity, 'id'>, grantId: string): Promise<Grant> {
  const grant = await deps.store.getGrant(grantId);
  if (!grant || grant.agent !== agent.id) throw grantNotFound();
  return grant;
}
