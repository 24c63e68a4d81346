/** An incident with its grants and revocation report (docs/architecture.md flow 4). */
import { incidentNotFound } from '../errors.js';
import type { DomainDeps } from '../domain.js';
import type { Grant, Incident } from '../model.js';
import { buildRevocationReport, type RevocationReport } from './revocation_report.js';

export interface IncidentReadout {
  readonly incident: Incident;
  readonly grants: readonly Grant[];
  readonly report: RevocationReport;
  /** When the report was computed (effective states depend on it). */
  readonly at: number;
}

export async function readIncident(deps: Pick<DomainDeps, 'store' | 'now'>, incidentId: string): Promise<IncidentReadout> {
  const incident = await deps.store.getIncident(incidentId);
  if (!incident) throw incidentNotFound();
  return readoutOf(deps, incident);
}

/** The readout of an incident already in hand (e.g. the one a close returned). */
export async function readoutOf(deps: Pick<DomainDeps, 'store' | 'now'>, incident: Incident): Promise<IncidentReadout> {
  const grants = await deps.store.listGrantsByIncident(incident.id);
  const at = deps.now();
  return { incident, grants, report: buildRevocationReport(incident, grants, at), at };
}
