/**
 * Core decides how each grant is revoked from its provider's declared capabilities
 * (src/revocation/revocation_route.ts), including a provider that cannot revoke one credential:
 * its released grant waits for its expiry, audited, and is never reported revoked.
 */
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { z } from 'zod';
import { createAuditLog } from '../../src/audit/audit_log.js';
import { createCatalog } from '../../src/catalog/catalog.js';
import { parseConfig } from '../../src/config/load.js';
import { createLogger } from '../../src/logging.js';
import { createMetrics } from '../../src/metrics.js';
import type { Grant } from '../../src/model.js';
import { revocationRoute } from '../../src/revocation/revocation_route.js';
import { createRevocationWorker } from '../../src/revocation/worker.js';
import type { ProviderCapabilities, ProviderFactory } from '../../src/sdk.js';
import { createMemoryStore } from '../../src/store/memory_store.js';
import type { Store } from '../../src/store/store.js';
import { testConfigObject } from '../support/test_config.js';

const caps = (grantRevocation: ProviderCapabilities['grantRevocation'], incidentRevocation: boolean): ProviderCapabilities => ({
  grantRevocation,
  incidentRevocation,
  minTtlSeconds: 1,
  maxTtlSeconds: 3600,
});
const withIncident = { revokeIncident: async () => [] };

describe('revocation route', () => {
  it.each([
    ['a close, provider revokes incidents', caps('upstream', true), withIncident, 'incident_closed', 'incident'],
    ['a release, provider revokes incidents and grants', caps('upstream', true), withIncident, 'released', 'grant'],
    ['a close, provider revokes grants only', caps('upstream', false), {}, 'incident_closed', 'grant'],
    ['a close, ledger provider', caps('ledger', false), {}, 'incident_closed', 'grant'],
    ['a deviation, ledger provider', caps('ledger', false), {}, 'deviation', 'grant'],
    ['a release, provider cannot revoke one grant', caps('none', true), withIncident, 'released', 'until_expiry'],
    ['a deviation, provider cannot revoke one grant', caps('none', true), withIncident, 'deviation', 'until_expiry'],
    ['a close, provider cannot revoke one grant but whole incidents', caps('none', true), withIncident, 'incident_closed', 'incident'],
    ['a close, provider can revoke nothing', caps('none', false), {}, 'incident_closed', 'until_expiry'],
    ['a close, incidentRevocation declared without revokeIncident', caps('upstream', true), {}, 'incident_closed', 'grant'],
  ] as const)('%s → %s', (_name, capabilities, extra, reason, route) => {
    expect(revocationRoute({ capabilities, ...extra }, reason)).toBe(route);
  });
});

describe('a provider that cannot revoke a single credential', () => {
  const T0 = Date.UTC(2030, 0, 1);
  const calls: string[] = [];
  const unrevocable: ProviderFactory<Record<string, never>, Record<string, never>> = {
    name: 'static',
    configSchema: z.object({}).strict() as z.ZodType<Record<string, never>>,
    profileParamsSchema: z.object({}).strict() as z.ZodType<Record<string, never>>,
    async create() {
      return {
        name: 'static',
        capabilities: caps('none', true),
        async issue() {
          throw new Error('not used');
        },
        async revokeGrant(req) {
          calls.push(`grant:${req.grantId}`);
          return { grantId: req.grantId, outcome: 'revoked', confirmed: true };
        },
        async revokeIncident(req) {
          calls.push(`incident:${req.incidentId}`);
          return req.grants.map((g) => ({ grantId: g.grantId, outcome: 'revoked' as const, confirmed: true }));
        },
        async health() {
          return { ok: true };
        },
        async close() {},
      };
    },
  };

  /** The static provider's world: a worker over the memory store (or a wrapper of it), at a clock the test sets. */
  const staticWorld = async (over?: (store: Store) => Store) => {
    const world = { now: T0 };
    calls.length = 0;
    const config = parseConfig(
      stringify({
        ...testConfigObject(),
        providers: { static: {} },
        profiles: { s: { provider: 'static', maxTtl: 900, tier: 'read', agents: ['.*'] } },
      }),
    );
    const logger = createLogger({ level: 'silent' });
    const catalog = await createCatalog(config, [unrevocable], { logger, now: () => world.now, devMode: true, callTimeoutMs: 1000 });
    const store = createMemoryStore();
    const workerStore = over ? over(store) : store;
    const worker = createRevocationWorker({
      config,
      store: workerStore,
      catalog,
      audit: createAuditLog(workerStore, logger),
      metrics: createMetrics({ defaultMetrics: false }),
      logger,
      now: () => world.now,
    });
    await store.createIncident({ id: 'INC-S', source: 'api', title: 't', severity: 'sev3', status: 'open', openedAt: T0, openedBy: 'op' });
    const commit = async (id: string, expiresAt = T0 + 600_000): Promise<void> => {
      await store.createGrantIntent({ ...grant(id), expiresAt });
      await store.commitGrant(id, { handle: { ref: id }, expiresAt });
    };
    return Object.assign(world, { store, catalog, worker, commit });
  };
  const grant = (id: string): Grant => ({
    id,
    incidentId: 'INC-S',
    profile: 's',
    provider: 'static',
    agent: 'a',
    purpose: 'p',
    state: 'issuing',
    createdAt: T0,
    ttlSeconds: 600,
    expiresAt: T0 + 600_000,
  });

  it('leaves a released grant revoking until its expiry, audited, without calling the provider; a close still revokes the incident', async () => {
    const w = await staticWorld();
    const { store, worker, catalog } = w;
    for (const id of ['released', 'sibling']) await w.commit(id);

    await store.requestRevocation('released', 'released', w.now);
    expect(await worker.runOnce()).toBe(1);
    expect(calls).toEqual([]);
    expect(await store.getGrant('released')).toMatchObject({ state: 'revoking', lastError: 'ERR_PROVIDER_CANNOT_REVOKE' });
    expect((await store.listAudit({ incidentId: 'INC-S', limit: 10 })).map((e) => [e.type, e.data?.until])).toEqual([
      ['revocation.deferred', T0 + 600_000],
    ]);
    // Not due again before the credential's own expiry.
    w.now = T0 + 599_999;
    expect(await worker.runOnce()).toBe(0);
    w.now = T0 + 600_000;
    expect(await worker.runOnce()).toBe(1);
    expect(await store.getGrant('released')).toMatchObject({ state: 'expired' });

    // A close of the incident still goes through the one incident call.
    w.now = T0 + 1000;
    await w.commit('late', T0 + 700_000);
    await store.closeIncident('INC-S', w.now, 'op');
    expect(await worker.runOnce()).toBeGreaterThan(0);
    expect(calls).toEqual(['incident:INC-S']);
    expect((await store.getGrant('late'))?.state).toBe('revoked');
    await catalog.close();
  });

  it('audits each deferral once, in full, under its own grant, even when the job is delivered again', async () => {
    let failRetry = true;
    const w = await staticWorld((store) => ({
      ...store,
      async retryRevocation(id, dueAt, error) {
        if (id === 'redelivered' && failRetry) {
          failRetry = false;
          throw new Error('connection reset');
        }
        return store.retryRevocation(id, dueAt, error);
      },
    }));
    const deferred = async () =>
      (await w.store.listAudit({ incidentId: 'INC-S', limit: 100 })).filter((e) => e.type === 'revocation.deferred');
    const event = (grantId: string, until: number) => ({
      seq: expect.any(Number),
      at: T0 + 1000,
      type: 'revocation.deferred',
      actor: 'quartermaster',
      incidentId: 'INC-S',
      grantId,
      profile: 's',
      reason: 'released',
      data: { provider: 'static', until, why: 'the provider cannot revoke a single credential; it ends at its expiry' },
    });
    await w.commit('first', T0 + 600_000);
    await w.commit('second', T0 + 700_000);
    w.now = T0 + 1000;
    await w.store.requestRevocation('first', 'released', w.now);
    await w.store.requestRevocation('second', 'released', w.now);
    expect(await w.worker.runOnce()).toBe(2);
    expect(await deferred()).toEqual([event('first', T0 + 600_000), event('second', T0 + 700_000)]);

    // Audited, then the store fails to reschedule the job: it stays leased and is delivered again at the lease end.
    await w.commit('redelivered', T0 + 800_000);
    await w.store.requestRevocation('redelivered', 'released', w.now);
    await expect(w.worker.runOnce()).rejects.toThrow('connection reset');
    expect((await deferred()).map((e) => e.grantId)).toEqual(['first', 'second', 'redelivered']);
    w.now = T0 + 1000 + 1999;
    expect(await w.worker.runOnce()).toBe(0);
    w.now = T0 + 1000 + 2000; // leaseSeconds 2
    expect(await w.worker.runOnce()).toBe(1);
    expect(await w.store.getGrant('redelivered')).toMatchObject({ state: 'revoking', lastError: 'ERR_PROVIDER_CANNOT_REVOKE' });
    expect((await deferred()).filter((e) => e.grantId === 'redelivered')).toEqual([event('redelivered', T0 + 800_000)]);
    expect(calls).toEqual([]);
    await w.catalog.close();
  });

  /** A catalog config with one profile on the static provider, and the deps to build it. */
  const staticCatalog = () => ({
    config: parseConfig(
      stringify({
        ...testConfigObject(),
        providers: { static: {} },
        profiles: { s: { provider: 'static', maxTtl: 900, tier: 'read', agents: ['.*'] } },
      }),
    ),
    deps: { logger: createLogger({ level: 'silent' }), now: Date.now, devMode: true, callTimeoutMs: 1000 },
  });

  it('refuses at boot a provider that declares incidentRevocation without revokeIncident', async () => {
    const broken: ProviderFactory<Record<string, never>, Record<string, never>> = {
      ...unrevocable,
      async create(config, deps) {
        const { revokeIncident: _dropped, ...rest } = await unrevocable.create(config, deps);
        void _dropped;
        return rest;
      },
    };
    const { config, deps } = staticCatalog();
    await (await createCatalog(config, [unrevocable], deps)).close();
    await expect(createCatalog(config, [broken], deps)).rejects.toThrow(/declares incidentRevocation but has no revokeIncident/u);
  });

  it('refuses at boot a provider with a killIncident that does not declare incidentRevocation', async () => {
    const killer = (incidentRevocation: boolean): ProviderFactory<Record<string, never>, Record<string, never>> => ({
      ...unrevocable,
      async create(config, deps) {
        const provider = await unrevocable.create(config, deps);
        return { ...provider, capabilities: caps('none', incidentRevocation), killIncident: async () => true };
      },
    });
    const { config, deps } = staticCatalog();
    await (await createCatalog(config, [killer(true)], deps)).close();
    await expect(createCatalog(config, [killer(false)], deps)).rejects.toThrow(/has killIncident but does not declare incidentRevocation/u);
  });
});

describe('a close during a flood of releases', () => {
  it("revokes the closed incident's grants in the next batch, ahead of hundreds of releases due earlier", async () => {
    const T0 = Date.UTC(2030, 0, 1);
    let now = T0;
    const calls: string[] = [];
    const upstream: ProviderFactory<Record<string, never>, Record<string, never>> = {
      name: 'up',
      configSchema: z.object({}).strict() as z.ZodType<Record<string, never>>,
      profileParamsSchema: z.object({}).strict() as z.ZodType<Record<string, never>>,
      async create() {
        return {
          name: 'up',
          capabilities: caps('upstream', false),
          async issue() {
            throw new Error('not used');
          },
          async revokeGrant(req) {
            calls.push(req.grantId);
            return { grantId: req.grantId, outcome: 'revoked', confirmed: true };
          },
          async health() {
            return { ok: true };
          },
          async close() {},
        };
      },
    };
    const base = testConfigObject({ revocation: { batchSize: 8, concurrency: 4 } });
    const config = parseConfig(
      stringify({ ...base, providers: { up: {} }, profiles: { u: { provider: 'up', maxTtl: 900, tier: 'read', agents: ['.*'] } } }),
    );
    const logger = createLogger({ level: 'silent' });
    const catalog = await createCatalog(config, [upstream], { logger, now: () => now, devMode: true, callTimeoutMs: 1000 });
    const store = createMemoryStore();
    const worker = createRevocationWorker({
      config,
      store,
      catalog,
      audit: createAuditLog(store, logger),
      metrics: createMetrics({ defaultMetrics: false }),
      logger,
      now: () => now,
    });
    const grant = (id: string, incidentId: string): Grant => ({
      id,
      incidentId,
      profile: 'u',
      provider: 'up',
      agent: 'a',
      purpose: 'p',
      state: 'issuing',
      createdAt: T0,
      ttlSeconds: 600,
      expiresAt: T0 + 600_000,
    });
    for (const incidentId of ['INC-FLOOD', 'INC-CLOSE'])
      await store.createIncident({
        id: incidentId,
        source: 'api',
        title: 't',
        severity: 'sev2',
        status: 'open',
        openedAt: T0,
        openedBy: 'op',
      });
    for (let i = 0; i < 300; i++) {
      const id = `flood-${String(i).padStart(3, '0')}`;
      await store.createGrantIntent(grant(id, 'INC-FLOOD'));
      await store.commitGrant(id, { handle: { ref: id }, expiresAt: T0 + 600_000 });
      await store.requestRevocation(id, 'released', T0);
    }
    for (const id of ['close-a', 'close-b', 'close-c']) {
      await store.createGrantIntent(grant(id, 'INC-CLOSE'));
      await store.commitGrant(id, { handle: { ref: id }, expiresAt: T0 + 600_000 });
    }
    now = T0 + 60_000;
    await store.closeIncident('INC-CLOSE', now, 'op');

    expect(await worker.runOnce()).toBe(8);
    for (const id of ['close-a', 'close-b', 'close-c']) expect((await store.getGrant(id))?.state).toBe('revoked');
    expect(calls.filter((c) => c.startsWith('flood-'))).toHaveLength(5); // the rest of the batch
    await catalog.close();
  });
});
