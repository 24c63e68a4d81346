/**
 * The revocation worker against the memory store and an in-process provider that implements the
 * public contract (src/sdk.ts) and can be told to fail: retries with backoff, escalation past the
 * deadline, one revokeIncident call per incident, intents that never committed, expired grants.
 * Time is a variable; the worker is driven with runOnce(), so nothing sleeps (the expiry backlog
 * test runs the worker loop itself, with the clock standing still, and polls for the outcome).
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createAuditLog } from '../../src/audit/audit_log.js';
import { createCatalog } from '../../src/catalog/catalog.js';
import { parseConfig } from '../../src/config/load.js';
import { createLogger } from '../../src/logging.js';
import { createMetrics } from '../../src/metrics.js';
import type { Grant } from '../../src/model.js';
import { createRevocationWorker, type RevocationWorker } from '../../src/revocation/worker.js';
import { providerUnavailable, type ProviderFactory, type RevocationReceipt } from '../../src/sdk.js';
import { createMemoryStore } from '../../src/store/memory_store.js';
import type { Store } from '../../src/store/store.js';
import { stringify } from 'yaml';
import { eventually } from '../support/broker_harness.js';
import { testConfigObject } from '../support/test_config.js';
import { createLogCapture } from '../support/log_capture.js';

interface Upstream {
  failuresLeft: number;
  grantCalls: string[];
  incidentCalls: Array<{ incidentId: string; grants: string[] }>;
}

function testProvider(upstream: Upstream, incidentRevocation: boolean): ProviderFactory<Record<string, never>, Record<string, never>> {
  return {
    name: 'flaky',
    configSchema: z.object({}).strict() as z.ZodType<Record<string, never>>,
    profileParamsSchema: z.object({}).strict() as z.ZodType<Record<string, never>>,
    async create() {
      const fail = (): void => {
        if (upstream.failuresLeft > 0) {
          upstream.failuresLeft -= 1;
          throw providerUnavailable('upstream down');
        }
      };
      return {
        name: 'flaky',
        capabilities: { grantRevocation: 'upstream', incidentRevocation, minTtlSeconds: 1, maxTtlSeconds: 3600 },
        async issue() { throw new Error('not used'); },
        async revokeGrant(req) {
          fail();
          upstream.grantCalls.push(req.grantId);
          return { grantId: req.grantId, outcome: 'revoked', confirmed: true };
        },
        ...(incidentRevocation ? {
          async revokeIncident(req: { incidentId: string; grants: readonly { grantId: string }[] }): Promise<RevocationReceipt[]> {
            fail();
            upstream.incidentCalls.push({ incidentId: req.incidentId, grants: req.grants.map((g) => g.grantId) });
            return req.grants.map((g) => ({ grantId: g.grantId, outcome: 'revoked', confirmed: true }));
          },
        } : {}),
        async health() { return { ok: true }; },
        async close() {},
      };
    },
  };
}

describe('revocation worker', () => {
  let now: number;
  let store: Store;
  let upstream: Upstream;
  let seq = 0;

  const setup = async (options: { incidentRevocation?: boolean; deadlineSeconds?: number; expirySweepSeconds?: number } = {}): Promise<RevocationWorker> => {
    const base = testConfigObject({ revocation: { backoffInitialMs: 1000, backoffMaxMs: 8000, deadlineSeconds: options.deadlineSeconds ?? 300, issueTimeoutSeconds: 30, ...(options.expirySweepSeconds ? { expirySweepSeconds: options.expirySweepSeconds } : {}) } });
    const config = parseConfig(stringify({
      ...base,
      providers: { flaky: {} },
      profiles: { p: { provider: 'flaky', maxTtl: 900, tier: 'contain', agents: ['.*'] } },
    }));
    const logger = createLogger({ level: 'silent', destination: createLogCapture() });
    const catalog = await createCatalog(config, [testProvider(upstream, options.incidentRevocation ?? false)], { logger, now: () => now, devMode: true, callTimeoutMs: 1000 });
    const deps = { config, store, catalog, audit: createAuditLog(store, logger), metrics: createMetrics({ defaultMetrics: false }), logger, now: () => now };
    return createRevocationWorker(deps);
  };

  const activeGrant = async (incidentId: string, over: Partial<Grant> = {}): Promise<Grant> => {
    const grant: Grant = {
      id: `grt_test${String(++seq).padStart(18, '0')}`, incidentId, profile: 'p', provider: 'flaky', agent: 'spiffe://dev.local/agent/a',
      purpose: 'x', state: 'issuing', createdAt: now, ttlSeconds: 600, expiresAt: now + 600_000, ...over,
    };
    expect(await store.createGrantIntent(grant)).toBe('ok');
    await store.commitGrant(grant.id, { handle: { ref: grant.id }, expiresAt: grant.expiresAt });
    return grant;
  };

  beforeEach(async () => {
    now = 1_800_000_000_000;
    store = createMemoryStore();
    upstream = { failuresLeft: 0, grantCalls: [], incidentCalls: [] };
    await store.createIncident({ id: 'INC-W', source: 'api', title: 't', severity: 'sev2', status: 'open', openedAt: now, openedBy: 'op' });
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

  it('revokes a closed incident with one revokeIncident call when the provider supports it', async () => {
    const worker = await setup({ incidentRevocation: true });
    const grants = await Promise.all(Array.from({ length: 5 }, () => activeGrant('INC-W')));
    await store.closeIncident('INC-W', now, 'op');
    expect(await worker.runOnce()).toBe(5);
    expect(upstream.grantCalls).toEqual([]);
    expect(upstream.incidentCalls).toHaveLength(1);
    expect(upstream.incidentCalls[0]?.grants.sort()).toEqual(grants.map((g) => g.id).sort());
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

  it('finishes a grant past its expiry as expired without calling the provider', async () => {
    const worker = await setup();
    const g = await activeGrant('INC-W', { expiresAt: now + 1000 });
    await store.requestRevocation(g.id, 'released', now);
    now += 2000;
    await worker.runOnce();
    expect(await store.getGrant(g.id)).toMatchObject({ state: 'expired' });
    expect(upstream.grantCalls).toEqual([]);
  });

  it('waits for an intent to commit, and ends one that never did after the issue timeout', async () => {
    const worker = await setup();
    const g: Grant = { id: 'grt_intent000000000000000', incidentId: 'INC-W', profile: 'p', provider: 'flaky', agent: 'a', purpose: 'x', state: 'issuing', createdAt: now, ttlSeconds: 600, expiresAt: now + 600_000 };
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
    await store.appendAudit({ at: now, type: 'grant.revoked', actor: 'quartermaster', incidentId: 'INC-W', grantId: h.id }, { dedupeKey: `grant.ended:${h.id}` });
    expect(await worker.runOnce()).toBe(1);
    expect((await store.getGrant(h.id))?.state).toBe('revoked');
    const events = (await store.listAudit({ limit: 100 })).filter((e) => e.type === 'grant.revoked' && e.grantId === h.id);
    expect(events).toHaveLength(1);
  });
});
