/**
 * The explicit list of the places an incident can come from (like providers/index.ts): an
 * incident's `source` is one of these names, and nothing registers itself by being imported.
 *
 * Today incidents are opened, changed and closed by operators, through the API or the CLI. The
 * incident-tool integrations (PagerDuty, incident.io, a generic signed webhook) join this list as
 * sources with a receiver: their own config section, a signature check over the raw body (JSON
 * parsing is per route, so a webhook route gets the exact bytes: src/http/middleware/json_body.ts)
 * and a mapping of their events onto the incident flows (open, update, close).
 */
export interface IncidentSource {
  /** Stored as the incident's `source`; unique. */
  readonly name: string;
  readonly description: string;
  /** How its requests are authenticated: an operator token (api, cli's store access), later a webhook signature. */
  readonly authenticatedBy: 'operator' | 'store_access';
}

export const incidentSources = [
  { name: 'api', description: 'an operator, over POST /v1/incidents', authenticatedBy: 'operator' },
  { name: 'cli', description: 'an operator with the CLI, on the store the config names', authenticatedBy: 'store_access' },
] as const satisfies readonly IncidentSource[];

export type IncidentSourceName = (typeof incidentSources)[number]['name'];
