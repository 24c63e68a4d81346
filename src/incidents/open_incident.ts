/** Opens an incident. Opening issues nothing by itself; an existing id is a conflict, never an overwrite. */
import { incidentExists } from '../errors.js';
import type { DomainDeps } from '../domain.js';
import type { IncidentSourceName } from '../incident_sources/index.js';
import type { Incident, Severity } from '../model.js';

export interface OpenIncidentInput {
  readonly id: string;
  readonly title: string;
  readonly severity: Severity;
  readonly source: IncidentSourceName;
  readonly actor: string;
}

export async function openIncident(deps: DomainDeps, input: OpenIncidentInput): Promise<Incident> {
  const incident: Incident = {
    id: input.id,
    source: input.source,
    title: input.title,
    severity: input.severity,
    status: 'open',
    openedAt: deps.now(),
    openedBy: input.actor,
  };
  const { created, incident: stored } = await deps.store.createIncident(incident);
  if (!created) throw incidentExists();
  await deps.audit.record({ at: incident.openedAt, type: 'incident.opened', actor: input.actor, incidentId: incident.id, data: { severity: incident.severity, source: incident.source } });
  return stored;
}
