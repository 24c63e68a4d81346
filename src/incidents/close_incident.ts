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
 * How long the work that follows a close waits for its kill at most: this replica's worker (its
 * first batch) and the report the API answers are CPU on the same event loop, and would hold back
 * the kill's provider calls by the time they take (~10–25 ms for 1000 grants, docs/performance.md
 * S4). A kill that takes longer (a slow or absent provider) holds nothing back after that; the
 * queue revokes every grant anyway.
 */
export const KILL_HEAD_START_MS = 250;

export interface CloseOutcome extends CloseIncidentResult {
  /**
   * Settles (never rejects) once the kill at close has, or after KILL_HEAD_START_MS: when an
   * answer that renders the incident may go ahead. Already settled when nothing was killed.
   */
  readonly killHeadStart: Promise<void>;
}

export async function closeIncident(deps: DomainDeps, id: string, by: ActorRef): Promise<CloseOutcome> {
  const actor = actorOf(by);
  const result = await deps.store.closeIncident(id, deps.now(), actor.id);
  if (!result) throw incidentNotFound();
  let killHeadStart: Promise<void> = Promise.resolve();
  if (result.revoking.length > 0) {
    // Upstream first, then the queue: the kill needs no grant read, the queue confirms every one.
    const kill = deps.incidentKill?.begin(id, result.incident.closedAt ?? deps.now());
    if (kill) killHeadStart = headStart(kill, KILL_HEAD_START_MS);
    // One turn of the event loop, so the kill's provider request is on the wire before the rest of
    // the close runs: on a store that answers without I/O (memory) it would otherwise all run
    // first, in one stretch of promise callbacks.
    await new Promise((resolve) => setImmediate(resolve));
    // The worker wakes once the kill has settled or its head start is over (at once without a
    // kill). Not awaited: a caller applying many closes (the webhook inbox, the reconciler) never
    // waits on a provider.
    void killHeadStart.then(() => deps.nudgeRevocation());
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
  return { ...result, killHeadStart };
}

/** Resolves when `work` settles or after `ms`, whichever comes first; the timer never outlives it. */
async function headStart(work: Promise<void>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      work,
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, ms);
        timer.unref();
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
