/** The store contract for records: what goes in comes out unchanged, and no text an attacker chose can block an operation. */
import { beforeEach, expect, it } from 'vitest';
import type { Store } from '../../../src/store/store.js';
import { HANDLE, LEASE, MIN, T0, incidentFixture, type ContractWorld } from './world.js';

export function describeRecordsContract(world: ContractWorld): void {
  let store!: Store;
  beforeEach(() => {
    store = world.store();
  });
  const { openIncident, intent, active } = world;

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
}
