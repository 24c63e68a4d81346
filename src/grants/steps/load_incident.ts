/**
 * Step: the incident must exist and be open. This is an early, cheap check for a clear error;
 * the binding check is atomic in the store when the grant intent is written (a close can land
 * between the two, and then the intent is refused).
 */
import { incidentClosed, incidentNotFound } from '../../errors.js';
import type { DomainDeps } from '../../domain.js';
import type { Incident } from '../../model.js';
import type { GrantContext } from '../grant_context.js';

export async function loadIncident(deps: Pick<DomainDeps, 'store'>, ctx: Pick<GrantContext, 'request'>): Promise<Incident> {
  const incident = await deps.store.getIncident(ctx.request.incidentId);
  if (!incident) throw incidentNotFound();
  if (incident.status !== 'open') throw incidentClosed();
  return incident;
}
