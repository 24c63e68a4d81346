/**
 * `quartermaster incident close` calls the same close flow as the API, against the broker's
 * shared Redis: the tombstone lands, the running broker's worker revokes every grant, and the
 * audit names who closed it.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, startTestBroker, type TestBroker } from '../support/broker_harness.js';
import { runCli } from '../support/cli.js';
import { startRedisServer, type RedisServer } from '../support/redis_server.js';
import { testConfig } from '../support/test_config.js';

let redis: RedisServer;
let qm: TestBroker;
let configFile: string;

beforeAll(async () => {
  redis = await startRedisServer();
  const keyDir = mkdtempSync(join(tmpdir(), 'qm-cli-close-'));
  const store = { kind: 'redis' as const, url: redis.url, keyPrefix: 'qm-cli:' };
  qm = await startTestBroker({ keyDir, store });
  configFile = join(keyDir, 'quartermaster.yaml');
  writeFileSync(configFile, testConfig({ keyDir, store }).yaml);
});
afterAll(async () => {
  await qm?.stop();
  await redis?.stop();
});

describe('quartermaster incident close', () => {
  it('closes through the close flow; the running broker revokes every grant', async () => {
    const operator = await qm.operatorToken();
    expect(
      (await qm.request('POST', '/v1/incidents', { token: operator, body: { id: 'INC-CLI', title: 'cli close', severity: 'sev2' } }))
        .status,
    ).toBe(201);
    const agent = await qm.agentToken('spiffe://dev.local/agent/triage');
    for (let i = 0; i < 2; i++) {
      expect(
        (await qm.request('POST', '/v1/grants', { token: agent, body: { incident_id: 'INC-CLI', profile: 'demo', purpose: 'p' } })).status,
      ).toBe(201);
    }

    const run = await runCli(['incident', 'close', 'INC-CLI', '--by', 'alice@example.com', '--config', configFile]);
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({
      incident: { id: 'INC-CLI', status: 'closed', closed_by: 'alice@example.com' },
      closed_now: true,
      grants_to_revoke: 2,
    });
    const report = await eventually(async () => {
      const res = await qm.request('GET', '/v1/incidents/INC-CLI?grants=false', { token: operator });
      return res.body.revocation.by_state.revoked === 2 ? res.body.revocation : null;
    });
    expect(report).toMatchObject({ total: 2, outstanding: 0 });
    const audit = await qm.request('GET', '/v1/audit?incident=INC-CLI', { token: operator });
    expect(audit.body.events.find((e: { type: string }) => e.type === 'incident.closed')).toMatchObject({
      actor: 'alice@example.com',
      data: { grantsToRevoke: 2 },
    });

    // Closing again is harmless and says so.
    const again = await runCli(['incident', 'close', 'INC-CLI', '--config', configFile]);
    expect([again.code, JSON.parse(again.stdout).closed_now]).toEqual([0, false]);
  });

  it('refuses an unknown incident, a missing id and the memory store with exit 2', async () => {
    const unknown = await runCli(['incident', 'close', 'INC-NOPE', '--config', configFile]);
    expect([unknown.code, unknown.stderr]).toEqual([2, expect.stringContaining('ERR_INCIDENT_NOT_FOUND')]);
    const missing = await runCli(['incident', 'close', '--config', configFile]);
    expect([missing.code, missing.stderr]).toEqual([2, expect.stringContaining('give exactly one incident id')]);
    const memoryFile = join(mkdtempSync(join(tmpdir(), 'qm-cli-mem-')), 'memory.yaml');
    writeFileSync(memoryFile, testConfig().yaml);
    const memory = await runCli(['incident', 'close', 'INC-CLI', '--config', memoryFile]);
    expect([memory.code, memory.stderr]).toEqual([2, expect.stringContaining('memory store')]);
  });
});
