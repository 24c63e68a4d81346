/** The store contract for the audit log: one global seq order, incident views, deduplicated appends. */
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
  });
}
