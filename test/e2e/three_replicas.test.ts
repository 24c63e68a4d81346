/**
 * N replicas on one Redis behave as one broker (docs/operations.md "Several replicas"): three
 * broker processes on one real redis-server issue an incident's grants between them, one closes
 * it, and another is killed with SIGKILL while it has revocations in flight. The two left revoke
 * every grant — the dead one's leased jobs after their leases run out — each recorded once in the
 * audit log, which verifies as one hash chain.
 *
 * The brokers are real child processes (test/support/gated_broker_child.ts) whose test provider
 * revokes through a gate this test runs (revocation_gate.ts): it answers the first 30 calls and
 * holds the rest, so the kill lands with 30 revoked and every broker's lanes full at the gate —
 * the gate decides, not the clock.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Grant } from '../../src/model.js';
import { createRedisStore } from '../../src/store/redis_store.js';
import { eventually } from '../support/broker_harness.js';
import { callBroker, devTokens, exited, spawnBrokerProcess, type BrokerProcess } from '../support/broker_process.js';
import { startRedisServer, type RedisServer } from '../support/redis_server.js';
import { startRevocationGate, type RevocationGate } from '../support/revocation_gate.js';
import { testConfigObject } from '../support/test_config.js';

const REPLICAS = 3;
const GRANTS_PER_REPLICA = 30;
const GRANTS = REPLICAS * GRANTS_PER_REPLICA;
const ANSWERED = 30;
/** Revocation calls in flight per broker (and jobs claimed at once), so each broker holds exactly this many at the gate. */
const LANES = 6;
const INCIDENT = 'INC-REPLICAS';
const KEY_PREFIX = 'qm-replicas:';

let redis: RedisServer;
let gate: RevocationGate;
const children: ChildProcess[] = [];

beforeAll(async () => {
  redis = await startRedisServer();
  gate = await startRevocationGate(ANSWERED);
});
afterAll(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  await gate?.close();
  await redis?.stop();
});

const call = callBroker;

it('issues through three brokers, closes through one, survives another killed mid-close: every grant revoked once, the audit whole', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'qm-replicas-'));
  const keyDir = join(dir, 'keys');
  const config = testConfigObject({
    keyDir,
    store: { kind: 'redis', url: redis.url, keyPrefix: KEY_PREFIX },
    providers: { gated: { gateUrl: gate.url } },
    profiles: {
      gated: { provider: 'gated', maxTtl: 900, defaultTtl: 600, tier: 'read', agents: ['spiffe://dev\\.local/agent/[A-Za-z0-9._-]+'] },
    },
    revocation: { concurrency: LANES, batchSize: LANES },
    logLevel: 'info', // the readiness line ('quartermaster listening') is at info
  });
  const configFile = join(dir, 'quartermaster.yaml');
  writeFileSync(configFile, stringify(config));

  const brokers: BrokerProcess[] = [];
  for (let i = 0; i < REPLICAS; i += 1) {
    const broker = await spawnBrokerProcess('test/support/gated_broker_child.ts', configFile);
    children.push(broker.proc);
    brokers.push(broker);
  }
  const [closer, victim, survivor] = brokers as [BrokerProcess, BrokerProcess, BrokerProcess];
  const { operator, agent } = await devTokens(keyDir);
  expect((await call(closer.url, 'POST', '/v1/incidents', operator, { id: INCIDENT, title: 'replicas', severity: 'sev1' })).status).toBe(
    201,
  );

  // Grants through all three, at once.
  const issued = await Promise.all(
    brokers.flatMap((b) =>
      Array.from({ length: GRANTS_PER_REPLICA }, () =>
        call(b.url, 'POST', '/v1/grants', agent, { incident_id: INCIDENT, profile: 'gated', purpose: 'replicas' }),
      ),
    ),
  );
  expect(issued.map((r) => r.status)).toEqual(Array(GRANTS).fill(201));
  // One live-grant count across the three: each replica sees all of them.
  for (const b of brokers)
    expect((await call(b.url, 'GET', `/v1/incidents/${INCIDENT}?grants=false`, operator)).body.revocation.total).toBe(GRANTS);

  const store = await createRedisStore({ url: redis.url, keyPrefix: KEY_PREFIX });
  const grants = (): Promise<Grant[]> => store.listGrantsByIncident(INCIDENT);
  try {
    expect((await call(closer.url, 'POST', `/v1/incidents/${INCIDENT}/close`, operator)).status).toBe(202);
    // 30 answered, then every broker's lanes held at the gate (a call given up and retried is held again): each replica is revoking.
    await eventually(
      async () =>
        gate.held.length - gate.abandoned().length === REPLICAS * LANES &&
        (await grants()).filter((g) => g.state === 'revoked').length === ANSWERED,
      20_000,
    );
    victim.proc.kill('SIGKILL');
    await exited(victim.proc);
    // The dead broker's calls lose their caller; a survivor's call that outlived the provider-call
    // timeout on a slow machine was given up and retried too. Those, and only those, are delivered again.
    await eventually(async () => gate.abandoned().length >= LANES, 10_000);
    const abandoned = new Set(gate.abandoned());
    gate.release();

    const report = await eventually(async () => {
      const res = await call(survivor.url, 'GET', `/v1/incidents/${INCIDENT}?grants=false`, operator);
      return res.body.revocation.by_state.revoked === GRANTS ? res.body.revocation : null;
    }, 30_000);
    expect(report).toMatchObject({ total: GRANTS, outstanding: 0 });
    await eventually(async () => (await store.revocationQueueDepth()) === 0, 10_000);

    // Revoked exactly once: one grant.revoked per grant in the audit, however often a job was delivered.
    const events = await store.listAudit({ incidentId: INCIDENT, limit: 1000 });
    const revoked = events.filter((e) => e.type === 'grant.revoked');
    expect(revoked).toHaveLength(GRANTS);
    expect(new Set(revoked.map((e) => e.grantId)).size).toBe(GRANTS);
    // The killed broker's in-flight calls were delivered again by the others (at least once upstream); no other call was.
    const all = (await grants()).map((g) => g.id);
    expect(all.filter((id) => abandoned.has(id) && gate.calls(id) < 2)).toEqual([]);
    // A caller that gave up a moment before the release answered it (its socket not yet seen
    // closed) retries it after the release: given up too, not a second delivery of a live call.
    const givenUp = new Set([...abandoned, ...gate.retriedAfterRelease()]);
    expect(all.filter((id) => !givenUp.has(id) && gate.calls(id) !== 1)).toEqual([]);

    // The audit is complete and in one order: the incident's events, each grant's issue, and one chain that verifies.
    expect(events.filter((e) => e.type === 'grant.issued')).toHaveLength(GRANTS);
    expect(events.filter((e) => e.type === 'incident.opened')).toHaveLength(1);
    expect(events.filter((e) => e.type === 'incident.closed')).toHaveLength(1);
    const seqs = events.map((e) => e.seq);
    expect(new Set(seqs).size).toBe(seqs.length);
    expect([...seqs].sort((a, b) => a - b)).toEqual(seqs);
    const verdict = await eventually(async () => {
      const res = await call(closer.url, 'GET', '/v1/audit/verify', operator);
      return res.body.ok === true && res.body.unsealed === 0 ? res.body : null;
    }, 20_000);
    expect(verdict).toMatchObject({ ok: true, first_bad: null });
    expect(verdict.events).toBeGreaterThanOrEqual(events.length);

    for (const b of [closer, survivor]) {
      b.proc.kill('SIGTERM');
      await exited(b.proc);
      expect(b.proc.exitCode).toBe(0);
    }
  } finally {
    await store.close();
  }
}, 120_000);
