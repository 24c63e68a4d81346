/** Opens an incident. Opening issues nothing by itself; an existing id is a conflict, never an overwrite. */
import { incidentExists } from '../errors.js';
import type { DomainDeps } from '../domain.js';
import type { IncidentSourceName } from '../incident_sources/index.js';
import { actorOf, provenanceOf, type ActorRef, type Incident, type Severity } from '../model.js';

export interface OpenIncidentInput {
  readonly id: string;
  readonly title: string;
  readonly severity: Severity;
  readonly source: IncidentSourceName;
  readonly actor: ActorRef;
  /** Agents assigned to it (anchored patterns); absent: every agent a profile allows. */
  readonly agents?: readonly string[];
}

export async function openIncident(deps: DomainDeps, input: OpenIncidentInput): Promise<Incident> {
  const actor = actorOf(input.actor);
  const incident: Incident = {
    id: input.id,
    source: input.source,
    title: input.title,
    severity: input.severity,
    status: 'open',
    openedAt: deps.now(),
    openedBy: actor.id,
    ...(input.agents === undefined ? {} : { agents: [...input.agents] }),
  };
  const { created, incident: stored } = await deps.store.createIncident(incident);
  if (!created) throw incidentExists();
  await deps.audit.record({
    at: incident.openedAt,
    type: 'incident.opened',
    actor: actor.id,
    incidentId: incident.id,
    data: { severity: incident.severity, source: incident.source, ...provenanceOf(actor) },
  });
  return stored;
}
