/**
 * Two brokers on one Redis, one fake Vault: each broker makes its own parent token for the same
 * incident (parents are secrets and live in a process's memory only), and closing the incident on
 * one broker kills every parent of it — the one its live grant names, the one the other broker
 * made for a grant already released, and, in the parent sweep, the parent of an incident whose
 * grants had all ended before the close.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { provisionVault } from '../fakes/vault/provision.js';
import { startFakeVault, type FakeVault } from '../fakes/vault/server.js';
import { startTestBroker, type TestBroker } from '../support/broker_harness.js';
import { eventually } from '../support/eventually.js';
import { startRedisServer, type RedisServer } from '../support/redis_server.js';
import { VAULT_PROFILES, vaultProviderConfig } from './vault_world.js';

const AGENT = 'spiffe://dev.local/agent/triage';
let fake: FakeVault;
let redis: RedisServer;
let brokers: TestBroker[] = [];

beforeAll(async () => {
  fake = await startFakeVault();
  redis = await startRedisServer();
  const provisioned = await provisionVault(fake.url, fake.rootToken);
  const start = () =>
    startTestBroker({
      store: { kind: 'redis', url: redis.url, keyPrefix: 'qm-parents:' },
      profiles: { 'vault-read': VAULT_PROFILES['vault-read'] },
      providers: { vault: vaultProviderConfig(fake, provisioned, { parentSweepSeconds: 1 }) },
    });
  brokers = [await start(), await start()];
});
afterAll(async () => {
  await Promise.all(brokers.map((b) => b.stop()));
  await redis?.stop();
  await fake?.stop();
});

/** Every parent token Vault holds for the incident, alive or not (by the metadata the broker sets). */
const parentsOf = (incidentId: string): string[] =>
  fake.state.tokens
    .all()
    .filter((t) => t.meta.incident_id === incidentId && t.meta.created_by === 'quartermaster')
    .map((t) => t.accessor);

async function openIncident(broker: TestBroker, id: string): Promise<void> {
  const res = await broker.request('POST', '/v1/incidents', {
    token: await broker.operatorToken(),
    body: { id, title: 't', severity: 'sev2' },
  });
  expect(res.status).toBe(201);
}
async function grant(broker: TestBroker, incidentId: string): Promise<{ id: string; token: string }> {
  const res = await broker.request('POST', '/v1/grants', {
    token: await broker.agentToken(AGENT),
    body: { incident_id: incidentId, profile: 'vault-read', purpose: 'read' },
  });
  expect(res.status).toBe(201);
  return { id: res.body.grant.id as string, token: res.body.credential.vault_token as string };
}

describe('Vault parents across brokers', () => {
  it("dies on close, every parent of the incident, whichever broker made it and whatever its grants' states", async () => {
    const [a, b] = brokers as [TestBroker, TestBroker];
    await openIncident(a, 'INC-2P');
    await grant(a, 'INC-2P');
    const released = await grant(b, 'INC-2P');
    const parents = parentsOf('INC-2P');
    expect(parents).toHaveLength(2);
    expect(parents.every((p) => fake.tokenAlive(p))).toBe(true);
    expect((await b.request('DELETE', `/v1/grants/${released.id}`, { token: await b.agentToken(AGENT) })).status).toBe(202);
    const closed = await a.request('POST', '/v1/incidents/INC-2P/close', { token: await a.operatorToken() });
    expect(closed.status).toBe(202);
    await eventually(async () => parents.every((p) => !fake.tokenAlive(p)));
  });

  it('dies after a close that had nothing left to revoke: the sweep takes the parent', async () => {
    const [a, b] = brokers as [TestBroker, TestBroker];
    await openIncident(a, 'INC-2S');
    const only = await grant(b, 'INC-2S');
    const [parent] = parentsOf('INC-2S') as [string];
    expect((await b.request('DELETE', `/v1/grants/${only.id}`, { token: await b.agentToken(AGENT) })).status).toBe(202);
    await eventually(async () => {
      const read = await a.request('GET', '/v1/incidents/INC-2S?grants=true', { token: await a.operatorToken() });
      return read.body.grants?.[0]?.state === 'revoked';
    });
    expect(fake.tokenAlive(parent)).toBe(true);
    const closed = await a.request('POST', '/v1/incidents/INC-2S/close', { token: await a.operatorToken() });
    expect(closed.body.revocation).toMatchObject({ total: 1 });
    await eventually(async () => !fake.tokenAlive(parent));
  });
});
