/**
 * Release flow (docs/architecture.md flow 2): an agent ends its own grant early. Another agent's grant is
 * reported as not found, so grant ids cannot be probed. Idempotent: releasing a grant that is
 * already revoking or ended answers with its current state.
 */
import { grantNotFound } from '../errors.js';
import type { DomainDeps } from '../domain.js';
import type { AgentIdentity } from '../identity/types.js';
import { isLive, provenanceOf, type Grant, type RequestOrigin } from '../model.js';
import { getOwnGrant } from './get_grant.js';

export async function releaseGrant(deps: DomainDeps, agent: AgentIdentity, grantId: string, origin?: RequestOrigin): Promise<Grant> {
  const grant = await getOwnGrant(deps, agent, grantId);
  const live = isLive(grant);
  // Revoked for another reason (its incident closed) or ended: nothing to release.
  if (!live && grant.revokeReason !== 'released') return grant;
  const updated = live ? await deps.store.requestRevocation(grantId, 'released', deps.now()) : grant;
  if (!updated) throw grantNotFound();
  deps.nudgeRevocation();
  // Deduplicated, so a release retried after a failed append is audited exactly once.
  await deps.audit.record(
    {
      at: updated.revokeRequestedAt ?? deps.now(),
      type: 'grant.released',
      actor: agent.id,
      incidentId: grant.incidentId,
      grantId,
      profile: grant.profile,
      data: provenanceOf({ id: agent.id, tokenFingerprint: agent.fingerprint }, origin),
    },
    { dedupeKey: `grant.released:${grantId}` },
  );
  return updated;
}
