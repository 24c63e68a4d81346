/**
 * Every Vault parent of an incident dies with it: each parent's accessor is recorded in the shared
 * store before a child is made under it, and the close revokes all of them — those the live grants
 * name at once (revokeIncident), and the rest (grants released or expired before the close, parents
 * another replica or an earlier process made) in the parent sweep. With the fake Vault.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createIncidentRecords } from '../../src/incident_records.js';
import type { IssuedCredential, Provider, Scheduler } from '../../src/sdk.js';
import { createMemoryStore } from '../../src/store/memory_store.js';
import type { Store } from '../../src/store/store.js';
import type { VaultProfileParams } from '../../providers/vault/config.js';
import { incidentFixture } from '../store/contract/world.js';
import {
  expectNoUnexpectedCalls,
  issueRequest,
  refOf,
  signal,
  startVaultFixture,
  TOKEN_PARAMS,
  type VaultFixture,
} from './vault_fixture.js';

let fixture: VaultFixture | undefined;
expectNoUnexpectedCalls(() => fixture?.fake);
afterEach(async () => {
  await fixture?.stop();
  fixture = undefined;
});

/** Timers the test fires by hand: the sweep (every parentSweepSeconds, 30 s) runs when the test says. */
function heldTimers(): { scheduler: Scheduler; sweeps: () => number; fireSweep: () => void } {
  const SWEEP_MS = 30_000;
  const tasks = new Map<number, { fn: () => void; delayMs: number }>();
  let seq = 0;
  const sweeps = (): Array<[number, () => void]> =>
    [...tasks.entries()].filter(([, t]) => t.delayMs === SWEEP_MS).map(([id, t]) => [id, t.fn]);
  return {
    scheduler: {
      set: (fn, delayMs) => {
        tasks.set(++seq, { fn, delayMs });
        return seq;
      },
      clear: (handle) => void tasks.delete(handle as number),
    },
    sweeps: () => sweeps().length,
    fireSweep: () => {
      const [[id, fn]] = sweeps() as [[number, () => void]];
      tasks.delete(id);
      fn();
    },
  };
}

interface Replica {
  readonly provider: Provider<VaultProfileParams>;
  readonly timers: ReturnType<typeof heldTimers>;
}

async function world(): Promise<{ fx: VaultFixture; store: Store; replica: () => Promise<Replica> }> {
  fixture = await startVaultFixture();
  const fx = fixture;
  const store = createMemoryStore();
  return {
    fx,
    store,
    async replica() {
      const timers = heldTimers();
      const provider = await fx.provider({}, { incidentRecords: createIncidentRecords(store, 'vault') }, { scheduler: timers.scheduler });
      return { provider, timers };
    },
  };
}

const parentOf = (issued: IssuedCredential): string => String(issued.handle.parentAccessor);
const recorded = async (store: Store, incidentId: string): Promise<string[]> =>
  [...((await store.listIncidentRecords('vault', incidentId))[0]?.values ?? [])].sort();

/** Runs a replica's sweep and waits until it has planned the next one (its work is done). */
async function sweep(replica: Replica): Promise<void> {
  replica.timers.fireSweep();
  await expect.poll(() => replica.timers.sweeps(), { timeout: 5000, interval: 5 }).toBe(1);
}

describe('vault parents die with their incident', () => {
  it('records each parent before its first child, and revokes it in the sweep once the incident closed with no live grant', async () => {
    const { fx, store, replica } = await world();
    const a = await replica();
    await store.createIncident(incidentFixture('INC-P1'));
    const req = issueRequest(TOKEN_PARAMS, { incidentId: 'INC-P1' });
    const issued = await a.provider.issue(req);
    const parent = parentOf(issued);
    expect(await recorded(store, 'INC-P1')).toEqual([parent]);
    // Released: its child dies, the parent (every agent policy plus auth/token/create) lives on.
    await a.provider.revokeGrant({ ...refOf(req, issued), signal: signal() });
    expect(fx.fake.tokenAlive(String(issued.handle.accessor))).toBe(false);
    expect(fx.fake.tokenAlive(parent)).toBe(true);
    // A sweep while the incident is open leaves it alone.
    await sweep(a);
    expect(fx.fake.tokenAlive(parent)).toBe(true);
    // Closed with nothing left to revoke: no revocation job exists, the sweep takes the parent.
    await store.closeIncident('INC-P1', Date.now(), 'alice');
    await sweep(a);
    expect(fx.fake.tokenAlive(parent)).toBe(false);
    expect(await recorded(store, 'INC-P1')).toEqual([]);
  });

  it('revokes at close every parent recorded for the incident, also one another replica made whose grants all ended', async () => {
    const { fx, store, replica } = await world();
    const [a, b] = [await replica(), await replica()];
    await store.createIncident(incidentFixture('INC-P2'));
    const reqA = issueRequest(TOKEN_PARAMS, { incidentId: 'INC-P2' });
    const reqB = issueRequest(TOKEN_PARAMS, { incidentId: 'INC-P2' });
    const [onA, onB] = [await a.provider.issue(reqA), await b.provider.issue(reqB)];
    // Two processes, two parents, both recorded.
    expect(parentOf(onA)).not.toBe(parentOf(onB));
    expect(await recorded(store, 'INC-P2')).toEqual([parentOf(onA), parentOf(onB)].sort());
    // B's grant was released; the close's job names only A's grant, and A revokes both trees.
    await b.provider.revokeGrant({ ...refOf(reqB, onB), signal: signal() });
    await store.closeIncident('INC-P2', Date.now(), 'alice');
    const receipts = await a.provider.revokeIncident?.({ incidentId: 'INC-P2', grants: [refOf(reqA, onA)], signal: signal() });
    expect(receipts).toEqual([{ grantId: reqA.grantId, outcome: 'revoked', confirmed: true }]);
    for (const parent of [parentOf(onA), parentOf(onB)]) expect(fx.fake.tokenAlive(parent)).toBe(false);
    expect(await recorded(store, 'INC-P2')).toEqual([]);
  });

  it('sweeps the parents another replica made, and keeps a parent whose revocation failed for the next sweep', async () => {
    const { fx, store, replica } = await world();
    const [a, b] = [await replica(), await replica()];
    await store.createIncident(incidentFixture('INC-P3'));
    const req = issueRequest(TOKEN_PARAMS, { incidentId: 'INC-P3' });
    const parent = parentOf(await b.provider.issue(req));
    await store.closeIncident('INC-P3', Date.now(), 'alice');
    // Vault down during A's sweep: the parent stays recorded (and alive, bounded by its max TTL).
    await fx.fake.goDown();
    await sweep(a);
    expect(await recorded(store, 'INC-P3')).toEqual([parent]);
    await fx.fake.comeBack();
    expect(fx.fake.tokenAlive(parent)).toBe(true);
    await sweep(a);
    expect(fx.fake.tokenAlive(parent)).toBe(false);
    expect(await recorded(store, 'INC-P3')).toEqual([]);
  });

  it('refuses a grant, and revokes the parent it made, when the store cannot record that parent', async () => {
    const { fx, store, replica } = await world();
    const a = await replica();
    await store.createIncident(incidentFixture('INC-P4'));
    // Baseline: the store records, the grant is issued.
    await expect(a.provider.issue(issueRequest(TOKEN_PARAMS, { incidentId: 'INC-P4' }))).resolves.toMatchObject({
      secretFields: ['vault_token'],
    });
    const creates = fx.fake.count('auth/token/create/:role');
    const revokes = fx.fake.count('auth/token/revoke-accessor');
    const failing = {
      ...createIncidentRecords(store, 'vault'),
      add: async () => {
        throw new Error('store down');
      },
    };
    const broken = await fx.provider({}, { incidentRecords: failing }, { scheduler: heldTimers().scheduler });
    await expect(broken.issue(issueRequest(TOKEN_PARAMS, { incidentId: 'INC-P5' }))).rejects.toMatchObject({
      code: 'ERR_PROVIDER_UNAVAILABLE',
    });
    // It made a parent, revoked it, and made no child: nothing of the incident is alive.
    expect(fx.fake.count('auth/token/create/:role') - creates).toBe(1);
    expect(fx.fake.count('auth/token/revoke-accessor') - revokes).toBe(1);
    expect(fx.fake.state.tokens.all().filter((t) => t.meta.incident_id === 'INC-P5')).toEqual([]);
  });
});
