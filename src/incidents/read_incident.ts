/** An incident with its grants and revocation report (docs/architecture.md flow 4). */
import { incidentNotFound } from '../errors.js';
import type { DomainDeps } from '../domain.js';
import type { Grant, Incident } from '../model.js';
import { buildRevocationReport, type RevocationReport } from './revocation_report.js';

export interface IncidentReadout {
  readonly incident: Incident;
  readonly grants: readonly Grant[];
  readonly report: RevocationReport;
  /** Whether a provider's revocations take effect only after upstream propagation (AWS STS). */
  readonly propagates: (provider: string) => boolean;
  /** When the report was computed (effective states depend on it). */
  readonly at: number;
}

type ReadDeps = Pick<DomainDeps, 'store' | 'now'> & { readonly catalog?: Pick<DomainDeps['catalog'], 'provider'> };

export async function readIncident(deps: ReadDeps, incidentId: string): Promise<IncidentReadout> {
  const incident = await deps.store.getIncident(incidentId);
  if (!incident) throw incidentNotFound();
  return readoutOf(deps, incident);
}

/** The readout of an incident already in hand (e.g. the one a close returned). */
export async function readoutOf(deps: ReadDeps, incident: Incident): Promise<IncidentReadout> {
  const grants = await deps.store.listGrantsByIncident(incident.id);
  const at = deps.now();
  const propagates = (provider: string): boolean =>
    deps.catalog?.provider(provider)?.capabilities.revocationTakesEffect === 'after_propagation';
  return { incident, grants, report: buildRevocationReport(incident, grants, at, propagates), propagates, at };
}
