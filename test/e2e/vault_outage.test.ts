/**
 * Vault outages end to end (issue 4, "what it must show" 2 and 3):
 *  - Vault down before a close: the grants wait in `revoking`, are retried with backoff and
 *    escalated past the deadline (metric + audit), then all end `revoked` once Vault is back,
 *    with no restart and exactly one parent revoke: no duplicate damage.
 *  - Vault down at issue: 503 ERR_PROVIDER_UNAVAILABLE and the grant is `failed`, never active.
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

const report = async (w: VaultWorld, id: string) => (await w.qm.request('GET', `/v1/incidents/${id}`, { token: await w.operator() })).body;

it('keeps grants revoking while Vault is down, escalates past the deadline, and revokes them all once it is back', async () => {
  world = await startVaultWorld({ revocation: { deadlineSeconds: 1, backoffInitialMs: 50, backoffMaxMs: 300 } });
  const w = world;
  await w.openIncident('INC-OUTAGE');
  const agent = await w.qm.agentToken(AGENTS[0]);
  for (let i = 0; i < 10; i++) {
    const res = await w.qm.request('POST', '/v1/grants', {
      token: agent,
      body: { incident_id: 'INC-OUTAGE', profile: i % 2 ? 'db-read' : 'vault-read', purpose: 'p' },
    });
    expect(res.status, res.text).toBe(201);
  }
  const children = w.fake.state.tokens.all().filter((t) => t.meta.incident_id === 'INC-OUTAGE' && t.meta.grant_id !== undefined);
  expect(children).toHaveLength(10);

  await w.fake.goDown();
  w.fake.resetCounts();
  expect((await w.qm.request('POST', '/v1/incidents/INC-OUTAGE/close', { token: await w.operator() })).status).toBe(202);

  // Retried and escalated, never given up on: the overdue metric and audit event appear while all 10 wait.
  await eventually(async () => {
    const metrics = (await w.qm.request('GET', '/metrics')).text;
    return /quartermaster_revocation_overdue_total\{provider="vault"\} [1-9]/u.test(metrics);
  });
  const waiting = await report(w, 'INC-OUTAGE');
  expect(waiting.revocation.by_state.revoking).toBe(10);
  expect(waiting.revocation.outstanding).toBe(10);
  for (const child of children) expect(w.fake.tokenAlive(child.accessor)).toBe(true);

  await w.fake.comeBack();
  const done = await eventually(async () => {
    const body = await report(w, 'INC-OUTAGE');
    return body.revocation.by_state.revoked === 10 ? body : null;
  });
  expect(done.revocation).toMatchObject({ confirmed: 10, outstanding: 0 });
  for (const child of children) expect(w.fake.tokenAlive(child.accessor)).toBe(false);
  expect(w.fake.state.leases.liveSecrets.size).toBe(0);
  // No duplicate damage: one parent revoke once Vault answered, no per-grant revokes.
  expect(w.fake.count('auth/token/revoke-accessor')).toBe(1);
  expect(w.fake.count('sys/leases/revoke')).toBe(0);

  const audit = await w.qm.request('GET', '/v1/audit?incident=INC-OUTAGE&limit=1000', { token: await w.operator() });
  const types: string[] = audit.body.events.map((e: { type: string }) => e.type);
  expect(types.filter((t) => t === 'grant.revoked')).toHaveLength(10);
  expect(types).toContain('revocation.overdue');
});

it('answers 503 ERR_PROVIDER_UNAVAILABLE when Vault is down at issue, and records nothing active', async () => {
  world = await startVaultWorld();
  const w = world;
  await w.openIncident('INC-DOWN');
  const agent = await w.qm.agentToken(AGENTS[1]);
  const before = await w.qm.request('POST', '/v1/grants', {
    token: agent,
    body: { incident_id: 'INC-DOWN', profile: 'vault-read', purpose: 'baseline' },
  });
  expect(before.status).toBe(201);

  await w.fake.goDown();
  for (const profile of ['vault-read', 'db-read']) {
    const res = await w.qm.request('POST', '/v1/grants', { token: agent, body: { incident_id: 'INC-DOWN', profile, purpose: 'p' } });
    expect(res.status).toBe(503);
    expect(res.body).toEqual({ error: { code: 'ERR_PROVIDER_UNAVAILABLE', message: 'service temporarily unavailable; retry later' } });
  }
  w.fake.seal();
  await w.fake.comeBack();
  const sealed = await w.qm.request('POST', '/v1/grants', {
    token: agent,
    body: { incident_id: 'INC-DOWN', profile: 'db-read', purpose: 'p' },
  });
  expect([sealed.status, sealed.body.error.code]).toEqual([503, 'ERR_PROVIDER_UNAVAILABLE']);

  const body = await report(w, 'INC-DOWN');
  const states = body.grants.map((g: { state: string }) => g.state).sort();
  expect(states).toEqual(['active', 'failed', 'failed', 'failed']);
  expect(body.revocation.by_state).toMatchObject({ active: 1, failed: 3, issuing: 0 });
});
