/**
 * The store contract for the incident ledger: incidents, grant intents, commits, closes (the
 * tombstone and its race), listings, updates, revocation requests, expiry, retention.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import type { Incident } from '../../../src/model.js';
import type { Store } from '../../../src/store/store.js';
import { HANDLE, LEASE, MIN, T0, grantFixture, incidentFixture, sorted, type ContractWorld } from './world.js';

export function describeLedgerContract(world: ContractWorld): void {
  let store!: Store;
  beforeEach(() => {
    store = world.store();
  });
  const { openIncident, intent, active } = world;

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

    it('lists incidents newest first, all or by status, at most the limit', async () => {
      expect(await store.listIncidents({ limit: 10 })).toEqual([]);
      for (const [id, at] of [
        ['inc-a', T0],
        ['inc-b', T0 + 2000],
        ['inc-c', T0 + 1000],
        ['inc-d', T0 + 1000],
      ] as const)
        await store.createIncident(incidentFixture(id, { openedAt: at }));
      // createIncident of an existing id changes nothing, the listing included.
      await store.createIncident(incidentFixture('inc-a', { openedAt: T0 + 9000 }));
      await store.closeIncident('inc-c', T0 + 3000, 'bob');
      const ids = (list: readonly Incident[]) => list.map((i) => i.id);
      expect(ids(await store.listIncidents({ limit: 10 }))).toEqual(['inc-b', 'inc-d', 'inc-c', 'inc-a']);
      expect(ids(await store.listIncidents({ status: 'open', limit: 10 }))).toEqual(['inc-b', 'inc-d', 'inc-a']);
      expect(await store.listIncidents({ status: 'closed', limit: 10 })).toEqual([
        { ...incidentFixture('inc-c', { openedAt: T0 + 1000 }), status: 'closed', closedAt: T0 + 3000, closedBy: 'bob' },
      ]);
      expect(ids(await store.listIncidents({ limit: 2 }))).toEqual(['inc-b', 'inc-d']);
      expect(ids(await store.listIncidents({ status: 'open', limit: 1 }))).toEqual(['inc-b']);
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

  describe('an intent and a register read after it', () => {
    it('writes the intent as createGrantIntent does and answers the register as it stands after it', async () => {
      await openIncident();
      // Never written: null; the intent is written all the same.
      expect(await store.createGrantIntentAndRead(grantFixture('g1', 'inc-1'), undefined, 'quarantine:a')).toEqual({
        result: 'ok',
        register: null,
      });
      expect((await store.getGrant('g1'))?.state).toBe('issuing');
      // Written before the intent: seen.
      expect(await store.compareAndSetRegister('quarantine:a', null, '{"state":"quarantined"}')).toBe(true);
      expect(await store.createGrantIntentAndRead(grantFixture('g2', 'inc-1'), undefined, 'quarantine:a')).toEqual({
        result: 'ok',
        register: '{"state":"quarantined"}',
      });
      // A refused intent still answers the read, and leaves no grant.
      expect(
        await store.createGrantIntentAndRead(grantFixture('g3', 'inc-1'), { perIncident: 2, perAgent: 0, now: T0 }, 'quarantine:a'),
      ).toEqual({ result: 'quota_incident', register: '{"state":"quarantined"}' });
      expect(await store.getGrant('g3')).toBeNull();
      expect(await store.createGrantIntentAndRead(grantFixture('g4', 'inc-missing'), undefined, 'quarantine:b')).toEqual({
        result: 'incident_missing',
        register: null,
      });
    });
  });

  describe('live-grant quotas', () => {
    const quota = (perIncident: number, perAgent: number, now = T0) => ({ perIncident, perAgent, now });
    const other = 'spiffe://prod.example/ns/ir/sa/contain';

    it('refuses an intent past the incident quota, counting every live grant of the incident', async () => {
      await openIncident();
      expect(await store.createGrantIntent(grantFixture('g1', 'inc-1'), quota(2, 0))).toBe('ok');
      expect(await store.createGrantIntent(grantFixture('g2', 'inc-1', { agent: other }), quota(2, 0))).toBe('ok');
      expect(await store.createGrantIntent(grantFixture('g3', 'inc-1'), quota(2, 0))).toBe('quota_incident');
      expect(await store.getGrant('g3')).toBeNull();
      // Another incident has its own quota; no quota (0) is no limit.
      await openIncident('inc-2');
      expect(await store.createGrantIntent(grantFixture('g4', 'inc-2'), quota(2, 0))).toBe('ok');
      expect(await store.createGrantIntent(grantFixture('g5', 'inc-1'), quota(0, 0))).toBe('ok');
    });

    it("refuses an intent past the agent quota, counting the agent's live grants in every incident", async () => {
      await openIncident();
      await openIncident('inc-2');
      expect(await store.createGrantIntent(grantFixture('g1', 'inc-1'), quota(0, 2))).toBe('ok');
      expect(await store.createGrantIntent(grantFixture('g2', 'inc-2'), quota(0, 2))).toBe('ok');
      expect(await store.createGrantIntent(grantFixture('g3', 'inc-1'), quota(0, 2))).toBe('quota_agent');
      expect(await store.getGrant('g3')).toBeNull();
      expect((await store.listGrantsByIncident('inc-1')).map((g) => g.id)).toEqual(['g1']);
      // Another agent is not counted against it.
      expect(await store.createGrantIntent(grantFixture('g4', 'inc-1', { agent: other }), quota(0, 2))).toBe('ok');
    });

    it('frees a place when a grant fails, is revoked or passes its expiry, not while it is revoking', async () => {
      await openIncident();
      const q = quota(1, 1);
      expect(await store.createGrantIntent(grantFixture('g1', 'inc-1'), q)).toBe('ok');
      expect(await store.createGrantIntent(grantFixture('g2', 'inc-1'), q)).not.toBe('ok');
      await store.failGrant('g1', T0, 'ERR_PROVIDER_FAILED');
      expect(await store.createGrantIntent(grantFixture('g2', 'inc-1'), q)).toBe('ok');
      await store.commitGrant('g2', { handle: HANDLE, expiresAt: T0 + 15 * MIN });
      await store.requestRevocation('g2', 'released', T0);
      expect(await store.createGrantIntent(grantFixture('g3', 'inc-1'), q)).not.toBe('ok');
      await store.finishRevocation('g2', { state: 'revoked', at: T0 + 1, confirmed: true });
      expect(await store.createGrantIntent(grantFixture('g3', 'inc-1'), q)).toBe('ok');
      // g3 expires at T0 + 15 min: from then on it holds no place, swept or not.
      expect(await store.createGrantIntent(grantFixture('g4', 'inc-1'), quota(1, 1, T0 + 15 * MIN - 1))).not.toBe('ok');
      expect(await store.createGrantIntent(grantFixture('g4', 'inc-1'), quota(1, 1, T0 + 15 * MIN))).toBe('ok');
    });

    it('never lets concurrent intents exceed a quota', async () => {
      await openIncident();
      const results = await Promise.all(
        Array.from({ length: 12 }, (_, i) =>
          store.createGrantIntent(grantFixture(`c${i}`, 'inc-1', { agent: `spiffe://prod.example/a${i % 3}` }), quota(5, 2)),
        ),
      );
      expect(results.filter((r) => r === 'ok').length).toBeLessThanOrEqual(5);
      const live = await store.listGrantsByIncident('inc-1');
      expect(live.length).toBe(results.filter((r) => r === 'ok').length);
      expect(live.length).toBeLessThanOrEqual(5);
      for (const agent of [0, 1, 2])
        expect(live.filter((g) => g.agent === `spiffe://prod.example/a${agent}`).length).toBeLessThanOrEqual(2);
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

    it('commitGrant indexes the credential by its subjects until the grant is purged', async () => {
      await openIncident();
      await intent('g1');
      await intent('g2');
      const subjects = ['aws_access_key_id:ASIAEXAMPLE1', 'vault_accessor:acc-{1}'];
      const committed = await store.commitGrant('g1', { handle: HANDLE, expiresAt: T0 + 10 * MIN, subjects });
      expect(committed?.subjects).toEqual(subjects);
      expect((await store.getGrant('g1'))?.subjects).toEqual(subjects);
      // A grant committed without subjects has none, and is found by none.
      expect((await store.commitGrant('g2', { handle: HANDLE, expiresAt: T0 + 10 * MIN }))?.subjects).toBeUndefined();
      expect(await store.findGrantBySubject(subjects[0] as string)).toBe('g1');
      expect(await store.findGrantBySubject(subjects[1] as string)).toBe('g1');
      expect(await store.findGrantBySubject('aws_access_key_id:ASIAEXAMPLE2')).toBeNull();
      await store.closeIncident('inc-1', T0 + MIN, 'bob');
      for (const id of ['g1', 'g2']) await store.finishRevocation(id, { state: 'revoked', at: T0 + MIN, confirmed: true });
      // Kept while the ended grant is, forgotten with it.
      expect(await store.findGrantBySubject(subjects[0] as string)).toBe('g1');
      expect(await store.purgeEndedGrants(T0 + MIN, 10)).toBe(2);
      expect(await store.findGrantBySubject(subjects[0] as string)).toBeNull();
      expect(await store.findGrantBySubject(subjects[1] as string)).toBeNull();
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
      expect(failed).toEqual({
        ...grantFixture('g1', 'inc-1'),
        state: 'failed',
        endedAt: T0 + 1000,
        lastError: 'ERR_PROVIDER_UNAVAILABLE',
      });
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

      expect(await store.getGrant('active')).toMatchObject({
        state: 'revoking',
        revokeReason: 'incident_closed',
        revokeRequestedAt: closedAt,
        handle: HANDLE,
      });
      expect(await store.getGrant('issuing')).toMatchObject({
        state: 'revoking',
        revokeReason: 'incident_closed',
        revokeRequestedAt: closedAt,
      });
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
      expect(await store.claimRevocations(T0 + 10 * MIN, 10, LEASE)).toEqual([
        { grantId: 'g1', attempt: 2, leasedUntil: T0 + 10 * MIN + LEASE },
      ]);
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

    it('lists no grant for an agent whose intent was refused (closed incident)', async () => {
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
      expect((await store.updateIncident('inc-1', { severity: 'sev3' }))?.incident).toEqual({
        ...opened,
        severity: 'sev3',
        title: 'Payments down',
      });
    });

    it("sets and ends an open incident's assigned agents", async () => {
      const opened = await openIncident();
      const assigned = await store.updateIncident('inc-1', {
        agents: ['spiffe://prod\\.example/ns/ir/sa/triage', 'spiffe://prod\\.example/ns/ir/sa/contain'],
      });
      expect(assigned?.incident).toEqual({
        ...opened,
        agents: ['spiffe://prod\\.example/ns/ir/sa/triage', 'spiffe://prod\\.example/ns/ir/sa/contain'],
      });
      expect((await store.updateIncident('inc-1', { severity: 'sev1' }))?.incident.agents).toEqual(assigned?.incident.agents);
      const ended = await store.updateIncident('inc-1', { agents: null });
      expect(ended?.incident).toEqual({ ...opened, severity: 'sev1' });
      expect(await store.getIncident('inc-1')).not.toHaveProperty('agents');
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
      expect(await store.requestRevocation('g1', 'released', at)).toMatchObject({
        state: 'revoking',
        revokeReason: 'released',
        revokeRequestedAt: at,
      });
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

  describe('counting live grants', () => {
    it('counts the grants of an incident that have not ended and have not passed their expiry', async () => {
      await openIncident();
      await active('g1', 'inc-1', { expiresAt: T0 + 10 * MIN });
      await active('g2', 'inc-1', { expiresAt: T0 + 20 * MIN });
      await intent('g3');
      expect(await store.countLiveGrants('inc-1', T0)).toBe(3);
      await store.closeIncident('inc-1', T0 + MIN, 'bob');
      // Revoking still counts until it ends.
      expect(await store.countLiveGrants('inc-1', T0 + MIN)).toBe(3);
      await store.finishRevocation('g1', { state: 'revoked', at: T0 + 2 * MIN, confirmed: true });
      await store.finishRevocation('g3', { state: 'revoked', at: T0 + 2 * MIN, confirmed: false });
      expect(await store.countLiveGrants('inc-1', T0 + 2 * MIN)).toBe(1);
      // Past its expiry it is dead, whatever its state says.
      expect(await store.countLiveGrants('inc-1', T0 + 20 * MIN)).toBe(0);
      expect(await store.countLiveGrants('inc-unknown', T0)).toBe(0);
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

  describe('retention', () => {
    const AGENT = grantFixture('x', 'inc-1').agent;
    /** g-revoked (revoked at T0+2m), g-failed (failed at T0+1m), g-expired (expired at T0+15m), g-live (active), all in inc-1. */
    const endFour = async (): Promise<void> => {
      await openIncident();
      await active('g-revoked');
      await store.requestRevocation('g-revoked', 'released', T0 + MIN);
      expect((await store.finishRevocation('g-revoked', { state: 'revoked', at: T0 + 2 * MIN, confirmed: true }))?.state).toBe('revoked');
      await intent('g-failed');
      expect((await store.failGrant('g-failed', T0 + MIN, 'upstream 503'))?.state).toBe('failed');
      await active('g-expired', 'inc-1', { expiresAt: T0 + 15 * MIN });
      await active('g-live', 'inc-1', { expiresAt: T0 + 60 * MIN });
      expect(await store.expireGrants(T0 + 20 * MIN, 10)).toEqual(['g-expired']);
    };

    it('forgets grants that ended at or before the cutoff, oldest first, and keeps the rest', async () => {
      await endFour();
      // The valid case: every grant is there before the purge.
      expect(sorted((await store.listGrantsByIncident('inc-1')).map((g) => g.id))).toEqual([
        'g-expired',
        'g-failed',
        'g-live',
        'g-revoked',
      ]);
      expect(await store.purgeEndedGrants(T0 + 2 * MIN, 1)).toBe(1);
      expect(await store.getGrant('g-failed')).toBeNull();
      expect(await store.getGrant('g-revoked')).not.toBeNull();
      expect(await store.purgeEndedGrants(T0 + 2 * MIN, 10)).toBe(1);
      expect(await store.getGrant('g-revoked')).toBeNull();
      // g-expired ended at T0+15m: after this cutoff, so kept; g-live never ended.
      expect(await store.purgeEndedGrants(T0 + 2 * MIN, 10)).toBe(0);
      expect(sorted((await store.listGrantsByIncident('inc-1')).map((g) => g.id))).toEqual(['g-expired', 'g-live']);
      expect(await store.purgeEndedGrants(T0 + 15 * MIN, 10)).toBe(1);
      expect((await store.listGrantsByIncident('inc-1')).map((g) => g.id)).toEqual(['g-live']);
      expect((await store.listGrantsByAgent(AGENT)).map((g) => g.id)).toEqual(['g-live']);
      expect((await store.listGrantsByAgent(AGENT, { incidentId: 'inc-1' })).map((g) => g.id)).toEqual(['g-live']);
      expect(await store.purgeEndedGrants(T0 + 999 * MIN, 10)).toBe(0);
      expect((await store.getGrant('g-live'))?.state).toBe('active');
    });

    it('never forgets a grant that is revoking, however old its request', async () => {
      await openIncident();
      await active('g1');
      await store.closeIncident('inc-1', T0, 'bob');
      expect(await store.purgeEndedGrants(T0 + 999 * MIN, 10)).toBe(0);
      expect((await store.getGrant('g1'))?.state).toBe('revoking');
      expect(await store.finishRevocation('g1', { state: 'revoked', at: T0 + MIN, confirmed: true })).not.toBeNull();
      expect(await store.purgeEndedGrants(T0 + 999 * MIN, 10)).toBe(1);
      expect(await store.getGrant('g1')).toBeNull();
    });

    it("drops a closed incident from an agent's incidents once none of its grants is left there, not an open one", async () => {
      await openIncident('inc-1');
      await openIncident('inc-2');
      await active('g1', 'inc-1');
      await active('g2', 'inc-2');
      await store.closeIncident('inc-1', T0 + MIN, 'bob');
      await store.requestRevocation('g2', 'released', T0 + MIN);
      await store.finishRevocation('g1', { state: 'revoked', at: T0 + 2 * MIN, confirmed: true });
      await store.finishRevocation('g2', { state: 'revoked', at: T0 + 2 * MIN, confirmed: true });
      expect(await store.purgeEndedGrants(T0 + 2 * MIN, 10)).toBe(2);
      expect(await store.listGrantsByAgent(AGENT)).toEqual([]);
      // The open incident still takes the agent's new grants, and lists them.
      await active('g3', 'inc-2');
      expect((await store.listGrantsByAgent(AGENT)).map((g) => g.id)).toEqual(['g3']);
      // A forgotten grant frees no more quota than it held: the agent holds exactly the new one.
      expect(await store.createGrantIntent(grantFixture('g4', 'inc-2'), { perIncident: 0, perAgent: 1, now: T0 + 3 * MIN })).toBe(
        'quota_agent',
      );
    });

    it('forgets nothing when the limit is 0, and leaves the incident and the audit as they are', async () => {
      await endFour();
      const event = await store.appendAudit({
        at: T0,
        type: 'grant.revoked',
        actor: 'quartermaster',
        incidentId: 'inc-1',
        grantId: 'g-revoked',
      });
      expect(await store.purgeEndedGrants(T0 + 999 * MIN, 0)).toBe(0);
      expect(await store.listGrantsByIncident('inc-1')).toHaveLength(4);
      expect(await store.purgeEndedGrants(T0 + 999 * MIN, 10)).toBe(3);
      expect((await store.getIncident('inc-1'))?.status).toBe('open');
      expect(await store.listAudit({ incidentId: 'inc-1', limit: 10 })).toEqual([event]);
    });
  });
}
