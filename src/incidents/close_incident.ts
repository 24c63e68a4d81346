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

/**
 * How long the rest of a close waits for its kill at most: the worker's first batch and the report
 * the API answers are CPU on this event loop, and would hold back the kill's provider calls by the
 * time they take (~10–25 ms for 1000 grants, docs/performance.md S4). A kill that takes longer (a
 * slow or absent provider) no longer holds anything back; the queue revokes every grant anyway.
 */
export const KILL_HEAD_START_MS = 250;

export async function closeIncident(deps: DomainDeps, id: string, by: ActorRef): Promise<CloseIncidentResult> {
  const actor = actorOf(by);
  const result = await deps.store.closeIncident(id, deps.now(), actor.id);
  if (!result) throw incidentNotFound();
  let kill: Promise<void> | undefined;
  if (result.revoking.length > 0) {
    // Upstream first, then the queue: the kill needs no grant read, the queue confirms every one.
    kill = deps.incidentKill?.begin(id, result.incident.closedAt ?? deps.now());
    // One turn of the event loop, so the kill's provider request is on the wire before the rest of
    // the close runs: on a store that answers without I/O (memory) it would otherwise all run
    // first, in one stretch of promise callbacks.
    await new Promise((resolve) => setImmediate(resolve));
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
  if (result.revoking.length > 0) {
    // The worker (and the report the route renders next) wait for the kill, up to its head start.
    if (kill) await headStart(kill, KILL_HEAD_START_MS);
    deps.nudgeRevocation();
  }
  return result;
}

/** Resolves when `work` settles or after `ms`, whichever comes first; the timer never outlives it. */
async function headStart(work: Promise<void>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([work, new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)))]);
  } finally {
    clearTimeout(timer);
  }
}
