/**
 * The kill at close with the fake Vault (revocation/incident_kill.ts): the close itself revokes the
 * incident's recorded parent token, so every credential is dead before the revocation queue has
 * claimed a job; the queue then confirms each grant without revoking the parent again. A kill that
 * fails loses nothing: the queue revokes the incident once Vault is back.
 */
import { afterEach, expect, it } from 'vitest';
import { eventually } from '../support/broker_harness.js';
import { AGENTS, startVaultWorld, type VaultWorld } from './vault_world.js';

let world: VaultWorld | undefined;
afterEach(async () => {
  expect(world?.fake.unexpected ?? []).toEqual([]);
  await world?.stop();
  world = undefined;
});

const INCIDENT = 'INC-KILL';

/** Six grants on the incident (three child tokens, three database leases); their accessors and lease ids. */
async function issueSix(w: VaultWorld): Promise<{ accessors: string[]; leases: string[] }> {
  await w.openIncident(INCIDENT);
  const agent = await w.qm.agentToken(AGENTS[0]);
  for (let i = 0; i < 6; i++) {
    const res = await w.qm.request('POST', '/v1/grants', {
      token: agent,
      body: { incident_id: INCIDENT, profile: i % 2 ? 'db-read' : 'vault-read', purpose: `task ${i}` },
    });
    expect(res.status, res.text).toBe(201);
  }
  const accessors = w.fake.state.tokens
    .all()
    .filter((t) => t.meta.incident_id === INCIDENT && t.meta.grant_id !== undefined)
    .map((t) => t.accessor);
  const leases = (await w.qm.broker.store.listGrantsByIncident(INCIDENT)).flatMap((g) =>
    typeof g.handle?.leaseId === 'string' ? [g.handle.leaseId] : [],
  );
  expect([accessors.length, leases.length]).toEqual([6, 3]);
  for (const a of accessors) expect(w.fake.tokenAlive(a)).toBe(true);
  return { accessors, leases };
}

const report = async (w: VaultWorld) => (await w.qm.request('GET', `/v1/incidents/${INCIDENT}`, { token: await w.operator() })).body;
const killCount = async (w: VaultWorld, outcome: string): Promise<number> => {
  const text = (await w.qm.request('GET', '/metrics')).text;
  const line = text
    .split('\n')
    .find((l) => l.startsWith(`quartermaster_incident_kill_seconds_count{provider="vault",outcome="${outcome}"}`));
  return line ? Number(line.split(' ').at(-1)) : 0;
};
const revokedNotes = async (w: VaultWorld): Promise<string[]> => {
  const audit = await w.qm.request('GET', `/v1/audit?incident=${INCIDENT}&limit=1000`, { token: await w.operator() });
  return audit.body.events.filter((e: { type: string }) => e.type === 'grant.revoked').map((e: { data: { note: string } }) => e.data.note);
};

it('kills the incident upstream at close with no worker running; the queue then confirms every grant without a second revoke', async () => {
  world = await startVaultWorld({ runWorker: false });
  const w = world;
  const { accessors, leases } = await issueSix(w);
  w.fake.resetCounts();

  expect((await w.qm.request('POST', `/v1/incidents/${INCIDENT}/close`, { token: await w.operator() })).status).toBe(202);
  // Dead upstream, while no job has been claimed: every grant is still revoking in the store.
  await eventually(async () => ((await killCount(w, 'killed')) === 1 ? true : null));
  for (const a of accessors) expect(w.fake.tokenAlive(a)).toBe(false);
  for (const l of leases) expect(w.fake.leaseAlive(l)).toBe(false);
  expect(w.fake.count('auth/token/revoke-accessor')).toBe(1);
  expect((await report(w)).revocation.by_state.revoking).toBe(6);

  // The queue confirms each one; this process revoked the parent, so the receipts say revoked, and nothing is revoked twice.
  expect(await w.qm.broker.worker.runOnce()).toBe(6);
  const done = await report(w);
  expect(done.revocation).toMatchObject({ total: 6, confirmed: 6, outstanding: 0 });
  expect(await revokedNotes(w)).toEqual(Array(6).fill('revoked'));
  expect(w.fake.count('auth/token/revoke-accessor')).toBe(1);
  expect(w.fake.count('auth/token/lookup-accessor')).toBe(6);
});

it('shares the parent revoke in flight between the kill and the first batch: one call, and receipts that say revoked', async () => {
  world = await startVaultWorld({ runWorker: false });
  const w = world;
  const { accessors } = await issueSix(w);
  // Slow enough that the batch below is claimed and read while the kill's revoke is still in flight.
  w.fake.setLatency(150);
  w.fake.resetCounts();

  const closing = w.qm.request('POST', `/v1/incidents/${INCIDENT}/close`, { token: await w.operator() });
  // The kill begins as the store records the close; the close answers only once it has settled.
  await eventually(async () => ((await w.qm.broker.store.getIncident(INCIDENT))?.status === 'closed' ? true : null));
  const batch = w.qm.broker.worker.runOnce();
  const closed = await closing;
  expect(closed.status).toBe(202);
  for (const a of accessors) expect(w.fake.tokenAlive(a)).toBe(false);
  expect(await batch).toBe(6);
  const done = await report(w);
  expect(done.revocation).toMatchObject({ confirmed: 6, outstanding: 0 });
  expect(w.fake.count('auth/token/revoke-accessor')).toBe(1);
  expect(await revokedNotes(w)).toEqual(Array(6).fill('revoked'));
  expect(await killCount(w, 'killed')).toBe(1);
});

it('loses nothing when the kill fails: the credentials stay alive until the queue revokes them once Vault is back', async () => {
  world = await startVaultWorld({ runWorker: false });
  const w = world;
  const { accessors } = await issueSix(w);
  await w.fake.goDown();

  expect((await w.qm.request('POST', `/v1/incidents/${INCIDENT}/close`, { token: await w.operator() })).status).toBe(202);
  await eventually(async () => ((await killCount(w, 'failed')) === 1 ? true : null));
  expect(await killCount(w, 'killed')).toBe(0);
  expect(w.qm.logs.text()).toContain('kill at close failed; the revocation queue revokes every grant of the incident');
  await w.fake.comeBack();
  w.fake.resetCounts();
  for (const a of accessors) expect(w.fake.tokenAlive(a)).toBe(true);
  expect((await report(w)).revocation.by_state.revoking).toBe(6);

  expect(await w.qm.broker.worker.runOnce()).toBe(6);
  expect((await report(w)).revocation).toMatchObject({ total: 6, confirmed: 6, outstanding: 0 });
  for (const a of accessors) expect(w.fake.tokenAlive(a)).toBe(false);
  expect(w.fake.count('auth/token/revoke-accessor')).toBe(1);
});
