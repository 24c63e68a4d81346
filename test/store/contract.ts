/**
 * The one contract every Store implementation passes (docs/architecture.md "State", CONTRIBUTING.md #17): the
 * guarantees written in src/store/store.ts and the behaviour the domain flows rely on. Times are
 * passed explicitly, so nothing here sleeps or reads a clock.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Grant, Incident, RevocationHandle } from '../../src/model.js';
import type { Store } from '../../src/store/store.js';
import { eventually } from '../support/eventually.js';

export interface StoreFixture {
  readonly store: Store;
  cleanup(): Promise<void>;
}

/** A realistic 13-digit millisecond timestamp (2026-01-01), so encodings see real magnitudes. */
const T0 = Date.UTC(2026, 0, 1);
const MIN = 60_000;
const LEASE = 30_000;
/** Numbers beyond 14 significant digits must come back exactly. */
const HANDLE: RevocationHandle = { accessor: 'hmac-sha256:3f2a', ttl: 900, renewable: true, big: 9_007_199_254_740_991 };

export const incidentFixture = (id: string, overrides: Partial<Incident> = {}): Incident => ({
  id, source: 'api', title: 'Credential stuffing on login', severity: 'sev2', status: 'open', openedAt: T0, openedBy: 'alice@example.com', ...overrides,
});

export const grantFixture = (id: string, incidentId: string, overrides: Partial<Grant> = {}): Grant => ({
  id, incidentId, profile: 'vault-read', provider: 'vault', agent: 'spiffe://prod.example/ns/ir/sa/triage',
  purpose: 'collect evidence', state: 'issuing', createdAt: T0, ttlSeconds: 900, expiresAt: T0 + 15 * MIN, ...overrides,
});

const sorted = (ids: readonly string[]): string[] => [...ids].sort();

export function describeStoreContract(name: string, setup: () => Promise<StoreFixture>): void {
  describe(`${name} store contract`, () => {
    let fixture: StoreFixture;
    let store: Store;
    beforeEach(async () => {
      fixture = await setup();
      store = fixture.store;
    });
    afterEach(async () => {
      await fixture.cleanup();
    });

    const openIncident = async (id = 'inc-1'): Promise<Incident> => (await store.createIncident(incidentFixture(id))).incident;
    const intent = async (id: string, incidentId = 'inc-1', overrides: Partial<Grant> = {}): Promise<void> => {
      expect(await store.createGrantIntent(grantFixture(id, incidentId, overrides))).toBe('ok');
    };
    const active = async (id: string, incidentId = 'inc-1', overrides: Partial<Grant> = {}): Promise<Grant> => {
      await intent(id, incidentId, overrides);
      const grant = await store.commitGrant(id, { handle: HANDLE, expiresAt: overrides.expiresAt ?? T0 + 15 * MIN });
      expect(grant?.state).toBe('active');
      return grant as Grant;
    };

    describe('incidents', () => {
      it('stores an incident and reads it back', async () => {
        const created = await store.createIncident(incidentFixture('inc-1'));
        expect(created).toEqual({ created: true, incident: incidentFixture('inc-1') });
        expect(await store.getIncident('inc-1')).toEqual(incidentFixture('inc-1'));
        await expect(store.ping()).resolves.toBeUndefined();
      });

      it('createIncident is idempotent and never overwrites the stored incident', async () => {
        await store.createIncident(incidentFixture('inc-1'));
        const again = await store.createIncident(incidentFixture('inc-1', { title: 'other', severity: 'sev1' }));
        expect(again).toEqual({ created: false, incident: incidentFixture('inc-1') });
        expect(await store.getIncident('inc-1')).toEqual(incidentFixture('inc-1'));
      });

      it('getIncident returns null for an unknown id', async () => {
        await openIncident();
        expect(await store.getIncident('inc-2')).toBeNull();
      });
    });

    describe('grant intents', () => {
      it('records an intent as issuing for an open incident', async () => {
        await openIncident();
        expect(await store.createGrantIntent(grantFixture('g1', 'inc-1'))).toBe('ok');
        expect(await store.getGrant('g1')).toEqual(grantFixture('g1', 'inc-1'));
      });

      it('refuses an intent for an incident that does not exist', async () => {
        await openIncident();
        await intent('g1');
        expect(await store.createGrantIntent(grantFixture('g2', 'inc-missing'))).toBe('incident_missing');
        expect(await store.getGrant('g2')).toBeNull();
      });

      it('refuses an intent once the incident is closed, atomically with the close', async () => {
        await openIncident();
        await intent('g1');
        await store.closeIncident('inc-1', T0 + MIN, 'bob');
        expect(await store.createGrantIntent(grantFixture('g2', 'inc-1'))).toBe('incident_closed');
        expect(await store.getGrant('g2')).toBeNull();
        expect((await store.listGrantsByIncident('inc-1')).map((g) => g.id)).toEqual(['g1']);
      });

      it('refuses a duplicate grant id and keeps the first grant', async () => {
        await openIncident();
        await openIncident('inc-2');
        await intent('g1');
        await expect(store.createGrantIntent(grantFixture('g1', 'inc-1', { purpose: 'other' }))).rejects.toThrow(/already exists/);
        await expect(store.createGrantIntent(grantFixture('g1', 'inc-2'))).rejects.toThrow(/already exists/);
        expect(await store.getGrant('g1')).toEqual(grantFixture('g1', 'inc-1'));
        // Nothing of the refused intent stays behind in the other incident.
        expect(await store.listGrantsByIncident('inc-2')).toEqual([]);
      });
    });

    describe('commit and failure', () => {
      it('commitGrant makes an intent active with its handle and expiry', async () => {
        await openIncident();
        await intent('g1');
        const committed = await store.commitGrant('g1', { handle: HANDLE, expiresAt: T0 + 10 * MIN });
        const expected = { ...grantFixture('g1', 'inc-1'), state: 'active', handle: HANDLE, expiresAt: T0 + 10 * MIN };
        expect(committed).toEqual(expected);
        expect(await store.getGrant('g1')).toEqual(expected);
      });

      it('commitGrant and failGrant return null for an unknown grant', async () => {
        await openIncident();
        expect(await store.commitGrant('nope', { handle: HANDLE, expiresAt: T0 })).toBeNull();
        expect(await store.failGrant('nope', T0, 'ERR_PROVIDER_FAILED')).toBeNull();
      });

      it('failGrant ends an intent as failed with its error', async () => {
        await openIncident();
        await intent('g1');
        const failed = await store.failGrant('g1', T0 + 1000, 'ERR_PROVIDER_UNAVAILABLE');
        expect(failed).toEqual({ ...grantFixture('g1', 'inc-1'), state: 'failed', endedAt: T0 + 1000, lastError: 'ERR_PROVIDER_UNAVAILABLE' });
        expect(await store.commitGrant('g1', { handle: HANDLE, expiresAt: T0 + MIN })).toEqual(failed);
      });

      it('failGrant leaves a committed grant unchanged', async () => {
        await openIncident();
        const grant = await active('g1');
        expect(await store.failGrant('g1', T0 + 1000, 'ERR_PROVIDER_FAILED')).toEqual(grant);
      });
    });

    describe('closing an incident', () => {
      it('closeIncident returns null for an unknown incident', async () => {
        await openIncident();
        expect(await store.closeIncident('inc-2', T0, 'bob')).toBeNull();
        expect(await store.getIncident('inc-2')).toBeNull();
      });

      it('writes the tombstone, flips issuing and active grants to revoking and enqueues them', async () => {
        await openIncident();
        await intent('issuing');
        await active('active');
        await intent('failed');
        await store.failGrant('failed', T0, 'ERR_PROVIDER_FAILED');
        await active('released');
        await store.requestRevocation('released', 'released', T0 + MIN);
        await openIncident('inc-other');
        await active('elsewhere', 'inc-other');

        const closedAt = T0 + 10 * MIN;
        const result = await store.closeIncident('inc-1', closedAt, 'bob');
        expect(result?.closedNow).toBe(true);
        expect(result?.incident).toEqual({ ...incidentFixture('inc-1'), status: 'closed', closedAt, closedBy: 'bob' });
        expect(sorted(result?.revoking ?? [])).toEqual(['active', 'issuing', 'released']);
        expect(await store.getIncident('inc-1')).toEqual(result?.incident);

        expect(await store.getGrant('active')).toMatchObject({ state: 'revoking', revokeReason: 'incident_closed', revokeRequestedAt: closedAt, handle: HANDLE });
        expect(await store.getGrant('issuing')).toMatchObject({ state: 'revoking', revokeReason: 'incident_closed', revokeRequestedAt: closedAt });
        expect(await store.getGrant('released')).toMatchObject({ state: 'revoking', revokeReason: 'released', revokeRequestedAt: T0 + MIN });
        expect((await store.getGrant('failed'))?.state).toBe('failed');
        expect((await store.getGrant('elsewhere'))?.state).toBe('active');
        expect(await store.revocationQueueDepth()).toBe(3);
        const jobs = await store.claimRevocations(closedAt, 10, LEASE);
        expect(sorted(jobs.map((j) => j.grantId))).toEqual(['active', 'issuing', 'released']);
      });

      it('is idempotent: closing again keeps the first tombstone and returns the same revoking grants', async () => {
        await openIncident();
        await active('g1');
        const first = await store.closeIncident('inc-1', T0 + MIN, 'bob');
        const again = await store.closeIncident('inc-1', T0 + 5 * MIN, 'carol');
        expect(again).toEqual({ incident: first?.incident, closedNow: false, revoking: ['g1'] });
        expect((await store.getGrant('g1'))?.revokeRequestedAt).toBe(T0 + MIN);
        expect(await store.revocationQueueDepth()).toBe(1);
      });

      it('keeps the schedule of a job already in backoff', async () => {
        await openIncident();
        await active('g1');
        await store.requestRevocation('g1', 'released', T0);
        expect(await store.claimRevocations(T0, 10, LEASE)).toEqual([{ grantId: 'g1', attempt: 1, leasedUntil: T0 + LEASE }]);
        await store.retryRevocation('g1', T0 + 10 * MIN, 'ERR_PROVIDER_UNAVAILABLE');
        expect((await store.closeIncident('inc-1', T0 + MIN, 'bob'))?.revoking).toEqual(['g1']);
        expect(await store.claimRevocations(T0 + MIN, 10, LEASE)).toEqual([]);
        expect(await store.claimRevocations(T0 + 10 * MIN, 10, LEASE)).toEqual([{ grantId: 'g1', attempt: 2, leasedUntil: T0 + 10 * MIN + LEASE }]);
      });

      it('revokes an intent written before a racing close; its later commit keeps it revoking with the handle', async () => {
        await openIncident();
        await intent('g1');
        const closedAt = T0 + 1000;
        expect((await store.closeIncident('inc-1', closedAt, 'bob'))?.revoking).toEqual(['g1']);
        const committed = await store.commitGrant('g1', { handle: HANDLE, expiresAt: T0 + 15 * MIN });
        expect(committed).toMatchObject({ state: 'revoking', handle: HANDLE, revokeReason: 'incident_closed', revokeRequestedAt: closedAt });
        expect(await store.getGrant('g1')).toEqual(committed);
        expect(await store.revocationQueueDepth()).toBe(1);
        expect(await store.claimRevocations(closedAt, 10, LEASE)).toEqual([{ grantId: 'g1', attempt: 1, leasedUntil: closedAt + LEASE }]);
      });
    });

    describe('listing grants', () => {
      it("lists an incident's grants by createdAt then id, and only that incident's", async () => {
        await openIncident();
        await openIncident('inc-2');
        await intent('z', 'inc-1', { createdAt: T0 + 2 });
        await intent('b', 'inc-1', { createdAt: T0 + 1 });
        await intent('a', 'inc-1', { createdAt: T0 + 1 });
        await intent('other', 'inc-2', { createdAt: T0 });
        expect((await store.listGrantsByIncident('inc-1')).map((g) => g.id)).toEqual(['a', 'b', 'z']);
        expect(await store.listGrantsByIncident('inc-missing')).toEqual([]);
      });

      it("lists an agent's grants in every incident, or in one, oldest first, and only that agent's", async () => {
        const me = 'spiffe://prod.example/ns/ir/sa/triage';
        const other = 'spiffe://prod.example/ns/ir/sa/contain';
        await openIncident();
        await openIncident('inc-2');
        await intent('m2', 'inc-2', { agent: me, createdAt: T0 + 2 });
        await active('m1', 'inc-1', { agent: me, createdAt: T0 + 1 });
        await intent('m3', 'inc-1', { agent: me, createdAt: T0 + 3 });
        await intent('o1', 'inc-1', { agent: other, createdAt: T0 });
        expect((await store.listGrantsByAgent(me)).map((g) => g.id)).toEqual(['m1', 'm2', 'm3']);
        expect((await store.listGrantsByAgent(me, { incidentId: 'inc-1' })).map((g) => g.id)).toEqual(['m1', 'm3']);
        expect((await store.listGrantsByAgent(me))[0]).toMatchObject({ id: 'm1', incidentId: 'inc-1', state: 'active', handle: HANDLE });
        expect((await store.listGrantsByAgent(other)).map((g) => g.id)).toEqual(['o1']);
        expect(await store.listGrantsByAgent('spiffe://prod.example/nobody')).toEqual([]);
        expect(await store.listGrantsByAgent(me, { incidentId: 'inc-missing' })).toEqual([]);
        // The index follows state changes: it lists the grant, not a copy taken at intent time.
        await store.closeIncident('inc-1', T0 + MIN, 'bob');
        expect((await store.listGrantsByAgent(me, { incidentId: 'inc-1' })).map((g) => g.state)).toEqual(['revoking', 'revoking']);
      });

      it('keeps apart agents whose ids differ only in lone UTF-16 surrogates', async () => {
        await openIncident();
        await intent('s1', 'inc-1', { agent: 'https://idp.example#\ud800' });
        await intent('s2', 'inc-1', { agent: 'https://idp.example#\udc00' });
        expect((await store.listGrantsByAgent('https://idp.example#\ud800')).map((g) => g.id)).toEqual(['s1']);
        expect((await store.listGrantsByAgent('https://idp.example#\udc00', { incidentId: 'inc-1' })).map((g) => g.id)).toEqual(['s2']);
      });

      it("lists no grant for an agent whose intent was refused (closed incident)", async () => {
        await openIncident();
        await store.closeIncident('inc-1', T0, 'bob');
        expect(await store.createGrantIntent(grantFixture('late', 'inc-1', { agent: 'spiffe://prod.example/late' }))).toBe('incident_closed');
        expect(await store.listGrantsByAgent('spiffe://prod.example/late')).toEqual([]);
      });
    });

    describe('updating an incident', () => {
      it("changes an open incident's severity and title, and nothing else", async () => {
        const opened = await openIncident();
        const result = await store.updateIncident('inc-1', { severity: 'sev1', title: 'Payments down' });
        expect(result).toEqual({ incident: { ...opened, severity: 'sev1', title: 'Payments down' }, updated: true });
        expect(await store.getIncident('inc-1')).toEqual({ ...opened, severity: 'sev1', title: 'Payments down' });
        expect((await store.updateIncident('inc-1', { severity: 'sev3' }))?.incident).toEqual({ ...opened, severity: 'sev3', title: 'Payments down' });
      });

      it('leaves a closed incident as it is, and answers null for an unknown one', async () => {
        await openIncident();
        const closed = (await store.closeIncident('inc-1', T0 + MIN, 'bob'))?.incident;
        expect(await store.updateIncident('inc-1', { severity: 'sev1' })).toEqual({ incident: closed, updated: false });
        expect(await store.getIncident('inc-1')).toEqual(closed);
        expect(await store.updateIncident('inc-missing', { severity: 'sev1' })).toBeNull();
      });
    });

    describe('revocation requests', () => {
      it('turns an active grant revoking and enqueues it due at the request time', async () => {
        await openIncident();
        await active('g1');
        const at = T0 + 5 * MIN;
        expect(await store.requestRevocation('g1', 'released', at)).toMatchObject({ state: 'revoking', revokeReason: 'released', revokeRequestedAt: at });
        expect(await store.claimRevocations(at - 1, 10, LEASE)).toEqual([]);
        expect(await store.claimRevocations(at, 10, LEASE)).toEqual([{ grantId: 'g1', attempt: 1, leasedUntil: at + LEASE }]);
      });

      it('is idempotent: a second request changes nothing', async () => {
        await openIncident();
        await active('g1');
        const first = await store.requestRevocation('g1', 'released', T0);
        expect(await store.requestRevocation('g1', 'deviation', T0 + MIN)).toEqual(first);
        expect(await store.revocationQueueDepth()).toBe(1);
      });

      it('turns an intent revoking; its commit keeps it revoking', async () => {
        await openIncident();
        await intent('g1');
        expect((await store.requestRevocation('g1', 'operator', T0))?.state).toBe('revoking');
        expect((await store.commitGrant('g1', { handle: HANDLE, expiresAt: T0 + MIN }))?.state).toBe('revoking');
      });

      it('leaves an ended grant ended and enqueues nothing', async () => {
        await openIncident();
        await active('g1');
        await store.requestRevocation('g1', 'released', T0);
        await store.claimRevocations(T0, 10, LEASE);
        const ended = await store.finishRevocation('g1', { state: 'revoked', at: T0 + 1000, confirmed: true });
        expect(await store.requestRevocation('g1', 'operator', T0 + MIN)).toEqual(ended);
        expect(await store.revocationQueueDepth()).toBe(0);
        expect(await store.requestRevocation('nope', 'operator', T0)).toBeNull();
      });
    });

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

      it('claims at most max jobs, earliest due first', async () => {
        await openIncident();
        for (const [id, at] of [['g3', T0 + 3], ['g1', T0 + 1], ['g2', T0 + 2]] as const) {
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
        expect(ended).toMatchObject({ state: 'revoked', endedAt: T0 + 2 * MIN, revocationConfirmed: true, revokeAttempts: 2, revokeReason: 'released' });
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
        expect(await store.claimRevocations(renewed + LEASE, 10, LEASE)).toEqual([{ grantId: 'g1', attempt: 3, leasedUntil: renewed + 2 * LEASE }]);
      });
    });

    describe('expiry', () => {
      it('marks due active grants expired at their expiresAt and returns their ids', async () => {
        await openIncident();
        await active('due-1', 'inc-1', { expiresAt: T0 + MIN });
        await active('due-2', 'inc-1', { expiresAt: T0 + 2 * MIN });
        await active('later', 'inc-1', { expiresAt: T0 + 10 * MIN });
        await intent('intent', 'inc-1', { expiresAt: T0 + MIN });
        await active('revoking', 'inc-1', { expiresAt: T0 + MIN });
        await store.requestRevocation('revoking', 'released', T0);

        expect(await store.expireGrants(T0 + 5 * MIN, 100)).toEqual(['due-1', 'due-2']);
        expect(await store.getGrant('due-1')).toMatchObject({ state: 'expired', endedAt: T0 + MIN });
        expect(await store.getGrant('due-2')).toMatchObject({ state: 'expired', endedAt: T0 + 2 * MIN });
        expect((await store.getGrant('later'))?.state).toBe('active');
        expect((await store.getGrant('intent'))?.state).toBe('issuing');
        expect((await store.getGrant('revoking'))?.state).toBe('revoking');
        expect(await store.expireGrants(T0 + 5 * MIN, 100)).toEqual([]);
        expect(await store.expireGrants(T0 + 10 * MIN, 100)).toEqual(['later']);
      });

      it('expires at most limit grants per call, earliest first', async () => {
        await openIncident();
        await active('g3', 'inc-1', { expiresAt: T0 + 3 });
        await active('g1', 'inc-1', { expiresAt: T0 + 1 });
        await active('g2', 'inc-1', { expiresAt: T0 + 2 });
        expect(await store.expireGrants(T0 + MIN, 0)).toEqual([]);
        expect(await store.expireGrants(T0 + MIN, 2)).toEqual(['g1', 'g2']);
        expect(await store.expireGrants(T0 + MIN, 2)).toEqual(['g3']);
      });
    });

    describe('closing incidents', () => {
      it('lists a closed incident until its last revoking grant has ended', async () => {
        await openIncident();
        await active('g1');
        await active('g2');
        await store.requestRevocation('g1', 'released', T0);
        expect(await store.listClosingIncidents()).toEqual([]);
        await openIncident('inc-empty');
        await store.closeIncident('inc-empty', T0, 'bob');
        await store.closeIncident('inc-1', T0 + MIN, 'bob');
        expect(await store.listClosingIncidents()).toEqual(['inc-1']);
        await store.finishRevocation('g1', { state: 'revoked', at: T0 + 2 * MIN, confirmed: true });
        expect(await store.listClosingIncidents()).toEqual(['inc-1']);
        await store.finishRevocation('g2', { state: 'expired', at: T0 + 2 * MIN, confirmed: true });
        expect(await store.listClosingIncidents()).toEqual([]);
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

    describe('store meta (identity marker and loss record)', () => {
      const marker = { id: 'm1', createdAt: T0 };
      const loss = { id: 'l1', detectedAt: T0 + MIN, missing: 'm1', found: null };

      it('writes the marker once: a second write returns the first', async () => {
        expect(await store.meta.read()).toEqual({ marker: null, loss: null });
        expect(await store.meta.createMarker(marker)).toEqual(marker);
        expect(await store.meta.createMarker({ id: 'm2', createdAt: T0 + 1 })).toEqual(marker);
        expect(await store.meta.read()).toEqual({ marker, loss: null });
      });

      it('records a loss once, and acknowledges only the loss it names, atomically with the new marker', async () => {
        await store.meta.createMarker(marker);
        expect(await store.meta.recordLoss(loss)).toEqual(loss);
        expect(await store.meta.recordLoss({ ...loss, id: 'l2' })).toEqual(loss);
        const next = { id: 'm3', createdAt: T0 + 2 * MIN, acknowledges: 'l1', replaces: ['m1'], acknowledgedBy: 'alice', reason: 'ok' };
        expect(await store.meta.acknowledgeLoss('l2', next)).toBe(false);
        expect(await store.meta.read()).toEqual({ marker, loss });
        expect(await store.meta.acknowledgeLoss('l1', next)).toBe(true);
        expect(await store.meta.read()).toEqual({ marker: next, loss: null });
        expect(await store.meta.acknowledgeLoss('l1', next)).toBe(false);
      });
    });

    describe('audit', () => {
      it('assigns increasing seq numbers and returns the stored event', async () => {
        const first = await store.appendAudit({ at: T0, type: 'incident.opened', actor: 'alice', incidentId: 'inc-1' });
        const second = await store.appendAudit({ at: T0, type: 'grant.issued', actor: 'agent', incidentId: 'inc-1', grantId: 'g1', data: { ttl: 900, provider: 'vault', ok: true } });
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

    it('hands out copies: mutating objects passed in or returned changes nothing stored', async () => {
      const input = incidentFixture('inc-1');
      await store.createIncident(input);
      (input as { title: string }).title = 'mutated input';
      const read = await store.getIncident('inc-1');
      (read as { title: string }).title = 'mutated output';
      expect(await store.getIncident('inc-1')).toEqual(incidentFixture('inc-1'));

      const handle = { ...HANDLE };
      await intent('g1');
      const committed = await store.commitGrant('g1', { handle, expiresAt: T0 + MIN });
      handle.accessor = 'mutated input';
      (committed?.handle as Record<string, unknown>).accessor = 'mutated output';
      const [listed] = await store.listGrantsByIncident('inc-1');
      (listed as { state: string }).state = 'revoked';
      expect(await store.getGrant('g1')).toMatchObject({ state: 'active', handle: HANDLE });

      const data = { ttl: 900 };
      const event = await store.appendAudit({ at: T0, type: 'grant.issued', actor: 'agent', data });
      data.ttl = 1;
      (event.data as Record<string, unknown>).ttl = 2;
      expect((await store.listAudit({ limit: 10 }))[0]?.data).toEqual({ ttl: 900 });
    });

    it('keeps an own "__proto__" member of a handle a member, never a prototype', async () => {
      // JSON.parse makes such members; a provider's handle may carry one.
      const handle = JSON.parse('{"ref":"h1","__proto__":"member"}') as Record<string, string>;
      expect(Object.hasOwn(handle, '__proto__')).toBe(true);
      await openIncident();
      await intent('g1');
      await store.commitGrant('g1', { handle, expiresAt: T0 + MIN });
      const read = (await store.getGrant('g1'))?.handle as Record<string, unknown>;
      expect(Object.getPrototypeOf(read)).toBe(Object.prototype);
      expect(Object.hasOwn(read, '__proto__')).toBe(true);
      expect(JSON.stringify(read)).toBe('{"ref":"h1","__proto__":"member"}');
    });

    it('text with lone UTF-16 surrogates never blocks expiring, closing or listing', async () => {
      // JSON.parse lets an agent send these in `purpose`; a store that chokes on one record must
      // not leave the whole incident unrevocable.
      await store.createIncident(incidentFixture('inc-1', { title: 'bad \ud800 title' }));
      await active('g1', 'inc-1', { purpose: 'evil \udc00', agent: 'https://idp.example#\ud800', expiresAt: T0 + MIN });
      await active('g2', 'inc-1', { expiresAt: T0 + 10 * MIN });
      expect(await store.expireGrants(T0 + MIN, 10)).toEqual(['g1']);
      expect((await store.closeIncident('inc-1', T0 + 2 * MIN, 'bob \udfff'))?.revoking).toEqual(['g2']);
      const [first] = await store.listGrantsByIncident('inc-1');
      expect(first?.purpose.startsWith('evil ')).toBe(true);
    });

    it('ids with braces, colons, percent signs and unicode work everywhere and stay distinct', async () => {
      const incidentId = 'inc:{x}}{:y/😀é';
      const lookalike = 'inc:%7Bx%7D%7D%7B:y/😀é';
      const grantId = 'grt:{1}}ü😀';
      await openIncident(incidentId);
      await openIncident(lookalike);
      await active(grantId, incidentId);
      await active('plain', lookalike);
      expect((await store.getGrant(grantId))?.incidentId).toBe(incidentId);
      expect((await store.listGrantsByIncident(incidentId)).map((g) => g.id)).toEqual([grantId]);
      expect((await store.listGrantsByIncident(lookalike)).map((g) => g.id)).toEqual(['plain']);
      await store.appendAudit({ at: T0, type: 'grant.issued', actor: 'agent', incidentId, grantId });
      expect((await store.listAudit({ incidentId, limit: 10 })).map((e) => e.grantId)).toEqual([grantId]);
      expect(await store.listAudit({ incidentId: lookalike, limit: 10 })).toEqual([]);

      expect((await store.closeIncident(incidentId, T0 + MIN, 'bob'))?.revoking).toEqual([grantId]);
      expect(await store.listClosingIncidents()).toEqual([incidentId]);
      expect(await store.claimRevocations(T0 + MIN, 10, LEASE)).toEqual([{ grantId, attempt: 1, leasedUntil: T0 + MIN + LEASE }]);
      expect((await store.finishRevocation(grantId, { state: 'revoked', at: T0 + MIN, confirmed: true }))?.state).toBe('revoked');
      expect(await store.listClosingIncidents()).toEqual([]);
      expect((await store.getIncident(lookalike))?.status).toBe('open');
    });
  });
}
