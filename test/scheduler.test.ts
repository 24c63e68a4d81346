/**
 * Providers' timers (src/scheduler.ts) stop with the provider: the catalog closes each provider's
 * scheduler after the provider, so a renewal it scheduled never fires against a closed client.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { stringify } from 'yaml';
import { z } from 'zod';
import { createCatalog } from '../src/catalog/catalog.js';
import { parseConfig } from '../src/config/load.js';
import { createLogger } from '../src/logging.js';
import { createScheduler } from '../src/scheduler.js';
import type { ProviderFactory, Scheduler } from '../src/sdk.js';
import { testConfigObject } from './support/test_config.js';

afterEach(() => {
  vi.useRealTimers();
});

describe('provider scheduler', () => {
  it('runs what is set, not what is cleared, and nothing once closed', async () => {
    vi.useFakeTimers();
    const scheduler = createScheduler();
    const fired: string[] = [];
    scheduler.set(() => fired.push('a'), 100);
    const b = scheduler.set(() => fired.push('b'), 100);
    scheduler.clear(b);
    scheduler.set(() => fired.push('c'), 500);
    expect(scheduler.pending()).toBe(2);
    await vi.advanceTimersByTimeAsync(100);
    expect(fired).toEqual(['a']);
    scheduler.close();
    scheduler.set(() => fired.push('d'), 1);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(fired).toEqual(['a']);
    expect(scheduler.pending()).toBe(0);
  });

  it("is given to each provider and closed after it, cancelling the provider's pending timers", async () => {
    vi.useFakeTimers();
    const fired: string[] = [];
    let scheduler: Scheduler | undefined;
    const ticking: ProviderFactory<Record<string, never>, Record<string, never>> = {
      name: 'ticking',
      configSchema: z.object({}).strict() as z.ZodType<Record<string, never>>,
      profileParamsSchema: z.object({}).strict() as z.ZodType<Record<string, never>>,
      async create(_config, deps) {
        scheduler = deps.scheduler;
        deps.scheduler?.set(() => fired.push('early'), 10);
        deps.scheduler?.set(() => fired.push('late'), 60_000);
        return {
          name: 'ticking',
          capabilities: { grantRevocation: 'ledger', incidentRevocation: false, minTtlSeconds: 1, maxTtlSeconds: 60 },
          async issue() {
            throw new Error('not used');
          },
          async revokeGrant(req) {
            return { grantId: req.grantId, outcome: 'revoked', confirmed: true };
          },
          async health() {
            return { ok: true };
          },
          async close() {},
        };
      },
    };
    const config = parseConfig(stringify({ ...testConfigObject(), providers: { ticking: {} }, profiles: {} }));
    const catalog = await createCatalog(config, [ticking], {
      logger: createLogger({ level: 'silent' }),
      now: Date.now,
      devMode: true,
      callTimeoutMs: 1000,
    });
    expect(scheduler).toBeDefined();
    await vi.advanceTimersByTimeAsync(10);
    expect(fired).toEqual(['early']);
    await catalog.close();
    await vi.advanceTimersByTimeAsync(60_000);
    expect(fired).toEqual(['early']);
  });
});
