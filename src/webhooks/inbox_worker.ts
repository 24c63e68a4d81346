/**
 * Drains the webhook inbox (store WebhookInbox): every broker's revocation worker claims due
 * deliveries under a lease, applies each (apply_event.ts), and finishes it; a delivery whose apply
 * failed (the store away, a conflict that would not settle) is retried with the revocation
 * backoff, and one whose broker died is claimed again when its lease ends. Applying is idempotent,
 * so a delivery applied twice changes nothing the second time.
 */
import type { DomainDeps } from '../domain.js';
import { describeCause } from '../errors.js';
import { backoffDelayMs } from '../revocation/backoff.js';
import { applySignal } from '../deviation/apply_signal.js';
import { SIGNAL_QUEUE_PREFIX, type Signal } from '../deviation/signal.js';
import { applyIncidentEvent } from './apply_event.js';
import type { IncidentEvent, WebhookSourceName } from './sources/event.js';

/** Deliveries claimed per pass; a full batch means more are due and the worker comes back at once. */
export const INBOX_BATCH = 32;
/** A claimed delivery's lease: far longer than one apply (a few store calls), short enough for a quick takeover. */
const INBOX_LEASE_MS = 10_000;

export async function processInbox(deps: DomainDeps): Promise<number> {
  const claims = await deps.store.claimDeliveries(deps.now(), INBOX_BATCH, INBOX_LEASE_MS);
  for (const claim of claims) {
    const { delivery, attempt } = claim;
    // The same durable queue carries the revocation SETs out (events/revocation_events.ts).
    if (deps.revocationEvents?.owns(delivery.source)) {
      await deps.revocationEvents.deliver(claim);
      continue;
    }
    const event = delivery.event as unknown as IncidentEvent;
    const source = delivery.source as WebhookSourceName;
    // And the deviation signals in (deviation/signal.ts), applied the same way.
    const isSignal = delivery.source.startsWith(SIGNAL_QUEUE_PREFIX);
    try {
      if (isSignal) {
        await applySignal(deps, delivery.event as unknown as Signal);
        await deps.store.finishDelivery(delivery.source, delivery.deliveryId);
        continue;
      }
      const outcome = await applyIncidentEvent(deps, event, {
        deliveryId: delivery.deliveryId,
        defaultSeverity: deps.config.webhooks.defaultSeverity,
      });
      deps.metrics.webhookEvents.inc({ source, outcome });
      deps.logger.info(
        { source, deliveryId: delivery.deliveryId, sourceIncidentId: event.sourceIncidentId, kind: event.kind, outcome },
        'webhook event applied',
      );
      await deps.store.finishDelivery(delivery.source, delivery.deliveryId);
    } catch (err) {
      if (!isSignal) deps.metrics.webhookEvents.inc({ source, outcome: 'failed' });
      deps.logger.warn(
        { source, deliveryId: delivery.deliveryId, attempt, err: describeCause(err) },
        isSignal ? 'deviation signal not applied; will retry' : 'webhook event not applied; will retry',
      );
      const { backoffInitialMs, backoffMaxMs } = deps.config.revocation;
      await deps.store
        .retryDelivery(delivery.source, delivery.deliveryId, deps.now() + backoffDelayMs(attempt, backoffInitialMs, backoffMaxMs))
        .catch(() => undefined); // the lease ends on its own; the delivery comes back then
    }
  }
  return claims.length;
}
