/**
 * PagerDuty v3 webhooks (https://developer.pagerduty.com/docs/webhooks/v3-overview/, source
 * github.com/PagerDuty/developer-docs docs/webhooks/01-Overview.md): one event per delivery,
 *
 *   { "event": { "id", "event_type", "resource_type", "occurred_at", "agent", "client", "data": {…} } }
 *
 * where `data` depends on `event_type` (`data.type` is `incident`, `incident_note`, `incident_responder`…).
 *
 * Event type → kind (every type of the documented list is named here; a type PagerDuty adds later is
 * ignored with a reason until it is mapped):
 *
 *   incident.triggered                     → triggered
 *   incident.acknowledged                  → acknowledged
 *   incident.unacknowledged                → updated   (back to "triggered" at PagerDuty; still open, not reopened)
 *   incident.escalated, .delegated,
 *   .reassigned, .priority_updated,
 *   .service_updated, .incident_type.changed → updated (data is the incident: title, priority, urgency)
 *   incident.responder.added               → updated   (data is an incident_responder: only the incident's id, summary, link)
 *   incident.resolved                      → resolved
 *   incident.reopened                      → reopened
 *   incident.annotated, .status_update_published, .responder.replied, .conference_bridge.updated,
 *   .custom_field_values.updated, .role.assigned, .task.*, .action_invocation.*, .workflow.*,
 *   pagey.ping, service.*                  → ignored   (nothing about the incident's life or severity)
 *
 * Severity: `data.priority.summary` P1…P5 → sev1…sev5 when present (P1 is PagerDuty's most urgent);
 * otherwise `data.urgency` high → sev2, low → sev4 (urgency is only two-valued, so it lands in the
 * middle of each half rather than claiming sev1 or sev5). An account's custom priority names (not
 * P1…P5) fall back to urgency.
 *
 * Only what is read is validated (the objects are not strict: PagerDuty adds fields); `event.id`,
 * `event.occurred_at` and the incident's id are required for every mapped event, not for ignored ones.
 */
import { z } from 'zod';
import { SEVERITIES, type Severity } from '../../model.js';
import { ignored, mapped, type IncidentEventKind, type MappedEvent } from './event.js';
import { httpUrl, optional, parsePayload, rfc3339, sourceIncidentId } from './parse.js';

/** Event types whose `data` is the incident itself. */
const INCIDENT_EVENTS: ReadonlyMap<string, IncidentEventKind> = new Map([
  ['incident.triggered', 'triggered'],
  ['incident.acknowledged', 'acknowledged'],
  ['incident.unacknowledged', 'updated'],
  ['incident.escalated', 'updated'],
  ['incident.delegated', 'updated'],
  ['incident.reassigned', 'updated'],
  ['incident.priority_updated', 'updated'],
  ['incident.service_updated', 'updated'],
  ['incident.incident_type.changed', 'updated'],
  ['incident.resolved', 'resolved'],
  ['incident.reopened', 'reopened'],
]);

/** Event types whose `data` is an `incident_responder`, carrying an incident reference. */
const RESPONDER_EVENTS: ReadonlyMap<string, IncidentEventKind> = new Map([['incident.responder.added', 'updated']]);

/** Documented event types the broker has nothing to do for, with why. */
const IGNORED_EVENTS: ReadonlyMap<string, string> = new Map([
  ['pagey.ping', 'a PagerDuty test delivery (pagey.ping)'],
  ['incident.annotated', 'a note was added to the incident'],
  ['incident.status_update_published', 'a status update message was published; the incident did not change'],
  ['incident.responder.replied', 'a responder replied to a request; the incident did not change'],
  ['incident.conference_bridge.updated', 'the conference bridge changed'],
  ['incident.custom_field_values.updated', 'custom field values changed'],
  ['incident.role.assigned', 'an incident role was assigned'],
  ['incident.task.created', 'an incident task changed'],
  ['incident.task.updated', 'an incident task changed'],
  ['incident.task.completed', 'an incident task changed'],
  ['incident.action_invocation.created', 'an automation action invocation changed'],
  ['incident.action_invocation.updated', 'an automation action invocation changed'],
  ['incident.action_invocation.terminated', 'an automation action invocation changed'],
  ['incident.workflow.started', 'an incident workflow ran'],
  ['incident.workflow.completed', 'an incident workflow ran'],
]);

const envelope = z.object({ event: z.object({ event_type: z.string().min(1) }) });

const eventFields = { id: z.string().min(1).max(256), occurred_at: rfc3339 };

const incidentEvent = z.object({
  event: z.object({
    ...eventFields,
    data: z.object({
      id: sourceIncidentId,
      type: z.literal('incident'),
      title: z.string().nullish(),
      status: z.string().nullish(),
      html_url: httpUrl.nullish(),
      priority: z.object({ summary: z.string().nullish() }).nullish(),
      urgency: z.string().nullish(),
    }),
  }),
});

const responderEvent = z.object({
  event: z.object({
    ...eventFields,
    data: z.object({
      type: z.literal('incident_responder'),
      incident: z.object({ id: sourceIncidentId, summary: z.string().nullish(), html_url: httpUrl.nullish() }),
    }),
  }),
});

const PRIORITY = /^P([1-5])$/iu;

/** The mapping stated at the top of this file. */
export function pagerDutySeverity(priority: string | null | undefined, urgency: string | null | undefined): Severity | undefined {
  const digit = PRIORITY.exec(priority?.trim() ?? '')?.[1];
  if (digit !== undefined) return SEVERITIES[Number(digit) - 1];
  if (urgency === 'high') return 'sev2';
  if (urgency === 'low') return 'sev4';
  return undefined;
}

export function mapPagerDutyEvent(payload: unknown): MappedEvent {
  const eventType = parsePayload(envelope, payload).event.event_type;

  const incidentKind = INCIDENT_EVENTS.get(eventType);
  if (incidentKind !== undefined) {
    const { event } = parsePayload(incidentEvent, payload);
    const { data } = event;
    return mapped({
      source: 'pagerduty',
      sourceIncidentId: data.id,
      kind: incidentKind,
      eventId: event.id,
      occurredAt: event.occurred_at,
      ...optional('title', data.title),
      ...optional('severity', pagerDutySeverity(data.priority?.summary, data.urgency)),
      ...optional('sourceStatus', data.status),
      ...optional('url', data.html_url),
    });
  }

  const responderKind = RESPONDER_EVENTS.get(eventType);
  if (responderKind !== undefined) {
    const { event } = parsePayload(responderEvent, payload);
    const { incident } = event.data;
    return mapped({
      source: 'pagerduty',
      sourceIncidentId: incident.id,
      kind: responderKind,
      eventId: event.id,
      occurredAt: event.occurred_at,
      ...optional('title', incident.summary),
      ...optional('url', incident.html_url),
    });
  }

  const reason = IGNORED_EVENTS.get(eventType);
  if (reason !== undefined) return ignored(`${eventType}: ${reason}`);
  if (eventType.startsWith('incident.')) return ignored(`${eventType}: an incident event type the broker does not map`);
  return ignored(`${eventType}: not an incident event`);
}
