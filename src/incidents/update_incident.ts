/**
 * Changes an open incident's severity or title (an operator now; the incident-tool webhooks later).
 * A closed incident is final: its close stands, and so does what it was closed as.
 */
import { incidentClosed, incidentNotFound } from '../errors.js';
import type { DomainDeps } from '../domain.js';
import { actorOf, provenanceOf, type ActorRef, type Incident } from '../model.js';
import type { IncidentPatch } from '../store/store.js';

export async function updateIncident(
  deps: Pick<DomainDeps, 'store' | 'audit' | 'now'>,
  id: string,
  patch: IncidentPatch,
  by: ActorRef,
): Promise<Incident> {
  const actor = actorOf(by);
  const before = await deps.store.getIncident(id);
  if (!before) throw incidentNotFound();
  const result = await deps.store.updateIncident(id, patch);
  if (!result) throw incidentNotFound();
  if (!result.updated) throw incidentClosed();
  const changed = Object.fromEntries(
    Object.entries(patch).filter(([field, value]) => field !== 'tierGranted' && before[field as keyof Incident] !== value),
  );
  if (Object.keys(changed).length > 0) {
    await deps.audit.record({
      at: deps.now(),
      type: 'incident.updated',
      actor: actor.id,
      incidentId: id,
      data: {
        ...(changed.severity === undefined ? {} : { severity: String(changed.severity), previousSeverity: before.severity }),
        ...(changed.title === undefined ? {} : { titleChanged: true }),
        ...(patch.agents === undefined ? {} : { agents: patch.agents ?? [] }),
        ...provenanceOf(actor),
      },
    });
  }
  return result.incident;
}
