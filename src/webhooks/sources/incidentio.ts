/**
 * incident.io webhooks (https://api-docs.incident.io/tag/Webhooks; each payload is the example of
 * its `/x-webhooks/<event type>` entry in incident.io's OpenAPI document, as published in
 * github.com/incident-io/sdk-python openapi.json). They are sent through Svix, signed as Standard
 * Webhooks (`webhook-id`, `webhook-timestamp`, `webhook-signature` headers: ../signatures.ts). The
 * body names its type and carries the object under that same key:
 *
 *   { "event_type": "public_incident.incident_status_updated_v2",
 *     "public_incident.incident_status_updated_v2": { "incident": {…}, "previous_status": {…}, "new_status": {…} } }
 *
 * An incident's status has a `category`, which is what decides (names are each organisation's own;
 * https://docs.incident.io/api-reference/incident-statuses-v1, https://docs.incident.io/incidents/lifecycle):
 *   open:     triage, live ("Active" in the app: Investigating, Fixing, Monitoring…), paused
 *   finished: learning ("Post-incident": the immediate impact is over), closed, declined (triage refused),
 *             merged (into another incident, which goes on under its own id), canceled
 * The broker's emergency access ends with the impact, so every finished category is `resolved`, the
 * post-incident stage included.
 *
 * Event type → kind:
 *   public_incident.incident_created_v2          → triggered (ignored if created already finished)
 *   public_incident.incident_status_updated_v2   → by previous → new category:
 *       triage → live/paused                        acknowledged (someone accepted it out of triage)
 *       open → finished                             resolved
 *       finished → open                             reopened
 *       finished → finished (learning → closed)     resolved (again; closing a closed incident is a no-op)
 *       any other (live → live, live ↔ paused…)      updated
 *   public_incident.incident_updated_v2          → updated while open, resolved once finished (no
 *                                                   previous status: it cannot tell a reopen)
 *   private_incident.incident_created_v2 / _updated_v2 → triggered / updated; these carry only the
 *       incident's id (no title, severity, status or time), so they map only when the caller passes
 *       the delivery's verified `webhook-timestamp`, else they are ignored with that reason
 *   every other type (follow-ups, actions, postmortems, memberships, alerts, escalations, schedules)
 *                                                → ignored
 * Incidents whose `mode` is retrospective, test or tutorial are not real incidents: ignored.
 * An unknown status category (the documented list has grown before, e.g. `paused`) is treated as open
 * but never acknowledges or reopens: a change into it is `updated`; out of it, `resolved` if into a
 * finished category, else `updated`.
 *
 * Severity, by name: Critical → sev1, Major → sev2, Minor → sev3 (incident.io's usual three; the docs'
 * examples show Minor, rank 1), and names like "SEV1", "Sev 2", "P3" → that number. Not by `rank`: a
 * rank only orders one organisation's severities ("lower numbers are less severe") without saying how
 * many there are, so rank 1 is Minor among three and sev5-like among five. Any other name leaves the
 * severity absent.
 *
 * `occurredAt` is the incident's `updated_at` (see IncidentEvent.occurredAt for why not the
 * envelope's timestamp); `sourceStatus` is the status's name; `url` its `permalink`.
 */
import { z } from 'zod';
import type { Severity } from '../../model.js';
import { ignored, mapped, type IncidentEventKind, type MappedEvent } from './event.js';
import { httpUrl, optional, parsePayload, rfc3339, sourceIncidentId } from './parse.js';

/** What the webhook route knows of the delivery besides its body. */
export interface IncidentIoDelivery {
  /** The verified `webhook-timestamp` header, in ms since the epoch: when this delivery attempt was signed. */
  readonly attemptedAt: number;
}

const CREATED = 'public_incident.incident_created_v2';
const UPDATED = 'public_incident.incident_updated_v2';
const STATUS_UPDATED = 'public_incident.incident_status_updated_v2';
const PRIVATE_CREATED = 'private_incident.incident_created_v2';
const PRIVATE_UPDATED = 'private_incident.incident_updated_v2';

const OPEN_CATEGORIES: ReadonlySet<string> = new Set(['triage', 'live', 'paused']);
const FINISHED_CATEGORIES: ReadonlySet<string> = new Set(['learning', 'closed', 'declined', 'merged', 'canceled']);
const NOT_REAL_MODES: ReadonlySet<string> = new Set(['retrospective', 'test', 'tutorial']);

/** Documented event types the broker has nothing to do for, by prefix of the part after the visibility. */
const IGNORED_SUBJECTS: readonly (readonly [string, string])[] = [
  ['follow_up_', "an incident's follow-up changed"],
  ['action_', "an incident's action changed"],
  ['postmortem_document_', "an incident's postmortem changed"],
  ['membership_', "someone's access to a private incident changed"],
];

const status = z.object({ name: z.string(), category: z.string().min(1) });

const incident = z.object({
  id: sourceIncidentId,
  name: z.string(),
  incident_status: status,
  severity: z.object({ name: z.string() }).nullish(),
  permalink: httpUrl.nullish(),
  mode: z.string().nullish(),
  updated_at: rfc3339,
});
type Incident = z.output<typeof incident>;

const envelope = z.object({ event_type: z.string().min(1) });
const body = <S extends z.ZodType>(eventType: string, schema: S) => z.object({ [eventType]: schema });
const statusChange = z.object({ incident, previous_status: status, new_status: status });
const privateIncident = z.object({ id: sourceIncidentId });

const NAMED_SEVERITIES: ReadonlyMap<string, Severity> = new Map([
  ['critical', 'sev1'],
  ['major', 'sev2'],
  ['minor', 'sev3'],
]);
const NUMBERED_SEVERITY = /^(?:sev|p)[\s_-]?([1-5])$/iu;

/** The mapping stated at the top of this file. */
export function incidentIoSeverity(name: string | undefined): Severity | undefined {
  if (name === undefined) return undefined;
  const key = name.trim().toLowerCase();
  const named = NAMED_SEVERITIES.get(key);
  if (named !== undefined) return named;
  const digit = NUMBERED_SEVERITY.exec(key)?.[1];
  return digit === undefined ? undefined : (`sev${digit}` as Severity);
}

const isFinished = (category: string): boolean => FINISHED_CATEGORIES.has(category);

function statusChangeKind(previous: string, next: string): IncidentEventKind {
  if (isFinished(next)) return 'resolved';
  if (!OPEN_CATEGORIES.has(next)) return 'updated'; // an unknown category: open, but it neither reopens nor acknowledges
  if (isFinished(previous)) return 'reopened';
  if (previous === 'triage' && next !== 'triage') return 'acknowledged';
  return 'updated';
}

function incidentEvent(found: Incident, kind: IncidentEventKind, sourceStatus: string): MappedEvent {
  return mapped({
    source: 'incidentio',
    sourceIncidentId: found.id,
    kind,
    occurredAt: found.updated_at,
    title: found.name,
    ...optional('severity', incidentIoSeverity(found.severity?.name)),
    sourceStatus,
    ...optional('url', found.permalink),
  });
}

const notReal = (eventType: string, found: Incident): MappedEvent | undefined =>
  found.mode !== null && found.mode !== undefined && NOT_REAL_MODES.has(found.mode)
    ? ignored(`${eventType}: a ${found.mode} incident, not a real one`)
    : undefined;

function mapPrivate(eventType: string, payload: unknown, kind: IncidentEventKind, delivery: IncidentIoDelivery | undefined): MappedEvent {
  const { id } = parsePayload(body(eventType, privateIncident), payload)[eventType] as z.output<typeof privateIncident>;
  if (delivery === undefined) {
    return ignored(
      `${eventType}: a private incident's event carries only its id and no time; map it with the delivery's webhook-timestamp`,
    );
  }
  return mapped({ source: 'incidentio', sourceIncidentId: id, kind, occurredAt: delivery.attemptedAt });
}

function ignoredType(eventType: string): MappedEvent {
  const dot = eventType.indexOf('.');
  const [scope, subject] = dot < 0 ? ['', eventType] : [eventType.slice(0, dot), eventType.slice(dot + 1)];
  if (scope === 'public_incident' || scope === 'private_incident') {
    const known = IGNORED_SUBJECTS.find(([prefix]) => subject.startsWith(prefix));
    return ignored(`${eventType}: ${known?.[1] ?? 'an incident event type the broker does not map'}`);
  }
  return ignored(`${eventType}: not an incident event`);
}

/**
 * Maps one incident.io delivery. `delivery` is needed only for private incidents' events (their
 * bodies carry no time); without it they are ignored.
 */
export function mapIncidentIoEvent(payload: unknown, delivery?: IncidentIoDelivery): MappedEvent {
  const eventType = parsePayload(envelope, payload).event_type;
  switch (eventType) {
    case CREATED: {
      const found = parsePayload(body(eventType, incident), payload)[eventType] as Incident;
      const category = found.incident_status.category;
      if (isFinished(category)) return ignored(`${eventType}: created already finished (${category})`);
      return notReal(eventType, found) ?? incidentEvent(found, 'triggered', found.incident_status.name);
    }
    case UPDATED: {
      const found = parsePayload(body(eventType, incident), payload)[eventType] as Incident;
      const kind = isFinished(found.incident_status.category) ? 'resolved' : 'updated';
      return notReal(eventType, found) ?? incidentEvent(found, kind, found.incident_status.name);
    }
    case STATUS_UPDATED: {
      const change = parsePayload(body(eventType, statusChange), payload)[eventType] as z.output<typeof statusChange>;
      const kind = statusChangeKind(change.previous_status.category, change.new_status.category);
      return notReal(eventType, change.incident) ?? incidentEvent(change.incident, kind, change.new_status.name);
    }
    case PRIVATE_CREATED:
      return mapPrivate(eventType, payload, 'triggered', delivery);
    case PRIVATE_UPDATED:
      return mapPrivate(eventType, payload, 'updated', delivery);
    default:
      return ignoredType(eventType);
  }
}
