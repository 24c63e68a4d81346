/**
 * End to end over HTTP with the fake Vault (issue 4, "what it must show" 1): three agents get 50
 * grants (child tokens and dynamic database secrets) on one incident; the incident closes; the
 * broker revokes it with one revoke-accessor per parent token and no per-grant revokes; the fake
 * confirms every token and lease dead; the report shows 50/50 confirmed. Then every log line is
 * searched for the issued Vault tokens, accessors and passwords.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { eventually } from '../support/broker_harness.js';
import { AGENTS, startVaultWorld, type VaultWorld } from './vault_world.js';

let world: VaultWorld;
beforeAll(async () => {
  world = await startVaultWorld({ logLevel: 'trace' });
});
afterAll(async () => world?.stop());

it('closes an incident of 50 Vault grants with O(1) revoke calls, all confirmed dead', async () => {
  const { qm, fake } = world;
  await world.openIncident('INC-VAULT-50');
  const tokens = await Promise.all(AGENTS.map((a) => qm.agentToken(a)));
  const credentials: Array<Record<string, any>> = [];
  for (let i = 0; i < 50; i++) {
    const profile = i % 2 === 0 ? 'vault-read' : 'db-read';
    const res = await qm.request('POST', '/v1/grants', {
      token: tokens[i % 3] as string,
      body: { incident_id: 'INC-VAULT-50', profile, purpose: `task ${i}` },
    });
    expect(res.status, res.text).toBe(201);
    credentials.push(res.body.credential);
  }
  const vaultTokens = credentials.filter((c) => c.vault_token).map((c) => c.vault_token as string);
  const dynamicSecrets = credentials.filter((c) => c.username !== undefined);
  expect([vaultTokens.length, dynamicSecrets.length]).toEqual([25, 25]);
  // Agents get no lease id (nothing to renew with); the leases live in Vault, held by broker children.
  expect(credentials.some((c) => 'lease_id' in c)).toBe(false);
  const leases = (await qm.broker.store.listGrantsByIncident('INC-VAULT-50')).flatMap((g) =>
    typeof g.handle?.leaseId === 'string' ? [g.handle.leaseId] : [],
  );
  expect(leases).toHaveLength(25);
  for (const lease of leases) expect(fake.leaseAlive(lease)).toBe(true);
  const children = fake.state.tokens.all().filter((t) => t.meta.incident_id === 'INC-VAULT-50' && t.meta.grant_id !== undefined);
  expect(children).toHaveLength(50);
  const parents = new Set(children.map((t) => t.parentId));
  expect(parents.size).toBe(1); // one broker process: one parent for the incident
  // Each grant is found by its child token's accessor, as a signal from Vault's audit device names it.
  for (const child of children)
    expect(await qm.broker.store.findGrantBySubject(`vault_accessor:${child.accessor}`)).toBe(child.meta.grant_id);
  const parentTokens = [...parents].map((id) => fake.state.tokens.byId(String(id))!);
  expect(parentTokens.every((p) => p.orphan && !p.renewable)).toBe(true);
  expect(fake.state.leases.liveSecrets.size).toBe(25);

  fake.resetCounts();
  const closed = await qm.request('POST', '/v1/incidents/INC-VAULT-50/close', { token: await world.operator() });
  expect(closed.status).toBe(202);
  const report = await eventually(async () => {
    const res = await qm.request('GET', '/v1/incidents/INC-VAULT-50', { token: await world.operator() });
    return res.body.revocation.by_state.revoked === 50 ? res.body : null;
  });
  expect(report.revocation).toMatchObject({ total: 50, confirmed: 50, unconfirmed: 0, outstanding: 0 });
  expect(report.grants.every((g: any) => g.state === 'revoked' && g.revocation_confirmed === true)).toBe(true);

  // O(1): one revoke-accessor per parent token, nothing per grant.
  expect(fake.count('auth/token/revoke-accessor')).toBe(parents.size);
  expect(fake.count('sys/leases/revoke')).toBe(0);
  for (const child of children) expect(fake.tokenAlive(child.accessor)).toBe(false);
  for (const lease of leases) expect(fake.leaseAlive(lease)).toBe(false);
  expect(fake.state.leases.liveSecrets.size).toBe(0);

  const audit = await qm.request('GET', '/v1/audit?incident=INC-VAULT-50&limit=1000', { token: await world.operator() });
  const types = audit.body.events.map((e: { type: string }) => e.type);
  expect(types.filter((t: string) => t === 'grant.issued')).toHaveLength(50);
  expect(types.filter((t: string) => t === 'grant.revoked')).toHaveLength(50);
  expect(fake.unexpected).toEqual([]);

  // Guarantee 5 for Vault: no token, accessor, lease secret or broker credential in any log line or audit event.
  const secrets: Record<string, string> = { brokerToken: world.provisioned.brokerToken };
  for (const t of children) secrets[`accessor of ${t.meta.grant_id}`] = t.accessor;
  for (const [i, p] of parentTokens.entries())
    Object.assign(secrets, { [`parent token ${i}`]: p.id, [`parent accessor ${i}`]: p.accessor });
  for (const [i, token] of vaultTokens.entries()) secrets[`vault_token ${i}`] = token;
  for (const [i, c] of credentials.entries()) if (c.password) secrets[`password ${i}`] = c.password;
  const sinks = { logs: qm.logs.text(), audit: audit.text };
  expect(sinks.logs.length).toBeGreaterThan(5000);
  const leaks = Object.entries(sinks).flatMap(([sink, text]) =>
    Object.entries(secrets)
      .filter(([, v]) => text.includes(v))
      .map(([name]) => `${name} in ${sink}`),
  );
  expect(leaks).toEqual([]);
});
