/** The store contract for the revocation queue: leases, redelivery, retries, finishing, lease renewal fenced by the lease end. */
import { beforeEach, describe, expect, it } from 'vitest';
import type { Store } from '../../../src/store/store.js';
import { LEASE, MIN, T0, sorted, type ContractWorld } from './world.js';

export function describeQueueContract(world: ContractWorld): void {
  let store!: Store;
  beforeEach(() => {
    store = world.store();
  });
  const { openIncident, active } = world;

  describe('revocation queue', () => {
    it('leases a claimed job and delivers it again once the lease ends (a crashed worker loses nothing)', async () => {
      await openIncident();
      await active('g1');
      await store.requestRevocation('g1', 'released', T0);
      expect(await store.claimRevocations(T0, 10, LEASE)).toEqual([{ grantId: 'g1', attempt: 1, leasedUntil: T0 + LEASE }]);
      expect(await store.claimRevocations(T0 + LEASE - 1, 10, LEASE)).toEqual([]);
      expect(await store.claimRevocations(T0 + LEASE, 10, LEASE)).toEqual([{ grantId: 'g1', attempt: 2, leasedUntil: T0 + 2 * LEASE }]);
      expect(await store.revocationQueueDepth()).toBe(1);
    });

    it("claims a closed incident's jobs before any other, however much earlier the others are due", async () => {
      await openIncident();
      await openIncident('inc-2');
      for (const id of ['r1', 'r2', 'r3']) {
        await active(id, 'inc-2');
        await store.requestRevocation(id, 'released', T0);
      }
      await active('c1');
      await active('c2');
      await store.closeIncident('inc-1', T0 + 5 * MIN, 'bob');
      expect(sorted((await store.claimRevocations(T0 + 5 * MIN, 2, LEASE)).map((j) => j.grantId))).toEqual(['c1', 'c2']);
      expect(sorted((await store.claimRevocations(T0 + 5 * MIN, 10, LEASE)).map((j) => j.grantId))).toEqual(['r1', 'r2', 'r3']);
      expect(await store.revocationQueueDepth()).toBe(5);
    });

    it('keeps one job per grant: a released grant whose incident then closes stays in its queue, with its schedule', async () => {
      await openIncident();
      await active('g1');
      await store.requestRevocation('g1', 'released', T0);
      await store.retryRevocation('g1', T0 + MIN, 'ERR_PROVIDER_UNAVAILABLE');
      await store.closeIncident('inc-1', T0 + 1, 'bob');
      expect(await store.revocationQueueDepth()).toBe(1);
      expect(await store.claimRevocations(T0 + MIN - 1, 10, LEASE)).toEqual([]);
      expect((await store.claimRevocations(T0 + MIN, 10, LEASE)).map((j) => j.grantId)).toEqual(['g1']);
    });

    it('claims at most max jobs, earliest due first', async () => {
      await openIncident();
      for (const [id, at] of [
        ['g3', T0 + 3],
        ['g1', T0 + 1],
        ['g2', T0 + 2],
      ] as const) {
        await active(id);
        await store.requestRevocation(id, 'released', at);
      }
      expect(await store.claimRevocations(T0 + 10, 0, LEASE)).toEqual([]);
      expect((await store.claimRevocations(T0 + 10, 2, LEASE)).map((j) => j.grantId)).toEqual(['g1', 'g2']);
      expect((await store.claimRevocations(T0 + 10, 2, LEASE)).map((j) => j.grantId)).toEqual(['g3']);
    });

    it('retryRevocation reschedules the job for dueAt and records attempts and the error', async () => {
      await openIncident();
      await active('g1');
      await store.requestRevocation('g1', 'released', T0);
      await store.claimRevocations(T0, 10, 10 * MIN);
      await store.retryRevocation('g1', T0 + MIN, 'ERR_PROVIDER_UNAVAILABLE');
      expect(await store.getGrant('g1')).toMatchObject({ state: 'revoking', revokeAttempts: 1, lastError: 'ERR_PROVIDER_UNAVAILABLE' });
      expect(await store.claimRevocations(T0 + MIN - 1, 10, LEASE)).toEqual([]);
      expect(await store.claimRevocations(T0 + MIN, 10, LEASE)).toEqual([{ grantId: 'g1', attempt: 2, leasedUntil: T0 + MIN + LEASE }]);
    });

    it('finishRevocation ends the grant with its outcome and removes the job', async () => {
      await openIncident();
      await active('g1');
      await store.requestRevocation('g1', 'released', T0);
      await store.claimRevocations(T0, 10, LEASE);
      await store.retryRevocation('g1', T0 + MIN, 'ERR_PROVIDER_UNAVAILABLE');
      await store.claimRevocations(T0 + MIN, 10, LEASE);
      const ended = await store.finishRevocation('g1', { state: 'revoked', at: T0 + 2 * MIN, confirmed: true });
      expect(ended).toMatchObject({
        state: 'revoked',
        endedAt: T0 + 2 * MIN,
        revocationConfirmed: true,
        revokeAttempts: 2,
        revokeReason: 'released',
      });
      expect(await store.getGrant('g1')).toEqual(ended);
      expect(await store.revocationQueueDepth()).toBe(0);
      expect(await store.claimRevocations(T0 + 100 * MIN, 10, LEASE)).toEqual([]);
    });

    it('finishRevocation is idempotent: a repeat returns null and changes nothing', async () => {
      await openIncident();
      await active('g1');
      await store.requestRevocation('g1', 'released', T0);
      const ended = await store.finishRevocation('g1', { state: 'revoked', at: T0 + 1000, confirmed: false });
      expect(ended?.state).toBe('revoked');
      expect(await store.finishRevocation('g1', { state: 'expired', at: T0 + 2000, confirmed: true })).toBeNull();
      expect(await store.getGrant('g1')).toEqual(ended);
      expect(await store.finishRevocation('nope', { state: 'revoked', at: T0, confirmed: false })).toBeNull();
    });

    it('retryRevocation leaves an ended grant ended and out of the queue', async () => {
      await openIncident();
      await active('g1');
      await store.requestRevocation('g1', 'released', T0);
      const ended = await store.finishRevocation('g1', { state: 'revoked', at: T0 + 1000, confirmed: true });
      await store.retryRevocation('g1', T0 + MIN, 'ERR_PROVIDER_UNAVAILABLE');
      expect(await store.getGrant('g1')).toEqual(ended);
      expect(await store.revocationQueueDepth()).toBe(0);
    });

    it('counts leased and waiting jobs in the queue depth', async () => {
      await openIncident();
      await active('g1');
      await active('g2');
      expect(await store.revocationQueueDepth()).toBe(0);
      await store.requestRevocation('g1', 'released', T0);
      await store.requestRevocation('g2', 'released', T0 + MIN);
      await store.claimRevocations(T0, 10, LEASE);
      expect(await store.revocationQueueDepth()).toBe(2);
      await store.finishRevocation('g1', { state: 'revoked', at: T0, confirmed: true });
      expect(await store.revocationQueueDepth()).toBe(1);
    });
  });

  describe('lease renewal', () => {
    // Each test shows the renewal working first, then changes one thing and shows it refused.
    const revoking = async (...ids: string[]): Promise<void> => {
      await openIncident();
      for (const id of ids) {
        await active(id);
        await store.requestRevocation(id, 'released', T0);
      }
    };

    it('renews a held lease: the job stays hidden until the renewed lease ends, then is delivered again', async () => {
      await revoking('g1', 'g2');
      const jobs = await store.claimRevocations(T0, 10, LEASE);
      expect(jobs.map((j) => j.leasedUntil)).toEqual([T0 + LEASE, T0 + LEASE]);
      const until = T0 + LEASE / 2 + LEASE;
      expect(sorted(await store.renewRevocationLeases(jobs, until))).toEqual(['g1', 'g2']);
      expect(await store.claimRevocations(T0 + LEASE, 10, LEASE)).toEqual([]);
      expect(await store.claimRevocations(until - 1, 10, LEASE)).toEqual([]);
      // The next renewal names the renewed lease; g2, no longer renewed, comes back when it ends.
      expect(await store.renewRevocationLeases([{ grantId: 'g1', leasedUntil: until }], until + LEASE)).toEqual(['g1']);
      expect(await store.claimRevocations(until, 10, LEASE)).toEqual([{ grantId: 'g2', attempt: 2, leasedUntil: until + LEASE }]);
      expect(await store.renewRevocationLeases([], until + LEASE)).toEqual([]);
    });

    it('never shortens a lease (a renewal by a clock behind the claim keeps the job held)', async () => {
      await revoking('g1');
      await store.claimRevocations(T0, 10, LEASE);
      expect(await store.renewRevocationLeases([{ grantId: 'g1', leasedUntil: T0 + LEASE }], T0 + LEASE - 1000)).toEqual(['g1']);
      expect(await store.claimRevocations(T0 + LEASE - 1, 10, LEASE)).toEqual([]);
      expect((await store.claimRevocations(T0 + LEASE, 10, LEASE)).map((j) => j.attempt)).toEqual([2]);
    });

    it('does not touch a finished job: it is never queued again', async () => {
      await revoking('g1');
      await store.claimRevocations(T0, 10, LEASE);
      expect(await store.renewRevocationLeases([{ grantId: 'g1', leasedUntil: T0 + LEASE }], T0 + 2 * LEASE)).toEqual(['g1']);
      const ended = await store.finishRevocation('g1', { state: 'revoked', at: T0 + 1000, confirmed: true });
      expect(await store.renewRevocationLeases([{ grantId: 'g1', leasedUntil: T0 + 2 * LEASE }], T0 + 3 * LEASE)).toEqual([]);
      expect(await store.renewRevocationLeases([{ grantId: 'nope', leasedUntil: T0 + 2 * LEASE }], T0 + 3 * LEASE)).toEqual([]);
      expect(await store.revocationQueueDepth()).toBe(0);
      expect(await store.claimRevocations(T0 + 100 * MIN, 10, LEASE)).toEqual([]);
      expect(await store.getGrant('g1')).toEqual(ended);
    });

    it("does not override a retry's backoff", async () => {
      await revoking('g1');
      await store.claimRevocations(T0, 10, LEASE);
      const renewed = T0 + 2 * LEASE;
      expect(await store.renewRevocationLeases([{ grantId: 'g1', leasedUntil: T0 + LEASE }], renewed)).toEqual(['g1']);
      const dueAt = T0 + LEASE + 1000;
      await store.retryRevocation('g1', dueAt, 'ERR_PROVIDER_UNAVAILABLE');
      // A renewal still in flight when the retry landed: it would delay the retry to renewed + LEASE.
      expect(await store.renewRevocationLeases([{ grantId: 'g1', leasedUntil: renewed }], renewed + LEASE)).toEqual([]);
      expect(await store.claimRevocations(dueAt - 1, 10, LEASE)).toEqual([]);
      expect(await store.claimRevocations(dueAt, 10, LEASE)).toEqual([{ grantId: 'g1', attempt: 2, leasedUntil: dueAt + LEASE }]);
    });

    it('does not steal a lease another worker claimed after this one ended', async () => {
      await revoking('g1');
      await store.claimRevocations(T0, 10, LEASE);
      const renewed = T0 + LEASE / 2 + LEASE;
      expect(await store.renewRevocationLeases([{ grantId: 'g1', leasedUntil: T0 + LEASE }], renewed)).toEqual(['g1']);
      // The first worker stalls past its renewed lease; a second one claims the job.
      const [second] = await store.claimRevocations(renewed, 10, LEASE);
      expect(second).toEqual({ grantId: 'g1', attempt: 2, leasedUntil: renewed + LEASE });
      expect(await store.renewRevocationLeases([{ grantId: 'g1', leasedUntil: renewed }], renewed + 2 * LEASE)).toEqual([]);
      // The job is due when the second worker's lease ends, not when the first one asked.
      expect(await store.claimRevocations(renewed + LEASE - 1, 10, LEASE)).toEqual([]);
      expect(await store.claimRevocations(renewed + LEASE, 10, LEASE)).toEqual([
        { grantId: 'g1', attempt: 3, leasedUntil: renewed + 2 * LEASE },
      ]);
    });
  });
}
