/**
 * Closes an incident: the store writes the closed tombstone first (no grant can be issued after
 * it, guarantee 3), flips the incident's live grants to revoking and enqueues them; then the
 * providers kill the incident upstream at once (revocation/incident_kill.ts) and the worker
 * revokes and confirms each grant. Idempotent: closing again re-enqueues anything still outstanding.
 */
import { cancelIncidentApprovals } from '../approvals/end_approval.js';
import { describeCause, incidentNotFound } from '../errors.js';
import type { DomainDeps } from '../domain.js';
import { actorOf, provenanceOf, type ActorRef } from '../model.js';
import type { CloseIncidentResult } from '../store/store.js';

export async function closeIncident(deps: DomainDeps, id: string, by: ActorRef): Promise<CloseIncidentResult> {
  const actor = actorOf(by);
  const result = await deps.store.closeIncident(id, deps.now(), actor.id);
  if (!result) throw incidentNotFound();
  if (result.revoking.length > 0) {
    // Upstream first, then the queue: the kill needs no grant read, the queue confirms every one.
    deps.incidentKill?.begin(id, result.incident.closedAt ?? deps.now());
    // One turn of the event loop, so the kill's provider request is on the wire before the worker
    // and the rest of the close (its audit event, the report the API answers) run: on a store that
    // answers without I/O (memory) they would otherwise all run first, in one stretch of promise
    // callbacks, and hold the request back by the time they take (~10 ms for 1000 grants).
    await new Promise((resolve) => setImmediate(resolve));
    deps.nudgeRevocation();
  }
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
  // Pending approvals die with the incident; one this misses (a crash here) is cancelled by the
  // worker's sweep, and no approval of a closed incident can be decided or collected anyway.
  await cancelIncidentApprovals(deps, id).catch((err: unknown) => {
    deps.logger.warn({ incidentId: id, err: describeCause(err) }, 'approvals of the closed incident not cancelled yet; the sweep will');
  });
  return result;
}
