/**
 * The incidents an operator sees at a glance (`GET /v1/incidents`; the console's first view):
 * newest first, open or closed or both, each with how many of its grants are live — issued or
 * being revoked, not yet past their expiry (the live-grant quota's count, one O(log n) read each).
 */
import type { DomainDeps } from '../domain.js';
import type { Incident } from '../model.js';

export interface IncidentSummary {
  readonly incident: Incident;
  readonly liveGrants: number;
}

export async function listIncidents(
  deps: Pick<DomainDeps, 'store' | 'now'>,
  query: { readonly status?: Incident['status']; readonly limit: number },
): Promise<IncidentSummary[]> {
  const incidents = await deps.store.listIncidents(query);
  const now = deps.now();
  const live = await Promise.all(incidents.map((i) => deps.store.countLiveGrants(i.id, now)));
  return incidents.map((incident, i) => ({ incident, liveGrants: live[i] ?? 0 }));
}
