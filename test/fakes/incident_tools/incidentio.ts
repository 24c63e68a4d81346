/**
 * A fake of incident.io's "Incidents V2 Show"
 * (https://api-docs.incident.io/tag/Incidents-V2#operation/Incidents%20V2_Show): `GET /v2/incidents/{id}`
 * with `Authorization: Bearer <token>`, answering incident.io's sample incident (./samples.ts) with
 * the id and a status of the given category, or incident.io's error documents
 * (https://docs.incident.io/api-reference/introduction).
 */
import { incidentIoError, incidentIoSample } from './samples.js';
import { startFakeServer, type IncidentToolFake } from './server.js';

/** incident.io's status categories (IncidentStatusV2.category); any other string is sent as it is. */
export type IncidentIoCategory = 'triage' | 'live' | 'paused' | 'learning' | 'closed' | 'declined' | 'merged' | 'canceled' | (string & {});

export const INCIDENTIO_CATEGORIES = ['triage', 'live', 'paused', 'learning', 'closed', 'declined', 'merged', 'canceled'] as const;

export interface IncidentIoIncidentExtra {
  /** The status's name (each organisation names its own); default: incident.io's usual name for the category. */
  readonly statusName?: string;
  /** Set on the incident object last, over everything else (`{ id: 'OTHER' }`, `{ incident_status: null }`). */
  readonly fields?: Readonly<Record<string, unknown>>;
}

interface Entry {
  readonly category: string;
  readonly extra: IncidentIoIncidentExtra;
}

export type IncidentIoFake = IncidentToolFake<IncidentIoCategory, IncidentIoIncidentExtra>;

/** The names incident.io gives its built-in statuses; live is "Investigating" or an organisation's own, learning is "Post-incident". */
const DEFAULT_NAMES: Readonly<Record<string, string>> = {
  triage: 'Triage',
  live: 'Investigating',
  paused: 'Paused',
  learning: 'Post-incident',
  closed: 'Closed',
  declined: 'Declined',
  merged: 'Merged',
  canceled: 'Canceled',
};

export async function startIncidentIoFake(options: { readonly token?: string } = {}): Promise<IncidentIoFake> {
  const server = await startFakeServer<Entry>(
    {
      prefix: '/v2/incidents',
      tokenPrefix: 'inc_fake_',
      authorization: (token) => `Bearer ${token}`,
      render: (id, { category, extra }) => {
        const answer = incidentIoSample();
        const incident = answer['incident'] as Record<string, unknown>;
        const status = incident['incident_status'] as Record<string, unknown>;
        Object.assign(status, { category, name: extra.statusName ?? DEFAULT_NAMES[category] ?? category });
        Object.assign(incident, { id, ...extra.fields });
        return answer;
      },
      error: (status, errorOptions) => incidentIoError(status, errorOptions),
    },
    options.token,
  );
  return {
    ...server,
    setIncident: (id, category, extra = {}) => void server.incidents.set(id, { category, extra }),
    removeIncident: (id) => void server.incidents.delete(id),
  };
}
