/**
 * The agent kill switch on two brokers over one Redis: a quarantine revokes every grant of the
 * agent in every incident and refuses it new ones on every replica, while another agent is served;
 * grant requests racing the quarantine never leave a live credential; a named operator lifts it
 * with a reason; the CLI quarantines and lifts through the same flows.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestBroker, type TestBroker } from '../support/broker_harness.js';
import { runCli } from '../support/cli.js';
import { eventually } from '../support/eventually.js';
import { startRedisServer, type RedisServer } from '../support/redis_server.js';
import { testConfig } from '../support/test_config.js';

const AGENT = 'spiffe://dev.local/agent/rogue';
const OTHER = 'spiffe://dev.local/agent/triage';
let redis: RedisServer;
let brokers: TestBroker[] = [];
let configFile: string;

beforeAll(async () => {
  redis = await startRedisServer();
  const keyDir = mkdtempSync(join(tmpdir(), 'qm-quarantine-'));
  const options = { keyDir, store: { kind: 'redis' as const, url: redis.url, keyPrefix: 'qm-quarantine:' } };
  brokers = [await startTestBroker(options), await startTestBroker(options)];
  configFile = join(keyDir, 'quartermaster.yaml');
  writeFileSync(configFile, testConfig(options).yaml);
});
afterAll(async () => {
  await Promise.all(brokers.map((b) => b.stop()));
  await redis?.stop();
});

const path = (agent: string) => `/v1/agents/${encodeURIComponent(agent)}`;
const open = async (b: TestBroker, id: string) =>
  expect(
    (await b.request('POST', '/v1/incidents', { token: await b.operatorToken(), body: { id, title: 't', severity: 'sev2' } })).status,
  ).toBe(201);
const ask = async (b: TestBroker, agent: string, incidentId: string) =>
  b.request('POST', '/v1/grants', { token: await b.agentToken(agent), body: { incident_id: incidentId, profile: 'demo', purpose: 'p' } });

describe('agent quarantine', () => {
  it('revokes every grant of the agent everywhere, refuses it on every replica, and serves others', async () => {
    const [a, b] = brokers as [TestBroker, TestBroker];
    await open(a, 'INC-Q1');
    await open(a, 'INC-Q2');
    const rogue = [await ask(a, AGENT, 'INC-Q1'), await ask(b, AGENT, 'INC-Q2')];
    expect(rogue.map((r) => r.status)).toEqual([201, 201]);
    expect((await ask(a, OTHER, 'INC-Q1')).status).toBe(201);
    const operator = await a.operatorToken('alice@example.com');
    const res = await a.request('POST', `${path(AGENT)}/quarantine`, { token: operator, body: { reason: 'exfiltration suspected' } });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({
      quarantine: { state: 'quarantined', agent: AGENT, by: 'alice@example.com', reason: 'exfiltration suspected' },
      grants_to_revoke: 2,
    });
    const viewed = await eventually(async () => {
      const v = await b.request('GET', path(AGENT), { token: await b.operatorToken() });
      return v.body.grants.every((g: { state: string }) => g.state === 'revoked') ? v.body : null;
    });
    expect(viewed.grants.map((g: { revoke_reason: string }) => g.revoke_reason)).toEqual(['quarantined', 'quarantined']);
    const refused = await ask(b, AGENT, 'INC-Q1');
    expect([refused.status, refused.body.error.code]).toEqual([403, 'ERR_AGENT_QUARANTINED']);
    expect((await ask(b, OTHER, 'INC-Q2')).status).toBe(201);
    // Quarantining again changes nothing but says so.
    expect((await b.request('POST', `${path(AGENT)}/quarantine`, { token: operator, body: { reason: 'again' } })).status).toBe(200);
    // Lifted by a named operator, with a reason: served again.
    const lifted = await b.request('POST', `${path(AGENT)}/quarantine/lift`, {
      token: await b.operatorToken('bob@example.com'),
      body: { reason: 'false positive' },
    });
    expect(lifted.body.quarantine).toMatchObject({ state: 'lifted', by: 'bob@example.com', reason: 'false positive' });
    expect((await ask(a, AGENT, 'INC-Q1')).status).toBe(201);
    const again = await a.request('POST', `${path(AGENT)}/quarantine/lift`, { token: operator, body: { reason: 'x' } });
    expect([again.status, again.body.error.code]).toEqual([409, 'ERR_NOT_QUARANTINED']);
    const audit = await a.request('GET', '/v1/audit', { token: operator });
    const kinds = audit.body.events
      .filter((e: { type: string }) => e.type.startsWith('agent.'))
      .map((e: any) => [e.type, e.actor, e.data.reason]);
    expect(kinds).toEqual([
      ['agent.quarantined', 'alice@example.com', 'exfiltration suspected'],
      ['agent.quarantined', 'alice@example.com', 'again'],
      ['agent.quarantine_lifted', 'bob@example.com', 'false positive'],
    ]);
  });

  it('leaves no live credential to an agent whose grant requests race its quarantine', async () => {
    const [a, b] = brokers as [TestBroker, TestBroker];
    const racer = 'spiffe://dev.local/agent/racer';
    await open(a, 'INC-RACE');
    const requests = Array.from({ length: 30 }, (_, i) => ask(i % 2 ? a : b, racer, 'INC-RACE'));
    const quarantined = a.request('POST', `${path(racer)}/quarantine`, { token: await a.operatorToken(), body: { reason: 'race' } });
    const answers = await Promise.all(requests);
    expect((await quarantined).status).toBe(201);
    // Some requests may have won the race and got a credential; each of those ends revoked.
    for (const r of answers) expect([201, 403]).toContain(r.status);
    await eventually(async () => {
      const v = await b.request('GET', path(racer), { token: await b.operatorToken() });
      return v.body.grants.every((g: { state: string }) => g.state === 'revoked' || g.state === 'failed');
    });
    expect((await ask(a, racer, 'INC-RACE')).status).toBe(403);
  });

  it('quarantines and lifts from the CLI through the same flows', async () => {
    const [a] = brokers as [TestBroker];
    const cliAgent = 'spiffe://dev.local/agent/cli';
    await open(a, 'INC-QCLI');
    expect((await ask(a, cliAgent, 'INC-QCLI')).status).toBe(201);
    const q = await runCli(['agent', 'quarantine', cliAgent, '--reason', 'from the cli', '--by', 'carol', '--config', configFile]);
    expect([q.code, JSON.parse(q.stdout)]).toEqual([
      0,
      { quarantine: expect.objectContaining({ state: 'quarantined', by: 'carol' }), grants_to_revoke: 1 },
    ]);
    expect((await ask(a, cliAgent, 'INC-QCLI')).status).toBe(403);
    const lift = await runCli(['agent', 'lift', cliAgent, '--reason', 'cleared', '--by', 'carol', '--config', configFile]);
    expect(lift.code).toBe(0);
    expect((await ask(a, cliAgent, 'INC-QCLI')).status).toBe(201);
    const noReason = await runCli(['agent', 'quarantine', cliAgent, '--config', configFile]);
    expect(noReason.code).toBe(2);
  });
});
