/**
 * Receiving a webhook (docs/incidents.md): the exact raw body, capped before anything reads it
 * (the route), its signature checked over those bytes (signatures.ts), then strict JSON (no
 * duplicate member names), the source's mapping onto one incident event (sources/), and the
 * delivery recorded in the durable inbox (store WebhookInbox) — deduplicated on the delivery id,
 * and for PagerDuty on the event id too. Only then does the sender get its 2xx; the event is
 * applied afterwards by whichever replica's worker claims it (apply_event.ts), so a broker that
 * dies after answering loses nothing.
 */
import type { Config } from '../config/schema.js';
import { BrokerError } from '../errors.js';
import { readSecretText } from '../secret_files.js';
import type { Store } from '../store/store.js';
import { DuplicateMemberError, parseStrictJson } from '../strict_json.js';
import { WebhookPayloadError, type IncidentEvent, type MappedEvent, type WebhookSourceName } from './sources/event.js';
import { mapGenericEvent } from './sources/generic.js';
import { mapIncidentIoEvent } from './sources/incidentio.js';
import { mapPagerDutyEvent } from './sources/pagerduty.js';
import { malformed, standardWebhookKey, verifyPagerDutySignature, verifyStandardWebhook } from './signatures.js';

export const WEBHOOK_SOURCES = ['pagerduty', 'incidentio', 'generic'] as const satisfies readonly WebhookSourceName[];

const SOURCE_INCIDENT_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/u;

/** The configured sources, with their secrets read from their files once at start. */
export interface WebhookReceivers {
  has(source: string): source is WebhookSourceName;
  receive(source: WebhookSourceName, body: Buffer, headers: Readonly<Record<string, string | undefined>>): Promise<WebhookReceipt>;
}

export type WebhookReceipt =
  | { readonly status: 'recorded' | 'duplicate'; readonly deliveryId: string; readonly event: IncidentEvent }
  | { readonly status: 'ignored'; readonly deliveryId: string; readonly reason: string };

/** `attemptedAt`: the verified webhook-timestamp (ms), the only time a private incident.io event has. */
const MAPPERS: Record<WebhookSourceName, (payload: unknown, attemptedAt: number | undefined) => MappedEvent> = {
  pagerduty: (payload) => mapPagerDutyEvent(payload),
  incidentio: (payload, attemptedAt) => mapIncidentIoEvent(payload, attemptedAt === undefined ? undefined : { attemptedAt }),
  generic: (payload) => mapGenericEvent(payload),
};

export const payloadRefused = (message: string): BrokerError => new BrokerError('ERR_WEBHOOK_PAYLOAD', 400, message);

/** The delivery's JSON: valid UTF-8 (the fatal decoder), one object, no duplicate member names. */
function parseBody(body: Buffer): unknown {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(body);
  } catch {
    throw payloadRefused('the body is not valid UTF-8');
  }
  try {
    return parseStrictJson(text);
  } catch (err) {
    throw payloadRefused(err instanceof DuplicateMemberError ? 'the body repeats a member name' : 'the body is not JSON');
  }
}

export async function createWebhookReceivers(
  config: Pick<Config, 'webhooks' | 'mode'>,
  deps: { readonly store: Pick<Store, 'recordDelivery'>; readonly now: () => number },
): Promise<WebhookReceivers> {
  const cfg = config.webhooks;
  const strict = config.mode !== 'development';
  const secrets = new Map<WebhookSourceName, string[]>();
  for (const source of WEBHOOK_SOURCES) {
    const section = cfg[source];
    if (!section) continue;
    const values = await Promise.all(
      section.secretFiles.map((file, i) =>
        readSecretText(file, { setting: `webhooks.${source}.secretFiles[${i}]`, strictPermissions: strict }),
      ),
    );
    secrets.set(
      source,
      values.map((v) => v.trim()),
    );
  }
  const keys = new Map<WebhookSourceName, Buffer[]>();
  for (const source of ['incidentio', 'generic'] as const) {
    const values = secrets.get(source);
    if (!values) continue;
    try {
      keys.set(source, values.map(standardWebhookKey));
    } catch {
      throw new BrokerError(
        'ERR_CONFIG',
        500,
        `webhooks.${source}.secretFiles: each file must hold a Standard Webhooks secret (whsec_ followed by base64)`,
      );
    }
  }

  /** Verifies and returns the delivery id. */
  const verify = (source: WebhookSourceName, body: Buffer, headers: Readonly<Record<string, string | undefined>>): string => {
    if (source === 'pagerduty') {
      verifyPagerDutySignature(body, headers['x-pagerduty-signature'], secrets.get(source) ?? []);
      const id = headers['x-webhook-id'];
      if (id === undefined || id === '') throw malformed('X-Webhook-Id is missing');
      return id;
    }
    return verifyStandardWebhook(
      body,
      { id: headers['webhook-id'], timestamp: headers['webhook-timestamp'], signature: headers['webhook-signature'] },
      keys.get(source) ?? [],
      deps.now(),
      cfg.toleranceSeconds,
    );
  };

  return {
    has: (source): source is WebhookSourceName => secrets.has(source as WebhookSourceName),
    async receive(source, body, headers) {
      const deliveryId = verify(source, body, headers);
      if (deliveryId.length > 256) throw malformed('the delivery id is longer than 256 characters');
      let mapped: MappedEvent;
      try {
        const stamp = headers['webhook-timestamp'];
        mapped = MAPPERS[source](parseBody(body), source === 'pagerduty' || stamp === undefined ? undefined : Number(stamp) * 1000);
      } catch (err) {
        if (err instanceof WebhookPayloadError) throw payloadRefused(`the payload is not a ${source} event: ${err.path}: ${err.message}`);
        throw err;
      }
      if (mapped.kind === 'ignored') return { status: 'ignored', deliveryId, reason: mapped.reason };
      const { event } = mapped;
      // It becomes part of the broker's incident id (`<source>:<id>`, incident ids are 128 of A-Z a-z 0-9 . _ : -).
      if (!SOURCE_INCIDENT_ID.test(event.sourceIncidentId)) {
        throw payloadRefused('the incident id is not 1-100 characters of A-Z a-z 0-9 . _ - starting with a letter or digit');
      }
      const now = deps.now();
      // PagerDuty signs no timestamp: a valid delivery replayed after the dedupe window is refused by its age.
      if (source === 'pagerduty' && now - event.occurredAt > cfg.maxEventAgeSeconds * 1000) {
        throw new BrokerError('ERR_WEBHOOK_SIGNATURE', 401, `the event happened more than ${cfg.maxEventAgeSeconds}s ago (a replay?)`);
      }
      const status = await deps.store.recordDelivery(
        { source, deliveryId, ...(event.eventId ? { eventId: event.eventId } : {}), receivedAt: now, event: { ...event } },
        { dedupeMs: cfg.dedupeSeconds * 1000, now },
      );
      return { status, deliveryId, event };
    },
  };
}
