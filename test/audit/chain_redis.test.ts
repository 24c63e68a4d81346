/**
 * Tampering with the audit log inside a real Redis (what someone with write access to the store
 * could do): an event rewritten, deleted, two swapped, one inserted, the tail cut off — each is
 * caught by the store's verification (GET /v1/audit/verify's walk), naming the first bad event.
 * Every case starts from the untouched log verifying. A hole after the sealed head stops the
 * sealer, which says so in a metric and a log line instead of sealing over it.
 */
import { Redis } from 'ioredis';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { loadCheckpointSigner, type CheckpointSigner } from '../../src/audit/checkpoints.js';
import { createAuditSealer } from '../../src/audit/sealer.js';
import { verifyStoredChain } from '../../src/audit/verify.js';
import { createLogger } from '../../src/logging.js';
import { createMetrics } from '../../src/metrics.js';
import { createRedisKeys } from '../../src/store/redis_keys.js';
import { createRedisStore } from '../../src/store/redis_store.js';
import type { Store } from '../../src/store/store.js';
import { createLogCapture } from '../support/log_capture.js';
import { startRedisServer, type RedisServer } from '../support/redis_server.js';

const T0 = Date.UTC(2026, 0, 1);
let server: RedisServer;
let admin: Redis;
let signer: CheckpointSigner;
let prefixes = 0;
const logs = createLogCapture();
const logger = createLogger({ level: 'info', destination: logs });

beforeAll(async () => {
  server = await startRedisServer();
  admin = new Redis(server.url);
  signer = await loadCheckpointSigner({
    keyFile: join(mkdtempSync(join(tmpdir(), 'qm-chain-redis-')), 'key.jwk'),
    previousPublicKeyFiles: [],
    generateIfMissing: true,
    strictPermissions: true,
    logger,
  });
});
afterAll(async () => {
  await admin?.quit();
  await server?.stop();
});

let store: Store;
let log: string;
let metrics: ReturnType<typeof createMetrics>;
let sealer: ReturnType<typeof createAuditSealer>;

beforeEach(async () => {
  const keyPrefix = `tamper${++prefixes}:`;
  store = await createRedisStore({ url: server.url, keyPrefix });
  log = createRedisKeys(keyPrefix).auditLog;
  metrics = createMetrics({ defaultMetrics: false });
  sealer = createAuditSealer(
    { store, signer, logger, metrics, now: () => T0 },
    { intervalMs: 1000, checkpointEvery: 4, checkpointSeconds: 60 },
  );
  for (let i = 0; i < 12; i += 1) {
    await store.appendAudit({ at: T0 + i, type: 'grant.issued', actor: 'spiffe://dev.local/agent/triage', grantId: `g-${i + 1}` });
    if (i % 4 === 3) await sealer.sealOnce();
  }
  expect(await verifyStoredChain(store, signer.publicKeys)).toMatchObject({ ok: true, events: 12, checkpoints: 3, checkpointsMatched: 3 });
  return () => store.close();
});

const member = async (seq: number): Promise<string> => (await admin.zrangebyscore(log, seq, seq))[0] as string;
const firstBad = async () => (await verifyStoredChain(store, signer.publicKeys)).firstBad;

describe('tampering inside Redis', () => {
  it('names a rewritten event', async () => {
    const original = await member(5);
    await admin.zrem(log, original);
    await admin.zadd(log, 5, original.replace('"g-5"', '"g-X"'));
    expect(await firstBad()).toMatchObject({ seq: 5, problem: 'modified' });
  });

  it('names an event whose stored link was removed', async () => {
    await admin.hdel(createRedisKeys(`tamper${prefixes}:`).auditLinks, '7');
    expect(await firstBad()).toMatchObject({ seq: 7, problem: 'modified' });
  });

  it('names a deleted event', async () => {
    await admin.zremrangebyscore(log, 6, 6);
    expect(await firstBad()).toMatchObject({ seq: 6, problem: 'missing' });
  });

  it('names two events swapped in the order', async () => {
    const [three, four] = [await member(3), await member(4)];
    await admin.zadd(log, 4, three, 3, four);
    expect(await firstBad()).toMatchObject({ seq: 3, problem: 'missing' });
  });

  it('names an inserted event', async () => {
    const forged = (await member(8)).replace('"g-8"', '"g-forged"');
    await admin.zadd(log, 7.5, forged);
    expect(await firstBad()).toMatchObject({ seq: 8, problem: 'modified' });
  });

  it('names a cut-off tail, by the counter and the checkpoint beyond it', async () => {
    await admin.zremrangebyscore(log, 11, '+inf');
    expect(await firstBad()).toMatchObject({ seq: 11, problem: 'truncated' });
  });

  it('stops sealing at a hole after the sealed head, with a metric and an error log', async () => {
    for (let i = 12; i < 15; i += 1) await store.appendAudit({ at: T0 + i, type: 'grant.issued', actor: 'a', grantId: `g-${i + 1}` });
    expect(await sealer.sealOnce()).toMatchObject({ sealed: 3 });
    await store.appendAudit({ at: T0, type: 'grant.issued', actor: 'a', grantId: 'g-16' });
    await store.appendAudit({ at: T0, type: 'grant.issued', actor: 'a', grantId: 'g-17' });
    await admin.zremrangebyscore(log, 16, 16);
    expect(await sealer.sealOnce()).toMatchObject({ sealed: 0, brokenAt: 16 });
    expect(await metrics.registry.getSingleMetricAsString('quartermaster_audit_chain_broken')).toMatch(/ 1$/mu);
    expect(logs.text()).toMatch(/audit log does not continue its chain/u);
    expect(await firstBad()).toMatchObject({ seq: 16, problem: 'missing' });
  });
});
