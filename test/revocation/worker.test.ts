/**
 * The revocation worker against the memory store and an in-process provider that implements the
 * public contract (src/sdk.ts) and can be told to fail: retries with backoff, escalation past the
 * deadline, one revokeIncident call per incident, intents that never committed, expired grants.
 * Time is a variable; the worker is driven with runOnce(), so nothing sleeps (the expiry backlog
 * test runs the worker loop itself, with the clock standing still, and polls for the outcome).
 * The lease tests run on vitest's fake timers and fake Date: the worker's clock and its renewal
 * timer move together, only when the test advances them.
 */
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { z } from 'zod';
import { createAuditLog } from '../../src/audit/audit_log.js';
import { createCatalog } from '../../src/catalog/catalog.js';
import { parseConfig } from '../../src/config/load.js';
import { createLogger } from '../../src/logging.js';
import { createMetrics, type Metrics } from '../../src/metrics.js';
import type { RevocationEvents } from '../../src/events/revocation_events.js';
import type { Grant } from '../../src/model.js';
import { createRevocationWorker, type RevocationWorker } from '../../src/revocation/worker.js';
import {
  providerQuotaExceeded,
  providerUnavailable,
  type BackgroundLanes,
  type ProviderFactory,
  type RevocationReceipt,
} from '../../src/sdk.js';
import { createMemoryStore } from '../../src/store/memory_store.js';
import { createRedisKeys, type RedisKeys } from '../../src/store/redis_keys.js';
import { createRedisStore } from '../../src/store/redis_store.js';
import type { Store } from '../../src/store/store.js';
import { stringify } from 'yaml';
import { eventually } from '../support/broker_harness.js';
import { testConfigObject } from '../support/test_config.js';
import { createLogCapture, type LogCapture } from '../support/log_capture.js';
import { startRedisServer, type RedisServer } from '../support/redis_server.js';

interface Upstream {
  failuresLeft: number;
  /** While set, every call fails with a full provider quota (ERR_PROVIDER_QUOTA), naming this detail. */
  quotaFull?: string | undefined;
  /** Grants whose revokeGrant call returned success. */
  grantCalls: string[];
  incidentCalls: Array<{ incidentId: string; grants: string[] }>;
  /** Grants whose revokeGrant call started (a call that never returns is counted here only). */
  started: string[];
  /** Grants whose next revokeGrant call fails (once each). */
  failOnce: Set<string>;
  /** Grants a revokeIncident call leaves out of its answer (a provider that skipped them). */
  noReceipt: Set<string>;
  /** When set, the next revokeGrant call (of `grantId`, if given) tells `started` and waits for `gate` (a slow upstream). */
  hold: { grantId?: string; started: () => void; gate: Promise<void> } | null;
  /** Every call answers only after the event loop has turned once, so calls the worker starts together overlap. */
  slow: boolean;
  /** Calls (revokeGrant and revokeIncident) started and not yet answered, and the most there ever were. */
  inFlight: number;
  maxInFlight: number;
}

interface HeldCall {
  /** Resolves when the held call has reached the provider. */
  readonly started: Promise<void>;
  release(): void;
}

/** Makes the next revokeGrant call (of `grantId`, if given) wait until released; the others answer at once. */
function holdNextCall(upstream: Upstream, grantId?: string): HeldCall {
  let started!: () => void;
  let release!: () => void;
  const startedPromise = new Promise<void>((resolve) => {
    started = resolve;
  });
  const gate = new Promise<void>((resolve) => {
    release = resolve;
  });
  upstream.hold = { ...(grantId === undefined ? {} : { grantId }), started, gate };
  return { started: startedPromise, release };
}

function testProvider(upstream: Upstream, incidentRevocation: boolean): ProviderFactory<Record<string, never>, Record<string, never>> {
  return {
    name: 'flaky',
    configSchema: z.object({}).strict() as z.ZodType<Record<string, never>>,
    profileParamsSchema: z.object({}).strict() as z.ZodType<Record<string, never>>,
    async create() {
      const fail = (): void => {
        if (upstream.quotaFull !== undefined) throw providerQuotaExceeded(upstream.quotaFull);
        if (upstream.failuresLeft > 0) {
          upstream.failuresLeft -= 1;
          throw providerUnavailable('upstream down');
        }
      };
      /** Counts the call as in flight until it answers or fails. */
      const call = async <T>(fn: () => Promise<T>): Promise<T> => {
        upstream.inFlight += 1;
        upstream.maxInFlight = Math.max(upstream.maxInFlight, upstream.inFlight);
        try {
          if (upstream.slow)
            await new Promise<void>((resolve) => {
              setImmediate(resolve);
            });
          return await fn();
        } finally {
          upstream.inFlight -= 1;
        }
      };
      return {
        name: 'flaky',
        capabilities: { grantRevocation: 'upstream', incidentRevocation, minTtlSeconds: 1, maxTtlSeconds: 3600 },
        async issue() {
          throw new Error('not used');
        },
        revokeGrant: (req) =>
          call(async () => {
            upstream.started.push(req.grantId);
            const hold = upstream.hold;
            if (hold && (hold.grantId === undefined || hold.grantId === req.grantId)) {
              upstream.hold = null;
              hold.started();
              await hold.gate;
            }
            if (upstream.failOnce.delete(req.grantId)) throw providerUnavailable('upstream down');
            fail();
            upstream.grantCalls.push(req.grantId);
            return { grantId: req.grantId, outcome: 'revoked', confirmed: true };
          }),
        ...(incidentRevocation
          ? {
              revokeIncident: (req: { incidentId: string; grants: readonly { grantId: string }[] }): Promise<RevocationReceipt[]> =>
                call(async () => {
                  fail();
                  upstream.incidentCalls.push({ incidentId: req.incidentId, grants: req.grants.map((g) => g.grantId) });
                  return req.grants
                    .filter((g) => !upstream.noReceipt.has(g.grantId))
                    .map((g) => ({ grantId: g.grantId, outcome: 'revoked', confirmed: true }));
                }),
            }
          : {}),
        async health() {
          return { ok: true };
        },
        async close() {},
      };
    },
  };
}

/** The close → all revoked histogram: how many observations, and their sum in seconds. */
async function closeToAllRevoked(metrics: Metrics): Promise<{ count: number | undefined; sum: number | undefined }> {
  const values = (await metrics.incidentCloseToAllRevokedSeconds.get()).values;
  const of = (part: string) => values.find((v) => v.metricName === `quartermaster_incident_close_to_all_revoked_seconds_${part}`)?.value;
  return { count: of('count'), sum: of('sum') };
}

describe('revocation worker', () => {
  let now: number;
  let store: Store;
  let upstream: Upstream;
  let seq = 0;

  interface SetupOptions {
    incidentRevocation?: boolean;
    deadlineSeconds?: number;
    expirySweepSeconds?: number;
    leaseSeconds?: number;
    /** The worker's clock; `now` when absent. */
    clock?: () => number;
    /** The catalog's bound on one provider call. */
    callTimeoutMs?: number;
    /** The store this worker uses (default: the shared one). */
    store?: Store;
    logs?: LogCapture;
    /** The level logged to `logs` (default warn). */
    logLevel?: 'info' | 'warn';
    /** The worker's metrics (default: a fresh registry nobody reads). */
    metrics?: Metrics;
    /** Other revocation settings (concurrency, batchSize, pollIntervalMs, maxPerSecond, issueTimeoutSeconds). */
    revocation?: Record<string, number>;
    /** The kill at close the worker starts for a close it re-runs (revocation/incident_kill.ts). */
    incidentKill?: { begin(incidentId: string, closedAt: number): Promise<void> };
    /** Where a revocation the provider answered is recorded (background_lanes.ts). */
    lanes?: BackgroundLanes;
    /** Told of each grant revoked, for relying parties (events/revocation_events.ts). */
    revocationEvents?: RevocationEvents;
  }

  const setup = async (options: SetupOptions = {}): Promise<RevocationWorker> => {
    const base = testConfigObject({
      revocation: {
        backoffInitialMs: 1000,
        backoffMaxMs: 8000,
        deadlineSeconds: options.deadlineSeconds ?? 300,
        issueTimeoutSeconds: 30,
        ...(options.expirySweepSeconds ? { expirySweepSeconds: options.expirySweepSeconds } : {}),
        ...(options.leaseSeconds ? { leaseSeconds: options.leaseSeconds } : {}),
        ...options.revocation,
      },
    });
    const config = parseConfig(
      stringify({
        ...base,
        providers: { flaky: {} },
        profiles: { p: { provider: 'flaky', maxTtl: 900, tier: 'contain', agents: ['.*'] } },
      }),
    );
    const logger = createLogger({
      level: options.logs ? (options.logLevel ?? 'warn') : 'silent',
      destination: options.logs ?? createLogCapture(),
    });
    const clock = options.clock ?? (() => now);
    const catalog = await createCatalog(config, [testProvider(upstream, options.incidentRevocation ?? false)], {
      logger,
      now: clock,
      devMode: true,
      callTimeoutMs: options.callTimeoutMs ?? 1000,
    });
    const workerStore = options.store ?? store;
    const deps = {
      config,
      store: workerStore,
      catalog,
      audit: createAuditLog(workerStore, logger),
      metrics: options.metrics ?? createMetrics({ defaultMetrics: false }),
      logger,
      now: clock,
      ...(options.incidentKill ? { incidentKill: options.incidentKill } : {}),
      ...(options.lanes ? { lanes: options.lanes } : {}),
      ...(options.revocationEvents ? { revocationEvents: options.revocationEvents } : {}),
    };
    return createRevocationWorker(deps);
  };

  const activeGrant = async (incidentId: string, over: Partial<Grant> = {}): Promise<Grant> => {
    const grant: Grant = {
      id: `grt_test${String(++seq).padStart(18, '0')}`,
      incidentId,
      profile: 'p',
      provider: 'flaky',
      agent: 'spiffe://dev.local/agent/a',
      purpose: 'x',
      state: 'issuing',
      createdAt: now,
      ttlSeconds: 600,
      expiresAt: now + 600_000,
      ...over,
    };
    expect(await store.createGrantIntent(grant)).toBe('ok');
    await store.commitGrant(grant.id, { handle: { ref: grant.id }, expiresAt: grant.expiresAt });
    return grant;
  };

  /** Opens an incident in the store the tests use now. */
  const openIncident = async (id: string): Promise<void> => {
    await store.createIncident({ id, source: 'api', title: 't', severity: 'sev2', status: 'open', openedAt: now, openedBy: 'op' });
  };
  const auditOf = async (type: string): Promise<Array<Record<string, unknown>>> =>
    (await store.listAudit({ limit: 1000 })).filter((e) => e.type === type) as unknown as Array<Record<string, unknown>>;
  /** The JSON lines of a log capture. */
  const logLines = (logs: LogCapture): Array<Record<string, unknown>> => logs.lines.map((l) => JSON.parse(l) as Record<string, unknown>);
  const counter = async (metric: {
    get(): Promise<{ values: Array<{ labels: object; value: number }> }>;
  }): Promise<Array<{ labels: object; value: number }>> => (await metric.get()).values.map(({ labels, value }) => ({ labels, value }));

  beforeEach(async () => {
    now = 1_800_000_000_000;
    store = createMemoryStore();
    upstream = {
      failuresLeft: 0,
      grantCalls: [],
      incidentCalls: [],
      started: [],
      failOnce: new Set(),
      noReceipt: new Set(),
      hold: null,
      slow: false,
      inFlight: 0,
      maxInFlight: 0,
    };
    await openIncident('INC-W');
  });

  it('revokes a released grant with one provider call and confirms it', async () => {
    const worker = await setup();
    const g = await activeGrant('INC-W');
    await store.requestRevocation(g.id, 'released', now);
    expect(await worker.runOnce()).toBe(1);
    expect(upstream.grantCalls).toEqual([g.id]);
    expect(await store.getGrant(g.id)).toMatchObject({ state: 'revoked', revocationConfirmed: true, revokeReason: 'released' });
    expect(await store.revocationQueueDepth()).toBe(0);
  });

  it('keeps a grant revoking while the provider is down, retries with backoff, then revokes it', async () => {
    const worker = await setup();
    const g = await activeGrant('INC-W');
    await store.requestRevocation(g.id, 'released', now);
    upstream.failuresLeft = 2;
    expect(await worker.runOnce()).toBe(1);
    expect((await store.getGrant(g.id))?.state).toBe('revoking');
    expect(await worker.runOnce()).toBe(0); // not due before its backoff
    now += 1000;
    expect(await worker.runOnce()).toBe(1); // second failure
    expect((await store.getGrant(g.id))?.state).toBe('revoking');
    now += 2000;
    expect(await worker.runOnce()).toBe(1);
    expect(await store.getGrant(g.id)).toMatchObject({ state: 'revoked' });
    expect(upstream.grantCalls).toEqual([g.id]);
  });

  it('escalates a revocation still failing past the deadline, without forcing it', async () => {
    const worker = await setup({ deadlineSeconds: 5 });
    const g = await activeGrant('INC-W');
    await store.requestRevocation(g.id, 'released', now);
    upstream.failuresLeft = 100;
    await worker.runOnce();
    expect((await store.listAudit({ limit: 100 })).filter((e) => e.type === 'revocation.overdue')).toEqual([]);
    now += 10_000;
    await worker.runOnce();
    const overdue = (await store.listAudit({ limit: 100 })).filter((e) => e.type === 'revocation.overdue');
    expect(overdue).toHaveLength(1);
    expect(overdue[0]).toMatchObject({ grantId: g.id, reason: 'ERR_PROVIDER_UNAVAILABLE' });
    expect((await store.getGrant(g.id))?.state).toBe('revoking');
  });

  it('escalates at once, and once, a revocation a full provider quota blocks, and keeps retrying it', async () => {
    const metrics = createMetrics({ defaultMetrics: false });
    const worker = await setup({ deadlineSeconds: 300, metrics });
    const g = await activeGrant('INC-W');
    await store.requestRevocation(g.id, 'released', now);
    // The valid case: an ordinary failure before the deadline escalates nothing.
    upstream.failuresLeft = 1;
    await worker.runOnce();
    expect(await auditOf('revocation.overdue')).toEqual([]);
    upstream.quotaFull = 'policy full; use the emergency deny';
    now += 1000;
    await worker.runOnce();
    now += 2000;
    await worker.runOnce();
    expect(await auditOf('revocation.overdue')).toEqual([
      expect.objectContaining({
        grantId: g.id,
        reason: 'ERR_PROVIDER_QUOTA',
        data: { attempt: 2, blocked: 'provider(flaky): revokeGrant: policy full; use the emergency deny' },
      }),
    ]);
    expect(await counter(metrics.revocationOverdue)).toEqual([{ labels: { provider: 'flaky' }, value: 2 }]);
    expect((await store.getGrant(g.id))?.state).toBe('revoking');
    upstream.quotaFull = undefined;
    now += 10_000;
    await worker.runOnce();
    expect((await store.getGrant(g.id))?.state).toBe('revoked');
  });

  it('audits a blocked revocation once for each grant it blocks, and logs what blocks it', async () => {
    const logs = createLogCapture();
    const worker = await setup({ deadlineSeconds: 300, logs });
    const [g, h] = [await activeGrant('INC-W'), await activeGrant('INC-W')];
    await store.requestRevocation(g.id, 'released', now);
    await store.requestRevocation(h.id, 'released', now);
    upstream.quotaFull = 'policy full';
    await worker.runOnce();
    now += 2000;
    await worker.runOnce();
    // Two grants, two retries each: one event per grant.
    expect((await auditOf('revocation.overdue')).map((e) => e.grantId).sort()).toEqual([g.id, h.id].sort());
    const blocked = logLines(logs).filter((l) => l.msg === 'revocation blocked');
    expect(blocked).toHaveLength(4);
    expect(blocked[0]).toMatchObject({
      incidentId: 'INC-W',
      provider: 'flaky',
      code: 'ERR_PROVIDER_QUOTA',
      attempt: 1,
      detail: 'provider(flaky): revokeGrant: policy full',
    });
  });

  it('revokes a closed incident with one revokeIncident call when the provider supports it', async () => {
    const worker = await setup({ incidentRevocation: true });
    const grants = await Promise.all(Array.from({ length: 5 }, () => activeGrant('INC-W')));
    await store.closeIncident('INC-W', now, 'op');
    expect(await worker.runOnce()).toBe(5);
    expect(upstream.grantCalls).toEqual([]);
    expect(upstream.incidentCalls).toHaveLength(1);
    expect(upstream.incidentCalls[0]?.grants.sort()).toEqual(grants.map((g) => g.id).sort());
    // One audit event per grant.
    expect((await auditOf('grant.revoked')).map((e) => e.grantId).sort()).toEqual(grants.map((g) => g.id).sort());
  });

  describe('recording in the background lanes', () => {
    /** Lanes that hold every call until the test lets them go: what a broker busy serving requests does. */
    const heldLanes = () => {
      const waiting: Array<() => void> = [];
      const lanes: BackgroundLanes = {
        run: (work) => new Promise<void>((resolve) => waiting.push(resolve)).then(work),
      };
      return { lanes, waiting, releaseAll: () => waiting.splice(0).forEach((go) => go()) };
    };
    const statesOf = async (grants: readonly Grant[]) => Promise.all(grants.map(async (g) => (await store.getGrant(g.id))?.state));

    it('revokes a closed incident upstream first and only then records it, each grant in a lane', async () => {
      const held = heldLanes();
      const worker = await setup({ incidentRevocation: true, lanes: held.lanes });
      const grants = await Promise.all(Array.from({ length: 3 }, () => activeGrant('INC-W')));
      await store.closeIncident('INC-W', now, 'op');
      const pass = worker.runOnce();
      await eventually(async () => held.waiting.length === 3);
      // Dead upstream, not yet recorded: the grants are still revoking and nothing is audited.
      expect(upstream.incidentCalls).toHaveLength(1);
      expect(await statesOf(grants)).toEqual(['revoking', 'revoking', 'revoking']);
      expect(await auditOf('grant.revoked')).toEqual([]);
      held.releaseAll();
      expect(await pass).toBe(3);
      expect(await statesOf(grants)).toEqual(['revoked', 'revoked', 'revoked']);
      expect((await auditOf('grant.revoked')).map((e) => e.grantId).sort()).toEqual(grants.map((g) => g.id).sort());
    });

    it('records a single revocation in a lane after its provider call, and a failed call is retried without one', async () => {
      const held = heldLanes();
      const worker = await setup({ lanes: held.lanes });
      const [ok, failing] = [await activeGrant('INC-W'), await activeGrant('INC-W')] as [Grant, Grant];
      upstream.failOnce.add(failing.id);
      await store.requestRevocation(ok.id, 'released', now);
      await store.requestRevocation(failing.id, 'released', now);
      const pass = worker.runOnce();
      await eventually(async () => held.waiting.length === 1);
      expect(upstream.grantCalls).toEqual([ok.id]);
      expect(await statesOf([ok, failing])).toEqual(['revoking', 'revoking']);
      held.releaseAll();
      expect(await pass).toBe(2);
      expect(await statesOf([ok, failing])).toEqual(['revoked', 'revoking']);
      expect(held.waiting).toEqual([]);
    });

    it("frees the slot of a provider call once it returned: the next call does not wait for the first one's record", async () => {
      const held = heldLanes();
      const worker = await setup({ lanes: held.lanes, revocation: { concurrency: 1 } });
      const grants = [await activeGrant('INC-W'), await activeGrant('INC-W')];
      for (const g of grants) await store.requestRevocation(g.id, 'released', now);
      const pass = worker.runOnce();
      await eventually(async () => held.waiting.length === 2);
      // One call at a time, and both made while neither is recorded.
      expect(upstream.maxInFlight).toBe(1);
      expect([...upstream.grantCalls].sort()).toEqual(grants.map((g) => g.id).sort());
      expect(await statesOf(grants)).toEqual(['revoking', 'revoking']);
      held.releaseAll();
      expect(await pass).toBe(2);
      expect(await statesOf(grants)).toEqual(['revoked', 'revoked']);
    });

    it('records at once without lanes', async () => {
      const worker = await setup({ incidentRevocation: true });
      const grants = await Promise.all(Array.from({ length: 2 }, () => activeGrant('INC-W')));
      await store.closeIncident('INC-W', now, 'op');
      expect(await worker.runOnce()).toBe(2);
      expect(await statesOf(grants)).toEqual(['revoked', 'revoked']);
    });
  });

  it('sends one revokeIncident call per incident when two incidents close in one batch', async () => {
    const worker = await setup({ incidentRevocation: true });
    await openIncident('INC-X');
    const w = [await activeGrant('INC-W'), await activeGrant('INC-W')];
    const x = [await activeGrant('INC-X'), await activeGrant('INC-X')];
    await store.closeIncident('INC-W', now, 'op');
    await store.closeIncident('INC-X', now, 'op');
    expect(await worker.runOnce()).toBe(4);
    expect(
      upstream.incidentCalls.map((c) => ({ ...c, grants: [...c.grants].sort() })).sort((a, b) => a.incidentId.localeCompare(b.incidentId)),
    ).toEqual([
      { incidentId: 'INC-W', grants: w.map((g) => g.id).sort() },
      { incidentId: 'INC-X', grants: x.map((g) => g.id).sort() },
    ]);
    expect(upstream.grantCalls).toEqual([]);
  });

  it('retries a grant the revokeIncident answer left out, and ends the others', async () => {
    const worker = await setup({ incidentRevocation: true });
    const [kept, skipped] = [await activeGrant('INC-W'), await activeGrant('INC-W')];
    upstream.noReceipt.add(skipped.id);
    await store.closeIncident('INC-W', now, 'op');
    expect(await worker.runOnce()).toBe(2);
    expect(await store.getGrant(kept.id)).toMatchObject({ state: 'revoked' });
    expect(await store.getGrant(skipped.id)).toMatchObject({ state: 'revoking', lastError: 'ERR_PROVIDER_NO_RECEIPT', revokeAttempts: 1 });
    upstream.noReceipt.clear();
    now += 1000;
    expect(await worker.runOnce()).toBe(1);
    expect(await store.getGrant(skipped.id)).toMatchObject({ state: 'revoked', revokeAttempts: 2 });
  });

  it('retries every grant of an incident whose revokeIncident call failed, and says why', async () => {
    const logs = createLogCapture();
    const worker = await setup({ incidentRevocation: true, logs });
    const grants = [await activeGrant('INC-W'), await activeGrant('INC-W'), await activeGrant('INC-W')];
    await store.closeIncident('INC-W', now, 'op');
    upstream.failuresLeft = 1;
    expect(await worker.runOnce()).toBe(3);
    for (const g of grants)
      expect(await store.getGrant(g.id)).toMatchObject({ state: 'revoking', lastError: 'ERR_PROVIDER_UNAVAILABLE', revokeAttempts: 1 });
    expect(logLines(logs)).toEqual([
      expect.objectContaining({
        level: 'warn',
        msg: 'revocation failed; will retry',
        provider: 'flaky',
        incidentId: 'INC-W',
        grants: 3,
        code: 'ERR_PROVIDER_UNAVAILABLE',
        detail: expect.stringContaining('upstream down'),
      }),
    ]);
    now += 1000;
    expect(await worker.runOnce()).toBe(3);
    for (const g of grants) expect(await store.getGrant(g.id)).toMatchObject({ state: 'revoked', revokeAttempts: 2 });
  });

  it('retries, without calling anything, the grant of a provider no longer configured', async () => {
    const worker = await setup();
    const g = await activeGrant('INC-W', { provider: 'retired' });
    await store.requestRevocation(g.id, 'released', now);
    expect(await worker.runOnce()).toBe(1);
    expect(await store.getGrant(g.id)).toMatchObject({ state: 'revoking', lastError: 'ERR_PROVIDER_NOT_CONFIGURED' });
    expect(upstream.started).toEqual([]);
    now += 1000;
    expect(await worker.runOnce()).toBe(1); // retried with backoff
  });

  it('sweeps a backlog of expired grants in full batches back to back, not one batch per interval', async () => {
    const worker = await setup({ expirySweepSeconds: 3600 });
    for (let i = 0; i < 2500; i++) await activeGrant('INC-W', { expiresAt: now + 1000 });
    now += 2000;
    await worker.start();
    try {
      // The clock stands still: only back-to-back sweeps can reach all 2500 (1000 per call).
      await eventually(async () => (await store.listGrantsByIncident('INC-W')).every((g) => g.state === 'expired'));
    } finally {
      await worker.stop();
    }
    expect(upstream.grantCalls).toEqual([]);
  });

  it('finishes a grant past its expiry as expired, audited as grant.expired, without calling the provider or telling relying parties', async () => {
    const told: string[] = [];
    // The worker only queues events; delivering them is the inbox's (nothing here calls the rest).
    const notUsed = (): never => {
      throw new Error('not used by the worker');
    };
    const revocationEvents: RevocationEvents = {
      revoked: async (grant) => void told.push(grant.id),
      owns: notUsed,
      deliver: notUsed,
      jwks: notUsed,
      configuration: notUsed,
    };
    const worker = await setup({ revocationEvents });
    // The valid case: a grant revoked is told to relying parties.
    const revoked = await activeGrant('INC-W');
    await store.requestRevocation(revoked.id, 'released', now);
    await worker.runOnce();
    expect(told).toEqual([revoked.id]);
    const g = await activeGrant('INC-W', { expiresAt: now + 1000 });
    await store.requestRevocation(g.id, 'released', now);
    now += 2000;
    await worker.runOnce();
    // An expired one is not: its credential ended on its own.
    expect(told).toEqual([revoked.id]);
    expect(await store.getGrant(g.id)).toMatchObject({ state: 'expired', revocationConfirmed: true });
    expect(upstream.started).toEqual([revoked.id]);
    expect(await auditOf('grant.expired')).toEqual([
      expect.objectContaining({ grantId: g.id, reason: 'released', data: { provider: 'flaky', confirmed: true, attempt: 1 } }),
    ]);
    expect((await auditOf('grant.revoked')).map((e) => e.grantId)).toEqual([revoked.id]);
  });

  it('counts a grant as expired from the instant of its expiry, and revokes one a millisecond before it', async () => {
    const worker = await setup();
    const atExpiry = await activeGrant('INC-W', { expiresAt: now + 1000 });
    const justBefore = await activeGrant('INC-W', { expiresAt: now + 1001 });
    await store.requestRevocation(atExpiry.id, 'released', now);
    await store.requestRevocation(justBefore.id, 'released', now);
    now += 1000;
    expect(await worker.runOnce()).toBe(2);
    expect((await store.getGrant(atExpiry.id))?.state).toBe('expired');
    expect(await store.getGrant(justBefore.id)).toMatchObject({ state: 'revoked', revocationConfirmed: true });
    expect(upstream.started).toEqual([justBefore.id]);
  });

  it('waits for an intent to commit, and ends one that never did after the issue timeout', async () => {
    const worker = await setup();
    const g: Grant = {
      id: 'grt_intent000000000000000',
      incidentId: 'INC-W',
      profile: 'p',
      provider: 'flaky',
      agent: 'a',
      purpose: 'x',
      state: 'issuing',
      createdAt: now,
      ttlSeconds: 600,
      expiresAt: now + 600_000,
    };
    await store.createGrantIntent(g);
    await store.closeIncident('INC-W', now, 'op');
    await worker.runOnce();
    expect((await store.getGrant(g.id))?.state).toBe('revoking');
    now += 31_000;
    await worker.runOnce();
    expect(await store.getGrant(g.id)).toMatchObject({ state: 'revoked', revocationConfirmed: false });
    expect(upstream.grantCalls).toEqual([]);
  });

  it('audits a revocation once when a crash came between its audit event and its end', async () => {
    const worker = await setup();
    const g = await activeGrant('INC-W');
    await store.requestRevocation(g.id, 'released', now);
    expect(await worker.runOnce()).toBe(1);
    const once = (await store.listAudit({ limit: 100 })).filter((e) => e.type === 'grant.revoked');
    expect(once).toHaveLength(1);

    // The crashed broker's state: event recorded, grant still revoking, job due again.
    const h = await activeGrant('INC-W');
    await store.requestRevocation(h.id, 'released', now);
    await store.appendAudit(
      { at: now, type: 'grant.revoked', actor: 'quartermaster', incidentId: 'INC-W', grantId: h.id },
      { dedupeKey: `grant.ended:${h.id}` },
    );
    expect(await worker.runOnce()).toBe(1);
    expect((await store.getGrant(h.id))?.state).toBe('revoked');
    const events = (await store.listAudit({ limit: 100 })).filter((e) => e.type === 'grant.revoked' && e.grantId === h.id);
    expect(events).toHaveLength(1);
  });

  it('revokes released grants of an incident-revocation provider one revokeGrant call each, and leaves their siblings active', async () => {
    const worker = await setup({ incidentRevocation: true });
    const a = await activeGrant('INC-W');
    const b = await activeGrant('INC-W');
    const c = await activeGrant('INC-W');
    const sibling = await activeGrant('INC-W');

    // One grant released: a revokeIncident call here would revoke the parent and with it every sibling.
    await store.requestRevocation(a.id, 'released', now);
    expect(await worker.runOnce()).toBe(1);
    expect(upstream.grantCalls).toEqual([a.id]);
    expect(upstream.incidentCalls).toEqual([]);
    expect(await store.getGrant(a.id)).toMatchObject({ state: 'revoked', revocationConfirmed: true });

    // Two released grants of one incident in one batch: each revoked on its own, both in this pass.
    await store.requestRevocation(b.id, 'released', now);
    await store.requestRevocation(c.id, 'released', now);
    expect(await worker.runOnce()).toBe(2);
    expect(upstream.grantCalls.sort()).toEqual([a.id, b.id, c.id].sort());
    expect(upstream.incidentCalls).toEqual([]);
    expect(await store.getGrant(b.id)).toMatchObject({ state: 'revoked', revokeAttempts: 1 });
    expect(await store.getGrant(c.id)).toMatchObject({ state: 'revoked', revokeAttempts: 1 });
    expect((await store.getGrant(sibling.id))?.state).toBe('active');

    // Closing the incident revokes what is left in one revokeIncident call.
    await store.closeIncident('INC-W', now, 'op');
    expect(await worker.runOnce()).toBe(1);
    expect(upstream.incidentCalls).toEqual([{ incidentId: 'INC-W', grants: [sibling.id] }]);
    expect(await store.getGrant(sibling.id)).toMatchObject({ state: 'revoked' });
  });

  it('sends at most `concurrency` provider calls at a time, and that many in parallel', async () => {
    const worker = await setup({ revocation: { concurrency: 2 } });
    const grants: Grant[] = [];
    for (let i = 0; i < 6; i++) grants.push(await activeGrant('INC-W'));
    for (const g of grants) await store.requestRevocation(g.id, 'released', now);
    upstream.slow = true;
    expect(await worker.runOnce()).toBe(6);
    expect(upstream.maxInFlight).toBe(2);
    expect(upstream.grantCalls.sort()).toEqual(grants.map((g) => g.id).sort());
  });

  it('audits a revocation as grant.revoked and counts it, with the time from request to revocation', async () => {
    const metrics = createMetrics({ defaultMetrics: false });
    const worker = await setup({ metrics });
    const g = await activeGrant('INC-W');
    await store.requestRevocation(g.id, 'released', now);
    now += 1500;
    expect(await worker.runOnce()).toBe(1);
    expect(await auditOf('grant.revoked')).toEqual([
      expect.objectContaining({
        at: now,
        actor: 'quartermaster',
        incidentId: 'INC-W',
        grantId: g.id,
        profile: 'p',
        reason: 'released',
        data: { provider: 'flaky', confirmed: true, attempt: 1, note: 'revoked' },
      }),
    ]);
    expect(await auditOf('grant.expired')).toEqual([]);
    expect(await counter(metrics.revocations)).toEqual([{ labels: { provider: 'flaky', outcome: 'revoked' }, value: 1 }]);
    const latency = (await metrics.closeToRevokedSeconds.get()).values;
    expect(latency.find((v) => v.metricName === 'quartermaster_revocation_latency_seconds_sum')).toMatchObject({
      labels: { provider: 'flaky' },
      value: 1.5,
    });
    expect(latency.find((v) => v.metricName === 'quartermaster_revocation_latency_seconds_count')?.value).toBe(1);
  });

  it('observes close → all revoked once per closed incident, on the batch that ended its last grant, and not for a grant ended in an open one', async () => {
    const metrics = createMetrics({ defaultMetrics: false });
    const worker = await setup({ metrics });
    // The valid case: a close of two grants revoked in one batch, observed once.
    await activeGrant('INC-W');
    await activeGrant('INC-W');
    await store.closeIncident('INC-W', now, 'op');
    now += 2000;
    expect(await worker.runOnce()).toBe(2);
    expect(await closeToAllRevoked(metrics)).toEqual({ count: 1, sum: 2 });

    // Another incident, whose second grant fails once: nothing is observed while it is left.
    await openIncident('INC-2');
    const closedAt = now;
    await activeGrant('INC-2');
    const late = await activeGrant('INC-2');
    upstream.failOnce.add(late.id);
    await store.closeIncident('INC-2', closedAt, 'op');
    now += 1000;
    await worker.runOnce();
    expect((await store.getGrant(late.id))?.state).toBe('revoking');
    expect(await closeToAllRevoked(metrics)).toEqual({ count: 1, sum: 2 });
    // Its retry ends it: observed on its own, from the close, as this incident's one observation.
    now += 1000;
    expect(await worker.runOnce()).toBe(1);
    const afterRetry = { count: 2, sum: 2 + (now - closedAt) / 1000 };
    expect(await closeToAllRevoked(metrics)).toEqual(afterRetry);

    // The last live grant of an open incident, released: ended, but no incident was closed.
    await openIncident('INC-OPEN');
    const g = await activeGrant('INC-OPEN');
    await store.requestRevocation(g.id, 'released', now);
    expect(await worker.runOnce()).toBe(1);
    expect(await store.getGrant(g.id)).toMatchObject({ state: 'revoked' });
    expect(await closeToAllRevoked(metrics)).toEqual(afterRetry);
  });

  it('backs off between half and all of a delay that doubles per failed attempt, up to backoffMaxMs', async () => {
    // backoffInitialMs 1000, backoffMaxMs 8000: attempt n waits [d/2, d] with d = min(8000, 1000 · 2^(n-1)).
    const worker = await setup();
    const g = await activeGrant('INC-W');
    await store.requestRevocation(g.id, 'released', now);
    upstream.failuresLeft = 100;
    expect(await worker.runOnce()).toBe(1); // attempt 1 fails
    for (const full of [1000, 2000, 4000, 8000, 8000]) {
      const failedAt = now;
      now = failedAt + full / 2 - 1;
      expect(await worker.runOnce()).toBe(0);
      now = failedAt + full;
      expect(await worker.runOnce()).toBe(1); // due: the next attempt, failing again
    }
    expect(await store.getGrant(g.id)).toMatchObject({ state: 'revoking', lastError: 'ERR_PROVIDER_UNAVAILABLE' });
  });

  it('escalates a failing revocation once its deadline (counted from the request, not the issue) is past, not at it', async () => {
    const metrics = createMetrics({ defaultMetrics: false });
    const logs = createLogCapture();
    const worker = await setup({ deadlineSeconds: 5, metrics, logs });
    const requested = now;
    // Both issued long before the deadline would allow; only the time since the request counts.
    const late = await activeGrant('INC-W', { createdAt: now - 100_000 });
    const onTime = await activeGrant('INC-W', { createdAt: now - 100_000 });
    await store.requestRevocation(late.id, 'released', requested);
    await store.requestRevocation(onTime.id, 'released', requested + 1);
    upstream.failuresLeft = 100;
    now = requested + 5001; // late: 5001 ms since its request; onTime: exactly the 5000 ms deadline
    expect(await worker.runOnce()).toBe(2);
    const overdue = await auditOf('revocation.overdue');
    expect(overdue).toEqual([
      expect.objectContaining({
        at: now,
        actor: 'quartermaster',
        incidentId: 'INC-W',
        grantId: late.id,
        reason: 'ERR_PROVIDER_UNAVAILABLE',
        data: { attempt: 1 },
      }),
    ]);
    expect(await counter(metrics.revocationOverdue)).toEqual([{ labels: { provider: 'flaky' }, value: 1 }]);
    expect(logLines(logs).filter((l) => l.msg === 'revocation overdue')).toEqual([
      expect.objectContaining({
        level: 'error',
        grantId: late.id,
        incidentId: 'INC-W',
        provider: 'flaky',
        code: 'ERR_PROVIDER_UNAVAILABLE',
        attempt: 1,
      }),
    ]);
    expect(await counter(metrics.revocationRetries)).toEqual([
      { labels: { provider: 'flaky', code: 'ERR_PROVIDER_UNAVAILABLE' }, value: 2 },
    ]);
    expect((await store.getGrant(late.id))?.state).toBe('revoking');
  });

  it('ends an intent that never committed only once the issue timeout is past, re-checking it every backoffInitialMs', async () => {
    // issueTimeoutSeconds 30: an intent 30 000 ms old may still be issuing; one 30 001 ms old cannot.
    const worker = await setup();
    const start = now;
    const intent = (id: string, createdAt: number): Grant => ({
      id,
      incidentId: 'INC-W',
      profile: 'p',
      provider: 'flaky',
      agent: 'a',
      purpose: 'x',
      state: 'issuing',
      createdAt,
      ttlSeconds: 600,
      expiresAt: createdAt + 600_000,
    });
    const older = intent('grt_intent000000000000001', start);
    const younger = intent('grt_intent000000000000002', start + 1);
    await store.createGrantIntent(older);
    await store.createGrantIntent(younger);
    await store.closeIncident('INC-W', start + 1, 'op');

    now = start + 1;
    expect(await worker.runOnce()).toBe(2);
    expect(await store.getGrant(older.id)).toMatchObject({ state: 'revoking', lastError: 'awaiting commit' });
    expect(await store.getGrant(younger.id)).toMatchObject({ state: 'revoking', lastError: 'awaiting commit' });

    now = start + 30_001;
    expect(await worker.runOnce()).toBe(2);
    expect(await store.getGrant(older.id)).toMatchObject({ state: 'revoked', revocationConfirmed: false });
    expect(await store.getGrant(younger.id)).toMatchObject({ state: 'revoking', lastError: 'awaiting commit' });
    expect(await auditOf('grant.revoked')).toEqual([
      expect.objectContaining({
        grantId: older.id,
        reason: 'incident_closed',
        data: { provider: 'flaky', confirmed: false, attempt: 2, note: 'never handed out' },
      }),
    ]);

    now += 999;
    expect(await worker.runOnce()).toBe(0);
    now += 1;
    expect(await worker.runOnce()).toBe(1);
    expect(await store.getGrant(younger.id)).toMatchObject({ state: 'revoked', revocationConfirmed: false });
    expect(upstream.started).toEqual([]);
  });

  // The Redis store writes some steps as separate commands (store.ts documents the order); a broker
  // that dies between two leaves the state built here by removing or re-adding one key with a raw
  // client. The worker must repair it.
  describe('after a crash between two store writes (Redis store)', () => {
    let server: RedisServer;
    let admin: Redis;
    let keys: RedisKeys;
    let redisStore: Store;
    let prefixes = 0;

    beforeAll(async () => {
      server = await startRedisServer();
      admin = new Redis(server.url);
    });
    afterAll(async () => {
      await admin?.quit();
      await server?.stop();
    });
    beforeEach(async () => {
      const prefix = `w${++prefixes}:`;
      keys = createRedisKeys(prefix);
      redisStore = await createRedisStore({ url: server.url, keyPrefix: prefix });
      store = redisStore; // activeGrant and setup use it from here on
      await openIncident('INC-W');
    });
    afterEach(async () => {
      await redisStore.close();
    });

    /** The store, counting the calls the worker makes; listClosingIncidents refuses the first `refusals` calls. */
    const counting = (refusals = 0) => {
      const calls = { listClosing: 0, claims: 0 };
      const wrapped: Store = {
        ...redisStore,
        listClosingIncidents: async () => {
          calls.listClosing += 1;
          if (calls.listClosing <= refusals) throw new Error('connection reset');
          return redisStore.listClosingIncidents();
        },
        claimRevocations: async (at, max, leaseMs) => {
          calls.claims += 1;
          return redisStore.claimRevocations(at, max, leaseMs);
        },
      };
      return { calls, wrapped };
    };

    /** An incident closed by a broker that died after the close tombstone, before the enqueue. */
    const closedWithoutEnqueue = async (): Promise<string[]> => {
      const ids = [(await activeGrant('INC-W')).id, (await activeGrant('INC-W')).id];
      await store.closeIncident('INC-W', now, 'op');
      await admin.zrem(keys.revocationDueClose, ...ids); // the enqueue that never happened
      expect(await store.revocationQueueDepth()).toBe(0);
      expect(await store.listClosingIncidents()).toEqual(['INC-W']);
      return ids;
    };
    const allRevoked = async (ids: readonly string[]): Promise<boolean> =>
      (await Promise.all(ids.map((id) => store.getGrant(id)))).every((g) => g?.state === 'revoked');

    it('re-runs, on start, the close of an incident whose jobs were never enqueued, once, and revokes its grants', async () => {
      const ids = await closedWithoutEnqueue();
      const logs = createLogCapture();
      const { calls, wrapped } = counting();
      const kills: Array<[string, number]> = [];
      const incidentKill = {
        begin: (id: string, at: number) => {
          kills.push([id, at]);
          return Promise.resolve();
        },
      };
      const worker = await setup({ store: wrapped, logs, logLevel: 'info', incidentKill });
      await worker.start();
      // The re-run close kills the incident upstream too, as any close does, stamped now.
      expect(kills).toEqual([['INC-W', now]]);
      try {
        await eventually(async () => (await allRevoked(ids)) && calls.claims >= 3);
      } finally {
        await worker.stop();
      }
      expect(upstream.grantCalls.sort()).toEqual([...ids].sort());
      expect(await store.revocationQueueDepth()).toBe(0);
      expect(await store.listClosingIncidents()).toEqual([]);
      // Once at start, not on every pass.
      expect(calls.listClosing).toBe(1);
      expect(logLines(logs).filter((l) => l.msg === 'resumed revocation of closing incidents')).toEqual([
        expect.objectContaining({ level: 'info', incidents: 1 }),
      ]);
    });

    it('starts when the store refuses that resume, retries it in the loop until it succeeds, then revokes the grants', async () => {
      const ids = await closedWithoutEnqueue();
      const logs = createLogCapture();
      const { calls, wrapped } = counting(2); // refused at start and on the loop's first pass
      const worker = await setup({ store: wrapped, logs });
      await worker.start(); // resolves although the resume was refused
      try {
        await eventually(async () => (await allRevoked(ids)) && calls.claims >= 3);
      } finally {
        await worker.stop();
      }
      expect(upstream.grantCalls.sort()).toEqual([...ids].sort());
      expect(calls.listClosing).toBe(3); // twice refused, once done
      const lines = logLines(logs);
      expect(lines.filter((l) => String(l.msg).startsWith('could not resume closing incidents'))).toEqual([
        expect.objectContaining({ level: 'warn', err: 'Error: connection reset' }),
      ]);
      expect(lines.filter((l) => String(l.msg).startsWith('revocation worker'))).toEqual([
        expect.objectContaining({ level: 'error', msg: 'revocation worker pass failed; retrying', cause: 'Error: connection reset' }),
        expect.objectContaining({ level: 'warn', msg: 'revocation worker recovered', failedPasses: 1 }),
      ]);
    });

    it('drops a job delivered again after its grant ended (revoked, expired, failed, gone) without calling the provider or auditing again', async () => {
      const logs = createLogCapture();
      const metrics = createMetrics({ defaultMetrics: false });
      const worker = await setup({ logs, metrics });
      const revoked = await activeGrant('INC-W');
      await store.requestRevocation(revoked.id, 'released', now);
      expect(await worker.runOnce()).toBe(1);
      const expired = await activeGrant('INC-W', { expiresAt: now + 1000 });
      const failed: Grant = {
        id: 'grt_failed000000000000000',
        incidentId: 'INC-W',
        profile: 'p',
        provider: 'flaky',
        agent: 'a',
        purpose: 'x',
        state: 'issuing',
        createdAt: now,
        ttlSeconds: 600,
        expiresAt: now + 600_000,
      };
      await store.createGrantIntent(failed);
      await store.failGrant(failed.id, now, 'ERR_PROVIDER_UNAVAILABLE');
      now += 2000;
      expect(await store.expireGrants(now, 10)).toEqual([expired.id]);
      const before = await Promise.all([revoked.id, expired.id, failed.id].map((id) => store.getGrant(id)));
      const auditBefore = await store.listAudit({ limit: 1000 });
      expect(before.map((g) => g?.state)).toEqual(['revoked', 'expired', 'failed']);
      expect(upstream.started).toEqual([revoked.id]);

      // The finish that ended each grant died before its ZREM; one job names a grant the store no longer has.
      const gone = 'grt_gone00000000000000000';
      await admin.zadd(keys.revocationDue, now, revoked.id, now, expired.id, now, failed.id, now, gone);
      expect(await worker.runOnce()).toBe(4);
      expect(upstream.started).toEqual([revoked.id]);
      expect(await Promise.all([revoked.id, expired.id, failed.id].map((id) => store.getGrant(id)))).toEqual(before);
      expect(await store.listAudit({ limit: 1000 })).toEqual(auditBefore);
      expect(await store.revocationQueueDepth()).toBe(0);
      expect(await counter(metrics.revocations)).toEqual([{ labels: { provider: 'flaky', outcome: 'revoked' }, value: 1 }]);
      expect(logs.lines).toEqual([]);
    });
  });

  describe('leases', () => {
    // leaseSeconds 3: the worker renews every 1000 ms. Provider calls may take a minute here, so
    // only the lease decides who holds a job.
    const LEASE_MS = 3000;
    const leased = { leaseSeconds: 3, clock: () => Date.now(), callTimeoutMs: 60_000 };

    beforeEach(() => {
      vi.useFakeTimers({ now, toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    });
    afterEach(() => {
      vi.useRealTimers();
    });

    const released = async (): Promise<Grant> => {
      const g = await activeGrant('INC-W');
      await store.requestRevocation(g.id, 'released', Date.now());
      return g;
    };
    const revokedEvents = async (grantId: string): Promise<number> =>
      (await store.listAudit({ limit: 100 })).filter((e) => e.type === 'grant.revoked' && e.grantId === grantId).length;

    it('keeps the job of a provider call longer than the lease leased: a second worker cannot claim it while the batch runs', async () => {
      const logs = createLogCapture();
      const first = await setup({ ...leased, logs });
      const second = await setup(leased);
      const g = await released();
      const call = holdNextCall(upstream);
      const batch = first.runOnce();
      await call.started;

      // Ten seconds, over three leases: at every step the second worker finds nothing to claim.
      for (let elapsed = 0; elapsed < 10_000; elapsed += 250) {
        await vi.advanceTimersByTimeAsync(250);
        expect(await second.runOnce()).toBe(0);
      }
      call.release();
      expect(await batch).toBe(1);
      expect(await store.getGrant(g.id)).toMatchObject({ state: 'revoked', revokeAttempts: 1 });
      expect(upstream.started).toEqual([g.id]);
      expect(await store.revocationQueueDepth()).toBe(0);
      // The batch's renewal timer (and the call's deadline timer) ended with it.
      expect(vi.getTimerCount()).toBe(0);
      expect(logs.lines).toEqual([]); // ten renewals, none lost or failed
    });

    it("hands a dead worker's job to a second worker once its last renewed lease ends", async () => {
      const first = await setup(leased);
      const second = await setup(leased);
      const g = await released();
      const claimedAt = Date.now();
      holdNextCall(upstream); // never released: the first worker's call never returns
      void first.runOnce();
      await vi.advanceTimersByTimeAsync(2000); // renewals at +1000 and +2000: leased until +5000
      // The first worker's process is gone: none of its timers (renewal, call deadline) runs again.
      vi.clearAllTimers();

      await vi.advanceTimersByTimeAsync(claimedAt + LEASE_MS - Date.now());
      expect(await second.runOnce()).toBe(0); // the first lease was renewed
      await vi.advanceTimersByTimeAsync(claimedAt + 2000 + LEASE_MS - 1 - Date.now());
      expect(await second.runOnce()).toBe(0);
      await vi.advanceTimersByTimeAsync(1);
      expect(await second.runOnce()).toBe(1);
      expect(await store.getGrant(g.id)).toMatchObject({ state: 'revoked', revokeAttempts: 2 });
      expect(upstream.started).toEqual([g.id, g.id]); // delivered twice (at-least-once) …
      expect(await revokedEvents(g.id)).toBe(1); // … audited once
      expect(await store.revocationQueueDepth()).toBe(0);
    });

    it('stops renewing a job once it is finished or retried; the one still in flight stays leased', async () => {
      const renewals: string[][] = [];
      const recording: Store = {
        ...store,
        renewRevocationLeases: (leases, until) => {
          renewals.push(leases.map((l) => l.grantId));
          return store.renewRevocationLeases(leases, until);
        },
      };
      const first = await setup({ ...leased, store: recording });
      const second = await setup(leased);
      const quick = await released();
      const failing = await released();
      const slow = await released();
      upstream.failOnce.add(failing.id);
      const call = holdNextCall(upstream, slow.id);
      const batch = first.runOnce();
      await call.started;

      await vi.advanceTimersByTimeAsync(1000); // first renewal; the retry's backoff (≤ 1000 ms) is over
      expect(await second.runOnce()).toBe(1); // the retried job, free of the first worker's lease
      expect(await store.getGrant(failing.id)).toMatchObject({ state: 'revoked', revokeAttempts: 2 });
      await vi.advanceTimersByTimeAsync(5000);
      expect(await second.runOnce()).toBe(0);
      call.release();
      expect(await batch).toBe(3);
      expect(renewals.length).toBeGreaterThanOrEqual(5);
      expect(new Set(renewals.flat())).toEqual(new Set([slow.id]));
      expect(await store.getGrant(quick.id)).toMatchObject({ state: 'revoked', revokeAttempts: 1 });
      expect(await store.getGrant(slow.id)).toMatchObject({ state: 'revoked', revokeAttempts: 1 });
    });

    it('a worker cut off from the store past its lease loses the job to a second worker, says so once, and stops renewing it', async () => {
      const logs = createLogCapture();
      let cutOff = true;
      const renewals: string[][] = [];
      const partitioned: Store = {
        ...store,
        renewRevocationLeases: async (leases, until) => {
          renewals.push(leases.map((l) => l.grantId));
          if (cutOff) throw new Error('connection reset');
          return store.renewRevocationLeases(leases, until);
        },
      };
      const metrics = createMetrics({ defaultMetrics: false });
      const first = await setup({ ...leased, store: partitioned, logs, metrics });
      const second = await setup({ ...leased, metrics });
      const g = await released();
      const call = holdNextCall(upstream);
      const batch = first.runOnce();
      await call.started;
      await vi.advanceTimersByTimeAsync(LEASE_MS); // renewals at +1000, +2000, +3000 all fail
      expect(await second.runOnce()).toBe(1); // the lease ran out: taken over and revoked
      cutOff = false;
      await vi.advanceTimersByTimeAsync(3000); // the next renewal finds the lease gone
      const lost = logs.lines
        .map((l) => JSON.parse(l) as Record<string, unknown>)
        .filter((l) => String(l.msg).startsWith('revocation leases lost'));
      expect(lost).toEqual([expect.objectContaining({ level: 'warn', jobs: 1 })]);
      expect(renewals).toHaveLength(4); // none after the lost one
      call.release();
      expect(await batch).toBe(1);
      // Delivered twice, ended and audited once.
      expect(upstream.started).toEqual([g.id, g.id]);
      expect(await store.getGrant(g.id)).toMatchObject({ state: 'revoked', revokeAttempts: 2 });
      expect(await revokedEvents(g.id)).toBe(1);
      expect(await store.revocationQueueDepth()).toBe(0);
      // Counted once: the late finish found the grant already ended.
      expect(await counter(metrics.revocations)).toEqual([{ labels: { provider: 'flaky', outcome: 'revoked' }, value: 1 }]);
    });

    it('logs a failed renewal without secrets and finishes the batch', async () => {
      const logs = createLogCapture();
      const broken: Store = {
        ...store,
        renewRevocationLeases: async () => {
          throw new Error('connection reset');
        },
      };
      const first = await setup({ ...leased, store: broken, logs });
      const g = await released();
      const call = holdNextCall(upstream);
      const batch = first.runOnce();
      await call.started;
      await vi.advanceTimersByTimeAsync(2000); // two renewals, both failing
      call.release();
      expect(await batch).toBe(1);
      expect(await store.getGrant(g.id)).toMatchObject({ state: 'revoked' });
      const failures = logs.lines
        .map((l) => JSON.parse(l) as Record<string, unknown>)
        .filter((l) => l.msg === 'revocation lease renewal failed; retrying at the next interval');
      expect(failures).toHaveLength(2);
      expect(failures[0]).toMatchObject({ level: 'warn', jobs: 1, err: 'Error: connection reset' });
      expect(logs.text()).not.toContain(g.id);
      expect(vi.getTimerCount()).toBe(0);
    });

    /** The store, with the first lease renewal held until the test lets it reach the store. */
    const heldRenewal = (inner: Store) => {
      let reached!: () => void;
      let open!: () => void;
      const started = new Promise<void>((resolve) => {
        reached = resolve;
      });
      const gate = new Promise<void>((resolve) => {
        open = resolve;
      });
      const renewals: string[][] = [];
      const wrapped: Store = {
        ...inner,
        renewRevocationLeases: async (leases, until) => {
          renewals.push(leases.map((l) => l.grantId));
          if (renewals.length === 1) {
            reached();
            await gate;
          }
          return inner.renewRevocationLeases(leases, until);
        },
      };
      return { wrapped, renewals, started, open };
    };

    it('does not report a job settled while a renewal was in flight as a lost lease', async () => {
      const logs = createLogCapture();
      const renewal = heldRenewal(store);
      const first = await setup({ ...leased, store: renewal.wrapped, logs });
      const g = await released();
      const call = holdNextCall(upstream);
      const batch = first.runOnce();
      await call.started;
      await vi.advanceTimersByTimeAsync(1000);
      await renewal.started; // the renewal names the job …
      call.release();
      expect(await batch).toBe(1); // … which is revoked and gone before the renewal reaches the store
      renewal.open();
      await vi.advanceTimersByTimeAsync(5000);
      expect(await store.getGrant(g.id)).toMatchObject({ state: 'revoked' });
      expect(renewal.renewals).toEqual([[g.id]]);
      expect(logs.lines).toEqual([]);
      expect(vi.getTimerCount()).toBe(0);
    });

    it('renews nothing after its batch ended, even a renewal in flight then: a job whose triage failed is delivered again when that lease ends', async () => {
      const logs = createLogCapture();
      let refuseRead: string | null = null;
      const flakyReads: Store = {
        ...store,
        getGrant: async (id) => {
          if (id === refuseRead) {
            refuseRead = null;
            throw new Error('connection reset');
          }
          return store.getGrant(id);
        },
      };
      const renewal = heldRenewal(flakyReads);
      const first = await setup({ ...leased, store: renewal.wrapped, logs });
      const second = await setup(leased);
      const unread = await released();
      const slow = await released();
      const claimedAt = Date.now();
      refuseRead = unread.id; // its triage fails: it stays leased, unsettled, until the lease runs out
      const call = holdNextCall(upstream, slow.id);
      const batch = first.runOnce();
      await call.started;
      await vi.advanceTimersByTimeAsync(1000);
      await renewal.started; // extends both leases to claimedAt + 1000 + LEASE_MS once it lands
      call.release();
      expect(await batch).toBe(2);
      renewal.open();

      await vi.advanceTimersByTimeAsync(claimedAt + 1000 + LEASE_MS - 1 - Date.now());
      expect(await second.runOnce()).toBe(0);
      await vi.advanceTimersByTimeAsync(1);
      expect(await second.runOnce()).toBe(1);
      expect(await store.getGrant(unread.id)).toMatchObject({ state: 'revoked', revokeAttempts: 2 });
      expect(renewal.renewals).toEqual([[unread.id, slow.id]]);
      expect(logLines(logs)).toEqual([
        expect.objectContaining({
          level: 'error',
          msg: 'revocation triage failed; job stays leased and is retried',
          grantId: unread.id,
          err: 'Error: connection reset',
        }),
      ]);
      expect(vi.getTimerCount()).toBe(0);
    });

    it('claims a job for exactly leaseSeconds: a second worker gets it at the lease end when no renewal lands, not a millisecond before', async () => {
      const refusing: Store = {
        ...store,
        renewRevocationLeases: async () => {
          throw new Error('connection reset');
        },
      };
      const first = await setup({ ...leased, store: refusing });
      const second = await setup(leased);
      const g = await released();
      const claimedAt = Date.now();
      const call = holdNextCall(upstream);
      const batch = first.runOnce();
      await call.started;
      await vi.advanceTimersByTimeAsync(LEASE_MS - 1);
      expect(await second.runOnce()).toBe(0);
      await vi.advanceTimersByTimeAsync(1);
      expect(Date.now()).toBe(claimedAt + LEASE_MS);
      expect(await second.runOnce()).toBe(1);
      expect(await store.getGrant(g.id)).toMatchObject({ state: 'revoked', revokeAttempts: 2 });
      call.release();
      expect(await batch).toBe(1);
    });
  });

  // The worker's own loop (start, stop, nudge, poll, rate limit, expiry sweep) on vitest's fake
  // clock: a pass runs only when the test moves time or wakes the worker.
  describe('loop', () => {
    const POLL_MS = 5000;
    const timed = { clock: () => Date.now(), callTimeoutMs: 60_000 };

    beforeEach(() => {
      vi.useFakeTimers({ now, toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    });
    afterEach(() => {
      vi.useRealTimers();
    });

    const released = async (): Promise<Grant> => {
      const g = await activeGrant('INC-W');
      await store.requestRevocation(g.id, 'released', Date.now());
      return g;
    };
    const states = async (grants: readonly Grant[]): Promise<Array<string | undefined>> =>
      Promise.all(grants.map(async (g) => (await store.getGrant(g.id))?.state));

    it('stop waits for the batch in flight, and the worker claims nothing once it resolved', async () => {
      const claims: number[] = [];
      const recording: Store = {
        ...store,
        claimRevocations: (at, max, leaseMs) => {
          claims.push(at);
          return store.claimRevocations(at, max, leaseMs);
        },
      };
      const worker = await setup({ ...timed, store: recording, revocation: { pollIntervalMs: POLL_MS } });
      const g = await released();
      const call = holdNextCall(upstream);
      await worker.start();
      await call.started;

      let stopped = false;
      const stopping = worker.stop().then(() => {
        stopped = true;
      });
      await vi.advanceTimersByTimeAsync(10_000);
      expect(stopped).toBe(false); // the provider call still runs
      call.release();
      await vi.advanceTimersByTimeAsync(1);
      expect(stopped).toBe(true);
      await stopping;
      expect(await store.getGrant(g.id)).toMatchObject({ state: 'revoked' });

      const claimsAtStop = claims.length;
      const later = await released();
      worker.nudge();
      await vi.advanceTimersByTimeAsync(10 * POLL_MS);
      expect(claims).toHaveLength(claimsAtStop);
      expect((await store.getGrant(later.id))?.state).toBe('revoking');
      expect(vi.getTimerCount()).toBe(0);
    });

    it('an idle worker claims once per pollIntervalMs, and a second start does not start a second loop', async () => {
      const claims: number[] = [];
      const recording: Store = {
        ...store,
        claimRevocations: (at, max, leaseMs) => {
          claims.push(at);
          return store.claimRevocations(at, max, leaseMs);
        },
      };
      const logs = createLogCapture();
      const worker = await setup({ ...timed, store: recording, logs, logLevel: 'info', revocation: { pollIntervalMs: POLL_MS } });
      const started = Date.now();
      await worker.start();
      await worker.start();
      try {
        await vi.advanceTimersByTimeAsync(3 * POLL_MS);
        expect(claims.map((at) => at - started)).toEqual([0, POLL_MS, 2 * POLL_MS, 3 * POLL_MS]);
      } finally {
        await worker.stop();
      }
      expect(logs.lines).toEqual([]); // nothing was closing: nothing resumed, nothing to say
    });

    it('stop ends an idle worker at once, without waiting out the poll interval', async () => {
      const worker = await setup({ ...timed, revocation: { pollIntervalMs: 60_000 } });
      await worker.start();
      await vi.advanceTimersByTimeAsync(1000); // idle: waiting for work
      let stopped = false;
      const stopping = worker.stop().then(() => {
        stopped = true;
      });
      await vi.advanceTimersByTimeAsync(1);
      expect(stopped).toBe(true);
      await stopping;
      expect(vi.getTimerCount()).toBe(0);
    });

    it('polls every pollIntervalMs while idle, and a nudge wakes it at once', async () => {
      const started = Date.now();
      const worker = await setup({ ...timed, revocation: { pollIntervalMs: POLL_MS } });
      await worker.start();
      try {
        await vi.advanceTimersByTimeAsync(1000);
        const polled = await released(); // no nudge: found by the next poll
        await vi.advanceTimersByTimeAsync(started + POLL_MS - 1 - Date.now());
        expect((await store.getGrant(polled.id))?.state).toBe('revoking');
        await vi.advanceTimersByTimeAsync(1);
        expect((await store.getGrant(polled.id))?.state).toBe('revoked');

        await vi.advanceTimersByTimeAsync(1000);
        const nudged = await released();
        worker.nudge();
        await vi.advanceTimersByTimeAsync(1);
        expect((await store.getGrant(nudged.id))?.state).toBe('revoked');
      } finally {
        await worker.stop();
      }
    });

    it('a nudge during a pass that found nothing makes the next pass start as soon as this one ends', async () => {
      // The pass's claim has found nothing and not yet returned when the job is enqueued.
      let claimReturned!: () => void;
      let claimed!: () => void;
      const found = new Promise<void>((resolve) => {
        claimed = resolve;
      });
      const held = new Promise<void>((resolve) => {
        claimReturned = resolve;
      });
      let holdNext = false;
      const slowClaims: Store = {
        ...store,
        claimRevocations: async (at, max, leaseMs) => {
          const jobs = await store.claimRevocations(at, max, leaseMs);
          if (holdNext) {
            holdNext = false;
            claimed();
            await held;
          }
          return jobs;
        },
      };
      const worker = await setup({ ...timed, store: slowClaims, revocation: { pollIntervalMs: 60_000 } });
      await worker.start();
      try {
        await vi.advanceTimersByTimeAsync(1000); // idle
        holdNext = true;
        worker.nudge();
        await found;
        const g = await released();
        worker.nudge(); // nobody is waiting: the worker is inside a pass
        claimReturned();
        await vi.advanceTimersByTimeAsync(1);
        expect((await store.getGrant(g.id))?.state).toBe('revoked');
      } finally {
        await worker.stop();
      }
    });

    it('runs the next pass at once after one that claimed jobs, so a backlog larger than a batch does not wait for the poll', async () => {
      const worker = await setup({ ...timed, revocation: { pollIntervalMs: 60_000, batchSize: 2 } });
      const grants: Grant[] = [];
      for (let i = 0; i < 5; i++) grants.push(await released());
      await worker.start();
      try {
        // A few turns of the event loop and no time at all: the poll interval is a minute away.
        for (let turn = 0; turn < 20; turn++) await new Promise<void>((resolve) => setImmediate(resolve));
        expect(await states(grants)).toEqual(Array(5).fill('revoked'));
      } finally {
        await worker.stop();
      }
    });

    it('lets waiting I/O run between passes: a backlog the store and provider answer without I/O does not hold the event loop to its end', async () => {
      // The memory store and this provider answer in microtasks only: without a turn of the event
      // loop between passes, no request could be served until the whole backlog was revoked.
      const worker = await setup({ ...timed, revocation: { pollIntervalMs: 60_000, batchSize: 2 } });
      const grants: Grant[] = [];
      for (let i = 0; i < 6; i++) grants.push(await released());
      await worker.start();
      try {
        const seenByIo = await new Promise<number>((resolve) => setImmediate(() => resolve(upstream.grantCalls.length)));
        expect(seenByIo).toBeGreaterThan(0);
        expect(seenByIo).toBeLessThan(6);
        // Turns of the event loop, not time: the timers are fake and the poll interval is a minute away.
        while (upstream.grantCalls.length < 6) await new Promise<void>((resolve) => setImmediate(resolve));
        expect(await states(grants)).toEqual(Array(6).fill('revoked'));
      } finally {
        await worker.stop();
      }
    });

    it('starts at most maxPerSecond revocations a second: a burst of one second, then one every 1000 / maxPerSecond ms', async () => {
      const worker = await setup({ ...timed, revocation: { pollIntervalMs: 100, maxPerSecond: 2 } });
      const grants: Grant[] = [];
      for (let i = 0; i < 5; i++) grants.push(await released());
      const revoked = async (): Promise<number> => (await states(grants)).filter((s) => s === 'revoked').length;
      const started = Date.now();
      await worker.start();
      try {
        await vi.advanceTimersByTimeAsync(1);
        expect(await revoked()).toBe(2);
        for (const [at, count] of [
          [499, 2],
          [500, 3],
          [999, 3],
          [1000, 4],
          [1499, 4],
          [1500, 5],
        ] as const) {
          await vi.advanceTimersByTimeAsync(started + at - Date.now());
          expect({ at, revoked: await revoked() }).toEqual({ at, revoked: count });
        }
      } finally {
        await worker.stop();
      }
    });

    it('sweeps expired grants every expirySweepSeconds, and counts them', async () => {
      const metrics = createMetrics({ defaultMetrics: false });
      const worker = await setup({ ...timed, metrics, expirySweepSeconds: 5, revocation: { pollIntervalMs: 100 } });
      const started = Date.now();
      const g = await activeGrant('INC-W', { expiresAt: started + 1000 });
      await worker.start(); // sweeps at once: nothing has expired yet
      try {
        await vi.advanceTimersByTimeAsync(4999);
        expect((await store.getGrant(g.id))?.state).toBe('active');
        await vi.advanceTimersByTimeAsync(1);
        expect(await store.getGrant(g.id)).toMatchObject({ state: 'expired', endedAt: started + 1000 });
        expect(await counter(metrics.grantsExpired)).toEqual([{ labels: {}, value: 1 }]);
      } finally {
        await worker.stop();
      }
      expect(upstream.started).toEqual([]);
    });
  });
});
