/**
 * The one shape every incident-tool webhook is mapped to, whatever sent it (PagerDuty v3, incident.io,
 * the generic sender). The mappers (pagerduty.ts, incidentio.ts, generic.ts) are pure: parsed JSON in,
 * a MappedEvent or a WebhookPayloadError out. Signatures are checked before them (../signatures.ts) and
 * the inbox stores what they return; neither is their concern.
 */
import type { Severity } from '../../model.js';

export type WebhookSourceName = 'pagerduty' | 'incidentio' | 'generic';

export type IncidentEventKind = 'triggered' | 'acknowledged' | 'updated' | 'resolved' | 'reopened';

/** Every kind, in lifecycle order: for schemas (the generic payload) and docs. */
export const INCIDENT_EVENT_KINDS = [
  'triggered',
  'acknowledged',
  'updated',
  'resolved',
  'reopened',
] as const satisfies readonly IncidentEventKind[];

/** One incident change, normalized from any source. */
export interface IncidentEvent {
  readonly source: WebhookSourceName;
  /** The incident's id at its source (PagerDuty incident id like "Q1ABC2DEF3GH", incident.io incident id "01G..."). */
  readonly sourceIncidentId: string;
  readonly kind: IncidentEventKind;
  /** The source's own id of this event when it has one (PagerDuty `event.id`); dedupe uses it besides the delivery id. */
  readonly eventId?: string;
  /**
   * When it happened at the source, ms since epoch. PagerDuty: `event.occurred_at`. incident.io: the
   * incident's `updated_at`, because its body carries no event time and the signed `webhook-timestamp`
   * is the time of the delivery attempt, renewed on every retry (Standard Webhooks, "Webhook metadata"),
   * so only `updated_at` orders a late retry correctly against newer changes. Private incident.io
   * events carry only an id: for those it is the delivery's `webhook-timestamp` (incidentio.ts).
   * Generic: its `occurred_at`.
   */
  readonly occurredAt: number;
  readonly title?: string;
  /** The source's severity or priority mapped onto sev1 (worst) … sev5. Absent when the payload carries none. */
  readonly severity?: Severity;
  /** The source's own status word, kept for the audit (e.g. "resolved", "triggered", "Closed"). */
  readonly sourceStatus?: string;
  /** A human-readable link to the incident at its source, if the payload has one (html_url / permalink). */
  readonly url?: string;
}

export type MappedEvent =
  | { readonly kind: 'event'; readonly event: IncidentEvent }
  /** A valid delivery the broker has nothing to do for (a note added, a ping/test event, an unrelated resource): accepted and ignored. */
  | { readonly kind: 'ignored'; readonly reason: string };

/**
 * The payload is not what the source sends (missing id, wrong types): the webhook answers 400
 * ERR_WEBHOOK_PAYLOAD. `path` names the field, its segments joined by dots as in every other
 * validation error of the broker (`event.data.id`); it is empty when the payload itself is wrong
 * (not a JSON object). `message` starts with the path and is safe to show the sender.
 */
export class WebhookPayloadError extends Error {
  override readonly name = 'WebhookPayloadError';
  constructor(
    readonly path: string,
    message: string,
  ) {
    super(message);
  }
}

export const ignored = (reason: string): MappedEvent => ({ kind: 'ignored', reason });
export const mapped = (event: IncidentEvent): MappedEvent => ({ kind: 'event', event });
