/** The store contract for the audit log: one global seq order, incident views, deduplicated appends, counted windows. */
import { beforeEach, describe, expect, it } from 'vitest';
import type { Store } from '../../../src/store/store.js';
import { MIN, T0, type ContractWorld } from './world.js';

export function describeAuditContract(world: ContractWorld): void {
  let store!: Store;
  beforeEach(() => {
    store = world.store();
  });

  describe('audit', () => {
    it('assigns increasing seq numbers and returns the stored event', async () => {
      const first = await store.appendAudit({ at: T0, type: 'incident.opened', actor: 'alice', incidentId: 'inc-1' });
      const second = await store.appendAudit({
        at: T0,
        type: 'grant.issued',
        actor: 'agent',
        incidentId: 'inc-1',
        grantId: 'g1',
        data: { ttl: 900, provider: 'vault', ok: true },
      });
      expect(first).toEqual({ seq: first.seq, at: T0, type: 'incident.opened', actor: 'alice', incidentId: 'inc-1' });
      expect(second.seq).toBeGreaterThan(first.seq);
      expect(second.data).toEqual({ ttl: 900, provider: 'vault', ok: true });
    });

    it('lists events ascending by seq, filtered by incident and afterSeq, up to limit', async () => {
      const events = [];
      for (const [i, incidentId] of ['inc-1', 'inc-2', 'inc-1', undefined, 'inc-1'].entries()) {
        events.push(await store.appendAudit({ at: T0 + i, type: 'grant.issued', actor: 'agent', ...(incidentId ? { incidentId } : {}) }));
      }
      const seqs = (list: readonly { seq: number }[]): number[] => list.map((e) => e.seq);
      const [e0, e1, e2, e3, e4] = events.map((e) => e.seq);
      expect(await store.listAudit({ limit: 100 })).toEqual(events);
      expect(seqs(await store.listAudit({ limit: 2 }))).toEqual([e0, e1]);
      expect(seqs(await store.listAudit({ afterSeq: e1 as number, limit: 100 }))).toEqual([e2, e3, e4]);
      expect(seqs(await store.listAudit({ incidentId: 'inc-1', limit: 100 }))).toEqual([e0, e2, e4]);
      expect(seqs(await store.listAudit({ incidentId: 'inc-1', afterSeq: e0 as number, limit: 1 }))).toEqual([e2]);
      expect(await store.listAudit({ incidentId: 'inc-3', limit: 100 })).toEqual([]);
      expect(await store.listAudit({ limit: 0 })).toEqual([]);
    });

    it('appends an event once per dedupe key, returning the earlier one on repeats', async () => {
      const event = { at: T0, type: 'grant.revoked', actor: 'qm', incidentId: 'inc-1', grantId: 'g1' } as const;
      const first = await store.appendAudit(event, { dedupeKey: 'grant.ended:g1' });
      const other = await store.appendAudit({ ...event, grantId: 'g2' }, { dedupeKey: 'grant.ended:g2' });
      expect(other.seq).toBeGreaterThan(first.seq);
      const repeat = await store.appendAudit({ ...event, at: T0 + MIN }, { dedupeKey: 'grant.ended:g1' });
      expect(repeat).toEqual(first);
      const plain = await store.appendAudit(event);
      expect(plain.seq).toBeGreaterThan(other.seq);
      expect((await store.listAudit({ incidentId: 'inc-1', limit: 100 })).map((e) => e.grantId)).toEqual(['g1', 'g2', 'g1']);
      expect(await store.listAudit({ limit: 100 })).toHaveLength(3);
    });

    it('remembers a dedupe key for its retention from the event, and forgets it after twice that', async () => {
      const event = { at: T0, type: 'incident.closed', actor: 'bob', incidentId: 'inc-1' } as const;
      const first = await store.appendAudit(event, { dedupeKey: 'incident.closed:inc-1', dedupeMs: 10 * MIN });
      // Within the retention (even across a generation's edge) the repeat is the first event.
      expect(await store.appendAudit({ ...event, at: T0 + 10 * MIN }, { dedupeKey: 'incident.closed:inc-1', dedupeMs: 10 * MIN })).toEqual(
        first,
      );
      const later = await store.appendAudit({ ...event, at: T0 + 20 * MIN }, { dedupeKey: 'incident.closed:inc-1', dedupeMs: 10 * MIN });
      expect(later.seq).toBeGreaterThan(first.seq);
      expect(later.at).toBe(T0 + 20 * MIN);
    });
  });

  describe('counted events', () => {
    const denial = {
      type: 'grant.denied',
      actor: 'spiffe://prod.example/ns/ir/sa/x',
      incidentId: 'inc-1',
      profile: 'p',
      reason: 'ERR_POLICY_DENIED',
    } as const;
    const count = (at: number, requestId = `r${at}`, key = 'deny:x') =>
      store.countAudit({ ...denial, at, data: { requestId } }, { key, windowMs: MIN, summary: { window: 'counted' } });

    it('appends the first event of a window and counts the rest; the flush appends one summary', async () => {
      const first = await count(T0);
      expect(first).toEqual({ seq: first?.seq, at: T0, ...denial, data: { requestId: `r${T0}` } });
      expect(await count(T0 + 1000)).toBeNull();
      expect(await count(T0 + 2000)).toBeNull();
      expect(await store.listAudit({ limit: 10 })).toEqual([first]);
      // Not yet over: nothing flushed.
      expect(await store.flushAuditCounts(T0 + MIN - 1, 10)).toBe(0);
      expect(await store.flushAuditCounts(T0 + MIN, 10)).toBe(1);
      const events = await store.listAudit({ incidentId: 'inc-1', limit: 10 });
      expect(events).toHaveLength(2);
      expect(events[1]).toEqual({ seq: events[1]?.seq, at: T0 + 2000, ...denial, data: { window: 'counted', repeats: 2, of: first?.seq } });
      expect(await store.flushAuditCounts(T0 + 10 * MIN, 10)).toBe(0);
      expect(await store.listAudit({ limit: 10 })).toHaveLength(2);
    });

    it('closes an ended window before the next event of its key, and a window that counted nothing leaves no summary', async () => {
      const first = await count(T0);
      expect(await count(T0 + 5)).toBeNull();
      const second = await count(T0 + MIN);
      const third = await count(T0 + 3 * MIN);
      const events = await store.listAudit({ limit: 10 });
      expect(events.map((e) => [e.at, e.data?.repeats ?? 0])).toEqual([
        [T0, 0],
        [T0 + 5, 1],
        [T0 + MIN, 0],
        [T0 + 3 * MIN, 0],
      ]);
      expect([first, second, third].map((e) => e?.seq)).toEqual([events[0]?.seq, events[2]?.seq, events[3]?.seq]);
      expect(await store.flushAuditCounts(T0 + 99 * MIN, 10)).toBe(1);
      expect(await store.listAudit({ limit: 10 })).toHaveLength(4);
    });

    it('counts each key apart, and flushes at most limit windows, earliest ending first', async () => {
      await count(T0, 'a', 'deny:a');
      await count(T0 + 1, 'b', 'deny:b');
      await count(T0 + 2, 'b2', 'deny:b');
      await count(T0 + 3, 'a2', 'deny:a');
      expect(await store.flushAuditCounts(T0 + MIN + 1, 1)).toBe(1);
      const afterOne = await store.listAudit({ limit: 10 });
      expect(afterOne.map((e) => e.data?.requestId ?? `summary of ${e.data?.of}`)).toEqual(['a', 'b', `summary of ${afterOne[0]?.seq}`]);
      expect(await store.flushAuditCounts(T0 + MIN + 1, 10)).toBe(1);
      expect(await store.listAudit({ limit: 10 })).toHaveLength(4);
    });

    it('keeps a summary of an event without incident out of every incident view', async () => {
      const introspected = { at: T0, type: 'token.introspected', actor: 'billing-api', data: { active: true } } as const;
      const key = { key: 'introspect:billing-api:true', windowMs: MIN, summary: { active: true } };
      await store.countAudit(introspected, key);
      await store.countAudit({ ...introspected, at: T0 + 1 }, key);
      expect(await store.flushAuditCounts(T0 + MIN, 10)).toBe(1);
      const events = await store.listAudit({ limit: 10 });
      expect(events.map((e) => e.data)).toEqual([{ active: true }, { active: true, repeats: 1, of: events[0]?.seq }]);
      expect(events[1]?.incidentId).toBeUndefined();
      expect(await store.listAudit({ incidentId: '', limit: 10 })).toEqual([]);
    });
  });
}
