/**
 * Step: the incident must exist and be open. This is an early, cheap check for a clear error;
 * the binding check is atomic in the store when the grant intent is written (a close can land
 * between the two, and then the intent is refused).
 *
 * An incident a webhook source reopened after its close lives on as a new epoch
 * (webhooks/apply_event.ts): a request naming the closed epoch's id — the id agents know, e.g.
 * `pagerduty:Q1ABC` — is served from the source incident's current epoch, whose grants are new
 * and end with it. Only closed webhook incidents pay the extra read.
 */
import { incidentClosed, incidentNotFound } from '../../errors.js';
import type { DomainDeps } from '../../domain.js';
import type { Incident } from '../../model.js';
import { currentEpochOf } from '../../webhooks/apply_event.js';
import type { GrantContext } from '../grant_context.js';

export async function loadIncident(deps: Pick<DomainDeps, 'store'>, ctx: Pick<GrantContext, 'request'>): Promise<Incident> {
  const incident = await deps.store.getIncident(ctx.request.incidentId);
  if (!incident) throw incidentNotFound();
  if (incident.status === 'open') return incident;
  const current = await currentEpochOf(deps.store, incident);
  if (current === null || current === incident.id) throw incidentClosed();
  const reopened = await deps.store.getIncident(current);
  if (reopened?.status !== 'open') throw incidentClosed();
  return reopened;
}
