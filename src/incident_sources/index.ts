/**
 * The explicit list of the places an incident can come from (like providers/index.ts): an
 * incident's `source` is one of these names, and nothing registers itself by being imported.
 *
 * Incidents are opened, changed and closed by operators, through the API or the CLI, and by the
 * incident tools (PagerDuty, incident.io, a generic signed webhook) through src/webhooks/: their
 * own config section, a signature check over the raw body and a mapping of their events onto the
 * incident flows (open, update, close; docs/incidents.md).
 */
export interface IncidentSource {
  /** Stored as the incident's `source`; unique. */
  readonly name: string;
  readonly description: string;
  /** How its requests are authenticated: an operator token (api, cli's store access), later a webhook signature. */
  readonly authenticatedBy: 'operator' | 'store_access' | 'webhook_signature';
}

export const incidentSources = [
  { name: 'api', description: 'an operator, over POST /v1/incidents', authenticatedBy: 'operator' },
  { name: 'cli', description: 'an operator with the CLI, on the store the config names', authenticatedBy: 'store_access' },
  { name: 'pagerduty', description: 'PagerDuty v3 webhooks, POST /v1/webhooks/pagerduty', authenticatedBy: 'webhook_signature' },
  {
    name: 'incidentio',
    description: 'incident.io webhooks (Standard Webhooks), POST /v1/webhooks/incidentio',
    authenticatedBy: 'webhook_signature',
  },
  { name: 'generic', description: 'any sender signing Standard Webhooks, POST /v1/webhooks/generic', authenticatedBy: 'webhook_signature' },
] as const satisfies readonly IncidentSource[];

export type IncidentSourceName = (typeof incidentSources)[number]['name'];
