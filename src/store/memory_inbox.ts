/** The webhook inbox in memory (store.ts WebhookInbox): deliveries by key, their due times, dedupe keys with their expiry. */
import { copy } from './memory_state.js';
import type { InboxClaim, InboxDelivery, WebhookInbox } from './store.js';

const deliveryKey = (source: string, deliveryId: string): string => `${source}\n${deliveryId}`;
const eventKey = (source: string, eventId: string): string => `${source}\nevent\n${eventId}`;

export function createMemoryInbox(): WebhookInbox {
  const items = new Map<string, { delivery: InboxDelivery; dueAt: number; attempts: number; seq: number }>();
  /** Dedupe key → until when it is remembered. Swept on every record. */
  const seen = new Map<string, number>();
  let seq = 0;
  return {
    async recordDelivery(delivery, { dedupeMs, now }) {
      for (const [key, until] of seen) if (until <= now) seen.delete(key);
      const keys = [deliveryKey(delivery.source, delivery.deliveryId)];
      if (delivery.eventId !== undefined) keys.push(eventKey(delivery.source, delivery.eventId));
      if (keys.some((k) => seen.has(k))) return 'duplicate';
      for (const k of keys) seen.set(k, now + dedupeMs);
      items.set(keys[0] as string, { delivery: copy(delivery), dueAt: now, attempts: 0, seq: ++seq });
      return 'recorded';
    },
    async claimDeliveries(now, max, leaseMs) {
      const due = [...items.values()]
        .filter((i) => i.dueAt <= now)
        .sort((a, b) => a.dueAt - b.dueAt || a.seq - b.seq)
        .slice(0, Math.max(0, max));
      return due.map((item): InboxClaim => {
        item.dueAt = now + leaseMs;
        item.attempts += 1;
        return { delivery: copy(item.delivery), attempt: item.attempts };
      });
    },
    async finishDelivery(source, deliveryId) {
      items.delete(deliveryKey(source, deliveryId));
    },
    async retryDelivery(source, deliveryId, dueAt) {
      const item = items.get(deliveryKey(source, deliveryId));
      if (item) item.dueAt = dueAt;
    },
    async inboxDepth() {
      return items.size;
    },
  };
}
