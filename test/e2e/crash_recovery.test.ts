/**
 * A broker killed with SIGKILL while revoking 200 grants finishes revoking all of them after a
 * restart on the same Redis (docs/architecture.md flow 4, guarantee 4). The broker runs as a real child
 * process (`node --import tsx src/main.ts --config …`), exactly as `npm start` runs it.
 * revocation.maxPerSecond slows the revocation to ~5 s so the kill lands mid-way; the test checks
 * in Redis that it did.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mintAgentToken, mintOperatorToken } from '../../src/identity/dev_issuer.js';
import { createRedisStore } from '../../src/store/redis_store.js';
import { eventually } from '../support/broker_harness.js';
import { startRedisServer } from '../support/redis_server.js';
import { AGENT_ISSUER, AUDIENCE, OPERATOR_ISSUER, testConfigObject } from '../support/test_config.js';

const GRANTS = 200;
const KEY_PREFIX = 'qm-crash:';

interface Child { proc: ChildProcess; url: string }

async function spawnBroker(configFile: string): Promise<Child> {
  const proc = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', '--config', configFile], {
    cwd: process.cwd(),
    env: { ...process.env, PORT: '0' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const stderr: string[] = [];
  proc.stderr?.on('data', (d: Buffer) => stderr.push(d.toString()));
  const lines = createInterface({ input: proc.stdout! });
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`broker did not start: ${stderr.join('')}`)), 20_000);
    proc.once('exit', (code) => { clearTimeout(timer); reject(new Error(`broker exited ${code}: ${stderr.join('')}`)); });
    lines.on('line', (line) => {
      try {
        const entry = JSON.parse(line) as { msg?: string; url?: string };
        if (entry.msg === 'quartermaster listening' && entry.url) { clearTimeout(timer); resolve(entry.url); }
      } catch { /* non-JSON output is ignored */ }
    });
  });
  return { proc, url };
}

async function call(url: string, method: string, path: string, token: string, body?: unknown): Promise<{ status: number; body: any }> {
  const res = await fetch(`${url}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
  return { status: res.status, body: await res.json() };
}

describe('revocation survives a broker killed with SIGKILL', () => {
  let redis: Awaited<ReturnType<typeof startRedisServer>>;
  const children: ChildProcess[] = [];

  beforeAll(async () => {
    redis = await startRedisServer();
  });
  afterAll(async () => {
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
    await redis?.stop();
  });

  it('finishes revoking all 200 grants after restart on the same Redis', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'qm-crash-'));
    const config = testConfigObject({
      keyDir: join(dir, 'keys'),
      store: { kind: 'redis', url: redis.url, keyPrefix: KEY_PREFIX },
      revocation: { maxPerSecond: 40, batchSize: 10, concurrency: 4, leaseSeconds: 1, pollIntervalMs: 50 },
      logLevel: 'info', // the readiness line ('quartermaster listening') is at info
    });
    const configFile = join(dir, 'quartermaster.yaml');
    writeFileSync(configFile, stringify(config));

    const first = await spawnBroker(configFile);
    children.push(first.proc);
    const keyDir = join(dir, 'keys');
    const operator = await mintOperatorToken({ keyDir, issuer: OPERATOR_ISSUER, audience: AUDIENCE, subject: 'alice@example.com', roles: ['operator'], ttlSeconds: 3600, now: Date.now() });
    const agent = await mintAgentToken({ keyDir, issuer: AGENT_ISSUER, audience: AUDIENCE, agentId: 'spiffe://dev.local/agent/triage', ttlSeconds: 3600, now: Date.now() });

    expect((await call(first.url, 'POST', '/v1/incidents', operator, { id: 'INC-CRASH', title: 'crash', severity: 'sev1' })).status).toBe(201);
    for (let i = 0; i < GRANTS; i += 20) {
      const batch = await Promise.all(Array.from({ length: 20 }, () =>
        call(first.url, 'POST', '/v1/grants', agent, { incident_id: 'INC-CRASH', profile: 'demo', purpose: 'load' })));
      expect(batch.every((r) => r.status === 201)).toBe(true);
    }

    expect((await call(first.url, 'POST', '/v1/incidents/INC-CRASH/close', operator)).status).toBe(202);
    await eventually(async () => (await call(first.url, 'GET', '/v1/incidents/INC-CRASH', operator)).body.revocation.by_state.revoked >= 20);
    first.proc.kill('SIGKILL');
    await new Promise((r) => first.proc.once('exit', r));

    const store = await createRedisStore({ url: redis.url, keyPrefix: KEY_PREFIX });
    try {
      const grants = await store.listGrantsByIncident('INC-CRASH');
      expect(grants).toHaveLength(GRANTS);
      const revokedAtKill = grants.filter((g) => g.state === 'revoked').length;
      // The kill landed mid-revocation: some revoked, some still outstanding.
      expect(revokedAtKill).toBeGreaterThanOrEqual(20);
      expect(revokedAtKill).toBeLessThan(GRANTS);
      expect(grants.every((g) => g.state === 'revoked' || g.state === 'revoking')).toBe(true);

      const second = await spawnBroker(configFile);
      children.push(second.proc);
      const report = await eventually(async () => {
        const res = await call(second.url, 'GET', '/v1/incidents/INC-CRASH', operator);
        return res.body.revocation.by_state.revoked === GRANTS ? res.body.revocation : null;
      }, 30_000);
      expect(report).toMatchObject({ total: GRANTS, outstanding: 0 });
      // A job leaves the queue just after its grant turns revoked (redis_store finishRevocation:
      // grant first, then queue), so the last one may still be queued when the report is read.
      // The queue must drain, not merely shrink.
      await eventually(async () => (await store.revocationQueueDepth()) === 0, 10_000);

      // Each grant's revocation is recorded once in the audit log, however often it was delivered.
      const revokedEvents = (await store.listAudit({ incidentId: 'INC-CRASH', limit: 1000 })).filter((e) => e.type === 'grant.revoked');
      expect(new Set(revokedEvents.map((e) => e.grantId)).size).toBe(GRANTS);
      expect(revokedEvents).toHaveLength(GRANTS);
      second.proc.kill('SIGTERM');
      await new Promise((r) => second.proc.once('exit', r));
      expect(second.proc.exitCode).toBe(0);
    } finally {
      await store.close();
    }
  }, 90_000);
});
