/** The store contract for the webhook inbox (deduplicated, durable, leased deliveries) and for registers (compare-and-set). */
import { beforeEach, describe, expect, it } from 'vitest';
import type { InboxDelivery, Store } from '../../../src/store/store.js';
import { MIN, T0, type ContractWorld } from './world.js';

const DAY = 24 * 60 * MIN;

export const deliveryFixture = (deliveryId: string, overrides: Partial<InboxDelivery> = {}): InboxDelivery => ({
  source: 'pagerduty',
  deliveryId,
  receivedAt: T0,
  event: { source: 'pagerduty', sourceIncidentId: 'Q1', kind: 'resolved', occurredAt: T0 - 1000, title: 'Login 500s ✓' },
  ...overrides,
});

export function describeInboxContract(world: ContractWorld): void {
  let store!: Store;
  beforeEach(() => {
    store = world.store();
  });

  describe('webhook inbox', () => {
    it('records a delivery once per delivery id and once per event id of its source, within the dedupe time', async () => {
      const opts = { dedupeMs: DAY, now: T0 };
      expect(await store.recordDelivery(deliveryFixture('d1', { eventId: 'e1' }), opts)).toBe('recorded');
      expect(await store.recordDelivery(deliveryFixture('d1'), opts)).toBe('duplicate');
      // PagerDuty may deliver one event under a new delivery id: its event id catches it.
      expect(await store.recordDelivery(deliveryFixture('d2', { eventId: 'e1' }), opts)).toBe('duplicate');
      // Another source's same ids are its own.
      expect(await store.recordDelivery(deliveryFixture('d1', { source: 'incidentio', eventId: 'e1' }), opts)).toBe('recorded');
      expect(await store.inboxDepth()).toBe(2);
      // Past twice the dedupe time the key is forgotten.
      expect(await store.recordDelivery(deliveryFixture('d1'), { dedupeMs: DAY, now: T0 + 2 * DAY + 1 })).toBe('recorded');
    });

    it('lets exactly one of concurrent records of one delivery win', async () => {
      const results = await Promise.all(
        Array.from({ length: 8 }, () => store.recordDelivery(deliveryFixture('d-race'), { dedupeMs: DAY, now: T0 })),
      );
      expect(results.filter((r) => r === 'recorded')).toHaveLength(1);
      expect(await store.inboxDepth()).toBe(1);
    });

    it('hands deliveries out oldest first under a lease, again after the lease, and never after they finish', async () => {
      await store.recordDelivery(deliveryFixture('d1'), { dedupeMs: DAY, now: T0 });
      await store.recordDelivery(deliveryFixture('d2'), { dedupeMs: DAY, now: T0 + 1 });
      expect(await store.claimDeliveries(T0, 10, MIN)).toEqual([{ delivery: deliveryFixture('d1'), attempt: 1 }]);
      const [second] = await store.claimDeliveries(T0 + 1, 10, MIN);
      expect(second?.delivery.deliveryId).toBe('d2');
      // Under lease: not handed out.
      expect(await store.claimDeliveries(T0 + 10, 10, MIN)).toEqual([]);
      // A processor that died: after the lease both come back, counted.
      const again = await store.claimDeliveries(T0 + MIN + 1, 10, MIN);
      expect(again.map((c) => [c.delivery.deliveryId, c.attempt])).toEqual([
        ['d1', 2],
        ['d2', 2],
      ]);
      await store.finishDelivery('pagerduty', 'd1');
      await store.finishDelivery('pagerduty', 'd1');
      expect((await store.claimDeliveries(T0 + 3 * MIN, 10, MIN)).map((c) => c.delivery.deliveryId)).toEqual(['d2']);
      expect(await store.inboxDepth()).toBe(1);
    });

    it('reschedules a failed delivery, and ignores a retry of a finished one', async () => {
      await store.recordDelivery(deliveryFixture('d1'), { dedupeMs: DAY, now: T0 });
      await store.claimDeliveries(T0, 10, MIN);
      await store.retryDelivery('pagerduty', 'd1', T0 + 5000);
      expect(await store.claimDeliveries(T0 + 4999, 10, MIN)).toEqual([]);
      expect((await store.claimDeliveries(T0 + 5000, 10, MIN)).map((c) => c.attempt)).toEqual([2]);
      await store.finishDelivery('pagerduty', 'd1');
      await store.retryDelivery('pagerduty', 'd1', T0);
      expect(await store.claimDeliveries(T0 + 10 * MIN, 10, MIN)).toEqual([]);
      expect(await store.inboxDepth()).toBe(0);
    });
  });

  describe('registers', () => {
    it('sets a register only while it holds the expected value', async () => {
      expect(await store.getRegister('webhook:pagerduty:Q1')).toBeNull();
      expect(await store.compareAndSetRegister('webhook:pagerduty:Q1', 'x', 'v1')).toBe(false);
      expect(await store.compareAndSetRegister('webhook:pagerduty:Q1', null, 'v1')).toBe(true);
      expect(await store.compareAndSetRegister('webhook:pagerduty:Q1', null, 'v2')).toBe(false);
      expect(await store.compareAndSetRegister('webhook:pagerduty:Q1', 'v1', '{"epoch":2,"é":"✓"}')).toBe(true);
      expect(await store.getRegister('webhook:pagerduty:Q1')).toBe('{"epoch":2,"é":"✓"}');
      expect(await store.getRegister('webhook:pagerduty:Q2')).toBeNull();
    });

    it('lets exactly one of concurrent writers from one value win', async () => {
      await store.compareAndSetRegister('k', null, 'v0');
      const won = await Promise.all(Array.from({ length: 8 }, (_, i) => store.compareAndSetRegister('k', 'v0', `v${i + 1}`)));
      expect(won.filter(Boolean)).toHaveLength(1);
    });
  });
}
