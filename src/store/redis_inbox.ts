/**
 * The webhook inbox on Redis (store.ts WebhookInbox), all in the `{whk}` slot: deliveries in a
 * hash, their due times (or lease ends) in a sorted set, delivery counts in a hash, and the dedupe
 * keys in generation hashes that expire, as the audit's do (redis_audit.ts). Recording is one
 * script: the dedupe check and the write cannot be split by a crash or another replica.
 */
import { requireFinite } from './redis_codec.js';
import type { RedisContext } from './redis_context.js';
import type { InboxDelivery, WebhookInbox } from './store.js';

/** The inbox member of a delivery, and the dedupe key of its event: one namespace per source. */
const deliveryKey = (source: string, deliveryId: string): string => `${source}\n${deliveryId}`;
const eventKey = (source: string, eventId: string): string => `${source}\nevent\n${eventId}`;

export function createRedisInbox(ctx: RedisContext): WebhookInbox {
  const { redis, keys, s } = ctx;
  return {
    async recordDelivery(delivery, options) {
      const dedupeMs = Math.max(1, Math.floor(options.dedupeMs));
      const now = requireFinite(options.now, 'now');
      const generation = Math.floor(now / dedupeMs);
      const reply = await s.qmRecordDelivery(
        keys.inboxItems,
        keys.inboxDue,
        keys.inboxSeen(dedupeMs, generation),
        keys.inboxSeen(dedupeMs, generation - 1),
        deliveryKey(delivery.source, delivery.deliveryId),
        delivery.eventId === undefined ? '' : eventKey(delivery.source, delivery.eventId),
        JSON.stringify(delivery),
        now,
        Math.max(1, (generation + 2) * dedupeMs - now),
      );
      return reply === 'recorded' ? 'recorded' : 'duplicate';
    },

    async claimDeliveries(now, max, leaseMs) {
      if (max <= 0) return [];
      const flat = (await s.qmClaimDeliveries(
        keys.inboxItems,
        keys.inboxDue,
        keys.inboxAttempts,
        requireFinite(now, 'now'),
        max,
        now + requireFinite(leaseMs, 'leaseMs'),
      )) as Array<string | number>;
      const claims = [];
      for (let i = 0; i + 2 < flat.length; i += 3) {
        claims.push({ delivery: JSON.parse(String(flat[i + 1])) as InboxDelivery, attempt: Number(flat[i + 2]) });
      }
      return claims;
    },

    async finishDelivery(source, deliveryId) {
      const key = deliveryKey(source, deliveryId);
      await redis.multi().hdel(keys.inboxItems, key).zrem(keys.inboxDue, key).hdel(keys.inboxAttempts, key).exec();
    },

    async retryDelivery(source, deliveryId, dueAt) {
      await redis.zadd(keys.inboxDue, 'XX', requireFinite(dueAt, 'dueAt'), deliveryKey(source, deliveryId));
    },

    async inboxDepth() {
      return redis.hlen(keys.inboxItems);
    },
  };
}
