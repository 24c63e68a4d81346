/** The store contract for what replicas coordinate through: one-time claims (single-use tokens) and leased, fenced locks. */
import { beforeEach, describe, expect, it } from 'vitest';
import type { Store } from '../../../src/store/store.js';
import { eventually } from '../../support/eventually.js';
import { MIN, T0, type ContractWorld } from './world.js';

export function describeCoordinationContract(world: ContractWorld): void {
  let store!: Store;
  beforeEach(() => {
    store = world.store();
  });

  describe('claimOnce (single-use tokens)', () => {
    it('records a key once: the first claim wins, a repeat loses until the record expires', async () => {
      expect(await store.claimOnce('agent-token:a', T0 + MIN, T0)).toBe(true);
      expect(await store.claimOnce('agent-token:a', T0 + MIN, T0 + 1000)).toBe(false);
      expect(await store.claimOnce('agent-token:b', T0 + MIN, T0 + 1000)).toBe(true);
    });

    it('lets exactly one of many concurrent claims of one key win', async () => {
      const results = await Promise.all(Array.from({ length: 20 }, () => store.claimOnce('agent-token:race', T0 + MIN, T0)));
      expect(results.filter(Boolean)).toHaveLength(1);
    });

    it('keeps keys that differ only in odd characters apart', async () => {
      for (const key of ['k:{x}', 'k:%7Bx%7D', 'k:😀', 'k:\u0000']) expect(await store.claimOnce(key, T0 + MIN, T0)).toBe(true);
      expect(await store.claimOnce('k:{x}', T0 + MIN, T0)).toBe(false);
    });

    it('forgets a record once it expires, by the caller clock it was claimed with', async () => {
      // A short record: the memory store sees the later `now`; Redis expires it by its TTL.
      expect(await store.claimOnce('agent-token:short', T0 + 50, T0)).toBe(true);
      const deadline = Date.now() + 5000;
      let reclaimed = false;
      while (!reclaimed && Date.now() < deadline) {
        reclaimed = await store.claimOnce('agent-token:short', T0 + MIN, T0 + 51);
        if (!reclaimed) await new Promise((r) => setTimeout(r, 10));
      }
      expect(reclaimed).toBe(true);
      expect(await store.claimOnce('agent-token:short', T0 + MIN, T0 + 52)).toBe(false);
    });
  });

  describe('locks', () => {
    it('gives a free lock to one owner at a time, with a fence that grows with every acquisition', async () => {
      const first = await store.acquireLock('role-a', 'owner-1', 60_000, T0);
      expect(first).toEqual(expect.any(Number));
      expect(await store.acquireLock('role-a', 'owner-2', 60_000, T0)).toBeNull();
      // Another name is another lock.
      expect(await store.acquireLock('role-b', 'owner-2', 60_000, T0)).toEqual(expect.any(Number));
      await store.releaseLock('role-a', 'owner-1');
      const second = await store.acquireLock('role-a', 'owner-2', 60_000, T0);
      expect(second).toBeGreaterThan(first as number);
    });

    it('renews and releases only for the owner that holds the lease', async () => {
      await store.acquireLock('role-a', 'owner-1', 60_000, T0);
      expect(await store.renewLock('role-a', 'owner-1', 60_000, T0)).toBe(true);
      expect(await store.renewLock('role-a', 'owner-2', 60_000, T0)).toBe(false);
      await store.releaseLock('role-a', 'owner-2'); // not theirs: nothing happens
      expect(await store.acquireLock('role-a', 'owner-2', 60_000, T0)).toBeNull();
      await store.releaseLock('role-a', 'owner-1');
      expect(await store.renewLock('role-a', 'owner-1', 60_000, T0)).toBe(false);
    });

    it('frees a lock whose lease ran out (its holder died) for another owner', async () => {
      expect(await store.acquireLock('role-a', 'dead-owner', 50, Date.now())).toEqual(expect.any(Number));
      const taken = await eventually(async () => store.acquireLock('role-a', 'owner-2', 60_000, Date.now()), 5_000);
      expect(taken).toEqual(expect.any(Number));
      expect(await store.renewLock('role-a', 'dead-owner', 60_000, Date.now())).toBe(false);
    });
  });

  describe('token buckets', () => {
    it('lets a full bucket spend its burst, then says how long until the next token', async () => {
      for (let i = 0; i < 3; i++) expect(await store.takeToken('agent:a', 3, 2, T0)).toBe(0);
      expect(await store.takeToken('agent:a', 3, 2, T0)).toBe(500);
      // Another bucket is untouched.
      expect(await store.takeToken('agent:b', 3, 2, T0)).toBe(0);
    });

    it('refills at its rate, never past its burst', async () => {
      for (let i = 0; i < 3; i++) await store.takeToken('agent:a', 3, 2, T0);
      expect(await store.takeToken('agent:a', 3, 2, T0 + 499)).toBeGreaterThan(0);
      expect(await store.takeToken('agent:a', 3, 2, T0 + 500)).toBe(0);
      // Ten seconds idle refill only up to the burst: three more, not twenty.
      for (let i = 0; i < 3; i++) expect(await store.takeToken('agent:a', 3, 2, T0 + 10_500)).toBe(0);
      expect(await store.takeToken('agent:a', 3, 2, T0 + 10_500)).toBeGreaterThan(0);
    });
  });

  describe('window counters (deviation detectors)', () => {
    const W = 60_000;
    it('counts occurrences per name within a window, shared by every caller', async () => {
      const start = Math.ceil(T0 / W) * W;
      expect(await store.countInWindow('denials:a', W, start)).toBe(1);
      expect(await store.countInWindow('denials:a', W, start + 1000)).toBe(2);
      expect(await store.countInWindow('denials:b', W, start + 1000)).toBe(1);
      const counts = await Promise.all(Array.from({ length: 8 }, () => store.countInWindow('denials:a', W, start + 2000)));
      expect([...counts].sort((x, y) => x - y)).toEqual([3, 4, 5, 6, 7, 8, 9, 10]);
    });

    it('slides: the previous window counts by how much of it still overlaps, then not at all', async () => {
      const start = Math.ceil(T0 / W) * W;
      for (let i = 0; i < 4; i++) await store.countInWindow('rate:a', W, start + i);
      // A quarter into the next window, three quarters of the previous one's 4 still count: 3 + this 1.
      expect(await store.countInWindow('rate:a', W, start + W + W / 4)).toBe(4);
      // Two windows on, the first one is gone: only the second one's 1, weighted, and this one.
      expect(await store.countInWindow('rate:a', W, start + 2 * W + W / 2)).toBe(1.5);
      expect(await store.countInWindow('rate:a', W, start + 5 * W)).toBe(1);
    });

    it('counts a batch at once (a replica flushing what it counted locally)', async () => {
      const start = Math.ceil(T0 / W) * W;
      expect(await store.countInWindow('rate:b', W, start, 5)).toBe(5);
      expect(await store.countInWindow('rate:b', W, start + 1, 3)).toBe(8);
      expect(await store.countInWindow('rate:b', W, start + 2)).toBe(9);
    });
  });

  describe('incident records', () => {
    const sorted = (sets: ReadonlyArray<{ incidentId: string; values: readonly string[] }>) =>
      sets
        .map((set) => ({ incidentId: set.incidentId, values: [...set.values].sort() }))
        .sort((a, b) => (a.incidentId < b.incidentId ? -1 : 1));

    it('keeps values per namespace and incident, each once, and lists them all or one incident', async () => {
      await store.addIncidentRecord('vault', 'INC-1', 'acc-a');
      await store.addIncidentRecord('vault', 'INC-1', 'acc-b');
      await store.addIncidentRecord('vault', 'INC-1', 'acc-a');
      await store.addIncidentRecord('vault', 'INC-{2}', 'acc-c');
      await store.addIncidentRecord('other', 'INC-1', 'x');
      expect(sorted(await store.listIncidentRecords('vault'))).toEqual([
        { incidentId: 'INC-1', values: ['acc-a', 'acc-b'] },
        { incidentId: 'INC-{2}', values: ['acc-c'] },
      ]);
      expect(sorted(await store.listIncidentRecords('vault', 'INC-{2}'))).toEqual([{ incidentId: 'INC-{2}', values: ['acc-c'] }]);
      expect(await store.listIncidentRecords('vault', 'INC-none')).toEqual([]);
      expect(sorted(await store.listIncidentRecords('other'))).toEqual([{ incidentId: 'INC-1', values: ['x'] }]);
      expect(await store.listIncidentRecords('nobody')).toEqual([]);
    });

    it('removes only the listed values, and the incident once none is left', async () => {
      await store.addIncidentRecord('vault', 'INC-1', 'acc-a');
      await store.addIncidentRecord('vault', 'INC-1', 'acc-b');
      await store.addIncidentRecord('vault', 'INC-2', 'acc-c');
      await store.removeIncidentRecords('vault', 'INC-1', ['acc-a', 'acc-unknown']);
      expect(sorted(await store.listIncidentRecords('vault'))).toEqual([
        { incidentId: 'INC-1', values: ['acc-b'] },
        { incidentId: 'INC-2', values: ['acc-c'] },
      ]);
      await store.removeIncidentRecords('vault', 'INC-1', ['acc-b']);
      await store.removeIncidentRecords('vault', 'INC-2', []);
      await store.removeIncidentRecords('vault', 'INC-gone', ['acc-z']);
      expect(sorted(await store.listIncidentRecords('vault'))).toEqual([{ incidentId: 'INC-2', values: ['acc-c'] }]);
      // A removed incident takes new records again.
      await store.addIncidentRecord('vault', 'INC-1', 'acc-d');
      expect(sorted(await store.listIncidentRecords('vault', 'INC-1'))).toEqual([{ incidentId: 'INC-1', values: ['acc-d'] }]);
    });

    it('loses no value added while another is removed, under many concurrent calls', async () => {
      await store.addIncidentRecord('vault', 'INC-R', 'first');
      const added = Array.from({ length: 30 }, (_, i) => `acc-${i}`);
      await Promise.all([
        ...added.map((value) => store.addIncidentRecord('vault', 'INC-R', value)),
        store.removeIncidentRecords('vault', 'INC-R', ['first']),
      ]);
      expect(sorted(await store.listIncidentRecords('vault'))).toEqual([{ incidentId: 'INC-R', values: [...added].sort() }]);
    });
  });
}
