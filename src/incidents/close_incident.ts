/**
 * Closes an incident: the store writes the closed tombstone first (no grant can be issued after
 * it, guarantee 3), flips the incident's live grants to revoking and enqueues them; the worker
 * does the rest. Idempotent: closing again re-enqueues anything still outstanding.
 */
import { incidentNotFound } from '../errors.js';
import type { DomainDeps } from '../domain.js';
import { actorOf, provenanceOf, type ActorRef } from '../model.js';
import type { CloseIncidentResult } from '../store/store.js';

export async function closeIncident(deps: DomainDeps, id: string, by: ActorRef): Promise<CloseIncidentResult> {
  const actor = actorOf(by);
  const result = await deps.store.closeIncident(id, deps.now(), actor.id);
  if (!result) throw incidentNotFound();
  if (result.revoking.length > 0) deps.nudgeRevocation();
  // Recorded on every close call, once: a close retried after a failed append still audits it.
  await deps.audit.record(
    {
      at: result.incident.closedAt ?? deps.now(),
      type: 'incident.closed',
      actor: result.incident.closedBy ?? actor.id,
      incidentId: id,
      data: { grantsToRevoke: result.revoking.length, ...provenanceOf(actor) },
    },
    { dedupeKey: `incident.closed:${id}` },
  );
  return result;
}
