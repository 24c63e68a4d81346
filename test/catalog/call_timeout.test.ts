/**
 * Provider calls are bounded by the catalog: a provider that honours its signal, and one that
 * ignores it, both end as ERR_PROVIDER_UNAVAILABLE "timed out" once callTimeoutMs passes, and not
 * before; a provider that answers in time is unaffected. The catalog's deadline timer runs on
 * vitest's fake timers, so the test moves time and nothing waits for it.
 */
import { afterEach, beforeEach, expect, it, vi } from 'vitest';
import { stringify } from 'yaml';
import { z } from 'zod';
import { createCatalog } from '../../src/catalog/catalog.js';
import { parseConfig } from '../../src/config/load.js';
import { createLogger } from '../../src/logging.js';
import type { ProviderFactory } from '../../src/sdk.js';
import { createLogCapture } from '../support/log_capture.js';
import { testConfigObject } from '../support/test_config.js';

type Behaviour = 'answers' | 'honours-signal' | 'ignores-signal';

function slowProvider(behaviour: Behaviour): ProviderFactory<Record<string, never>, Record<string, never>> {
  return {
    name: 'slow',
    configSchema: z.object({}).strict() as z.ZodType<Record<string, never>>,
    profileParamsSchema: z.object({}).strict() as z.ZodType<Record<string, never>>,
    async create() {
      return {
        name: 'slow',
        capabilities: { grantRevocation: 'upstream', incidentRevocation: false, minTtlSeconds: 1, maxTtlSeconds: 3600 },
        async issue(req) {
          if (behaviour === 'answers')
            return {
              credential: { token: 'secret-token-value' },
              secretFields: ['token'],
              handle: { ref: req.grantId },
              expiresAt: Date.now() + req.ttlSeconds * 1000,
            };
          // Never answers; only the signal (if honoured) ends the wait.
          return new Promise((_resolve, reject) => {
            if (behaviour === 'honours-signal') req.signal.addEventListener('abort', () => reject(req.signal.reason), { once: true });
          });
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
}

const CALL_TIMEOUT_MS = 30_000;

async function catalogWith(behaviour: Behaviour) {
  const config = parseConfig(
    stringify({
      ...testConfigObject({}),
      providers: { slow: {} },
      profiles: { p: { provider: 'slow', maxTtl: 900, tier: 'read', agents: ['.*'] } },
    }),
  );
  const logger = createLogger({ level: 'silent', destination: createLogCapture() });
  return createCatalog(config, [slowProvider(behaviour)], { logger, now: Date.now, devMode: true, callTimeoutMs: CALL_TIMEOUT_MS });
}

const request = {
  grantId: 'grt_timeout000000000000000',
  incidentId: 'INC-T',
  agent: { id: 'spiffe://dev.local/agent/a', issuer: 'x' },
  ttlSeconds: 60,
  purpose: 'p',
};

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
});
afterEach(() => {
  vi.useRealTimers();
});

it('passes a timely answer through, and its deadline timer ends with the call', async () => {
  const catalog = await catalogWith('answers');
  await expect(catalog.issue(catalog.profile('p')!, request)).resolves.toMatchObject({ handle: { ref: request.grantId } });
  expect(vi.getTimerCount()).toBe(0);
});

it.each(['honours-signal', 'ignores-signal'] as const)(
  'ends a call that never answers (provider %s) as ERR_PROVIDER_UNAVAILABLE, timed out, at callTimeoutMs',
  async (behaviour) => {
    const catalog = await catalogWith(behaviour);
    let settled = false;
    const outcome = catalog
      .issue(catalog.profile('p')!, request)
      .then(
        () => 'answered',
        (err: unknown) => err,
      )
      .finally(() => {
        settled = true;
      });
    await vi.advanceTimersByTimeAsync(CALL_TIMEOUT_MS - 1);
    expect(settled).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(await outcome).toMatchObject({ code: 'ERR_PROVIDER_UNAVAILABLE', status: 503, detail: 'provider(slow): issue timed out' });
    expect(vi.getTimerCount()).toBe(0);
  },
);
