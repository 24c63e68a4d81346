/**
 * The generic incident webhook: for a tool without its own mapping, or a script. Signed as
 * Standard Webhooks (`webhook-id`, `webhook-timestamp`, `webhook-signature`: ../signatures.ts), the
 * `webhook-id` being the event's id for dedupe. Its body is exactly `genericWebhookPayload`.
 */
import { z } from 'zod';
import { hasUnsafeCharacters } from '../../logging.js';
import { SEVERITIES } from '../../model.js';
import { INCIDENT_EVENT_KINDS, mapped, type MappedEvent } from './event.js';
import { httpUrl, optional, parsePayload, rfc3339, sourceIncidentId } from './parse.js';

/**
 * The generic webhook's JSON body. A strict object: an unknown field is refused (400
 * ERR_WEBHOOK_PAYLOAD naming it), so a typo never passes silently.
 *
 * | field         | required | type                                                                       |
 * | ------------- | -------- | -------------------------------------------------------------------------- |
 * | `incident_id` | yes      | the incident's id in the sending tool: 1-128 of `A-Z a-z 0-9 . _ : -`, starting with a letter or digit |
 * | `event`       | yes      | `triggered`, `acknowledged`, `updated`, `resolved` or `reopened`          |
 * | `occurred_at` | yes      | when it happened, RFC 3339 with a time zone: `2024-05-01T12:00:00Z`, `2024-05-01T14:00:00.250+02:00` |
 * | `title`       | no       | 1-500 characters, no control or format characters                         |
 * | `severity`    | no       | `sev1` (worst) … `sev5`                                                    |
 * | `url`         | no       | an http(s) link to the incident in the sending tool                       |
 *
 * ```json
 * {
 *   "incident_id": "checkout-latency-2024-05-01",
 *   "event": "triggered",
 *   "occurred_at": "2024-05-01T12:00:00Z",
 *   "title": "Checkout API p99 latency above 2s",
 *   "severity": "sev2",
 *   "url": "https://status.example.com/incidents/checkout-latency-2024-05-01"
 * }
 * ```
 */
export const genericWebhookPayload = z
  .object({
    incident_id: sourceIncidentId,
    event: z.enum(INCIDENT_EVENT_KINDS),
    occurred_at: rfc3339,
    title: z
      .string()
      .min(1)
      .max(500)
      .refine((text) => !hasUnsafeCharacters(text), 'must not contain control or format characters')
      .optional(),
    severity: z.enum(SEVERITIES).optional(),
    url: httpUrl.optional(),
  })
  .strict();

export type GenericWebhookPayload = z.input<typeof genericWebhookPayload>;

/** Every valid generic delivery is an event: the sender chose to send it. */
export function mapGenericEvent(payload: unknown): MappedEvent {
  const body = parsePayload(genericWebhookPayload, payload);
  return mapped({
    source: 'generic',
    sourceIncidentId: body.incident_id,
    kind: body.event,
    occurredAt: body.occurred_at,
    ...optional('title', body.title),
    ...optional('severity', body.severity),
    ...optional('url', body.url),
  });
}
