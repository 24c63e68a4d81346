/**
 * The audit chain across replicas (docs/audit.md): two broker processes on one real redis-server
 * append events at once — grants through both, in parallel — and each runs a sealer; the chain
 * is one (GET /v1/audit/verify on either is ok, every event sealed, checkpoints signed), its
 * export from one verifies offline with only the keys the other serves (`quartermaster audit
 * verify`), and an export with one byte flipped fails naming the event.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { callBroker, devTokens, spawnBrokerProcess, type BrokerProcess } from '../support/broker_process.js';
import { runCli } from '../support/cli.js';
import { eventually } from '../support/eventually.js';
import { startRedisServer, type RedisServer } from '../support/redis_server.js';
import { testConfigObject } from '../support/test_config.js';

let redis: RedisServer;
const children: ChildProcess[] = [];
let brokers: BrokerProcess[];
let tokens: { operator: string; agent: string };
let dir: string;

beforeAll(async () => {
  redis = await startRedisServer();
  dir = mkdtempSync(join(tmpdir(), 'qm-chain-e2e-'));
  const keyDir = join(dir, 'keys');
  const configFile = join(dir, 'quartermaster.yaml');
  writeFileSync(
    configFile,
    stringify({
      ...testConfigObject({ keyDir, logLevel: 'info', store: { kind: 'redis', url: redis.url, keyPrefix: 'chain:' } }),
      audit: { chain: { sealIntervalMs: 20, checkpointEvery: 10, checkpointSeconds: 3600 } },
    }),
  );
  brokers = [];
  for (let i = 0; i < 2; i += 1) {
    const broker = await spawnBrokerProcess('src/main.ts', configFile);
    children.push(broker.proc);
    brokers.push(broker);
  }
  tokens = await devTokens(keyDir);
}, 60_000);

afterAll(async () => {
  for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
  await redis?.stop();
});

const get = async (url: string, path: string) => {
  const res = await fetch(`${url}${path}`, { headers: { authorization: `Bearer ${tokens.operator}` } });
  return { status: res.status, text: await res.text() };
};

describe('the audit chain with two replicas on one Redis', () => {
  it('holds one chain while both append and seal at once, and its export verifies offline', async () => {
    const [a, b] = brokers as [BrokerProcess, BrokerProcess];
    expect((await callBroker(a.url, 'POST', '/v1/incidents', tokens.operator, { id: 'INC-CH', title: 't', severity: 'sev2' })).status).toBe(
      201,
    );
    const grants = await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        callBroker((i % 2 === 0 ? a : b).url, 'POST', '/v1/grants', tokens.agent, {
          incident_id: 'INC-CH',
          profile: 'demo',
          purpose: `task ${i}`,
        }),
      ),
    );
    expect(grants.map((g) => g.status)).toEqual(Array(40).fill(201));

    const verdict = await eventually(async () => {
      const v = await callBroker(b.url, 'GET', '/v1/audit/verify', tokens.operator);
      return v.status === 200 && v.body.unsealed === 0 && v.body.events >= 41 ? v.body : null;
    });
    expect(verdict).toMatchObject({ ok: true, first_bad: null, sealed_through: verdict.last_seq });
    // A checkpoint at the end of a pass that linked 10 or more since the last one: how many depends on the passes.
    expect(verdict.checkpoints_matched).toBeGreaterThanOrEqual(1);
    expect(verdict.checkpoints_matched).toBe(verdict.checkpoints);
    expect((await callBroker(a.url, 'GET', '/v1/audit/verify', tokens.operator)).body).toMatchObject({
      ok: true,
      last_seq: verdict.last_seq,
    });

    const exported = await get(a.url, '/v1/audit/export');
    expect(exported.status).toBe(200);
    const keys = await get(b.url, '/v1/audit/keys');
    const lines = exported.text.trimEnd().split('\n');
    expect(lines.filter((l) => l.startsWith('{"type":"event"'))).toHaveLength(verdict.last_seq);
    writeFileSync(join(dir, 'keys.json'), keys.text);
    writeFileSync(join(dir, 'audit.ndjson'), exported.text);
    const ok = await runCli(['audit', 'verify', join(dir, 'audit.ndjson'), '--keys', join(dir, 'keys.json')]);
    expect([ok.code, JSON.parse(ok.stdout)]).toEqual([0, expect.objectContaining({ ok: true, events: verdict.last_seq, first_bad: null })]);

    const at = lines.findIndex((l) => l.includes('"purpose":"task 7"'));
    expect(at).toBeGreaterThan(0);
    const tampered = [...lines];
    tampered[at] = (tampered[at] as string).replace('task 7', 'task 8');
    writeFileSync(join(dir, 'tampered.ndjson'), `${tampered.join('\n')}\n`);
    const bad = await runCli(['audit', 'verify', join(dir, 'tampered.ndjson'), '--keys', join(dir, 'keys.json')]);
    const seq = (JSON.parse(lines[at] as string) as { event: { seq: number } }).event.seq;
    expect([bad.code, JSON.parse(bad.stdout).first_bad]).toEqual([1, expect.objectContaining({ seq, problem: 'modified' })]);
    expect(bad.stderr).toContain(`first bad event: seq ${seq} (modified)`);
  });
});
