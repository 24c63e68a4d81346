/**
 * The store integrity watch (src/store/integrity.ts) over a StoreMeta whose data the test can
 * wipe, as a Redis restart without persistence does. Several watches on one meta are several
 * brokers on one Redis.
 */
import { describe, expect, it } from 'vitest';
import { createStoreIntegrity, type StoreIntegrity } from '../../src/store/integrity.js';
import type { StoreLoss, StoreMarker, StoreMeta } from '../../src/store/store_meta.js';

interface WipeableMeta extends StoreMeta {
  wipe(): void;
  dropConnection(): void;
  restoreConnection(): void;
}

function wipeableMeta(): WipeableMeta {
  let marker: StoreMarker | null = null;
  let loss: StoreLoss | null = null;
  const listeners: Array<(up: boolean) => void> = [];
  return {
    async persistence() {
      return { durable: false, detail: 'test' };
    },
    async read() {
      return { marker, loss };
    },
    async createMarker(m) {
      marker ??= m;
      return marker;
    },
    async recordLoss(l) {
      loss ??= l;
      return loss;
    },
    async acknowledgeLoss(lossId, m) {
      if (loss?.id !== lossId) return false;
      loss = null;
      marker = m;
      return true;
    },
    onConnectionChange(listener) {
      listeners.push(listener);
    },
    wipe() {
      marker = null;
      loss = null;
    },
    dropConnection() {
      for (const l of listeners) l(false);
    },
    restoreConnection() {
      for (const l of listeners) l(true);
    },
  };
}

const silent = { info: () => undefined, warn: () => undefined, error: () => undefined };

async function broker(meta: StoreMeta, changes: string[] = []): Promise<StoreIntegrity> {
  const integrity = createStoreIntegrity(meta, {
    logger: silent,
    now: () => 1_000,
    intervalMs: 3_600_000,
    onStateChange: (state) => changes.push(state),
  });
  await integrity.start();
  integrity.stop(); // tests drive every check themselves
  return integrity;
}

describe('store integrity', () => {
  it('writes a marker on a new store, and every later broker adopts it', async () => {
    const meta = wipeableMeta();
    const first = await broker(meta);
    const second = await broker(meta);
    expect([first.state(), second.state()]).toEqual(['ok', 'ok']);
    expect(await first.check()).toBe('ok');
    expect((await meta.read()).marker).not.toBeNull();
  });

  it('notices a wipe, records the loss in the store, and every broker refuses', async () => {
    const meta = wipeableMeta();
    const changes: string[] = [];
    const first = await broker(meta, changes);
    const second = await broker(meta);
    expect(await first.check()).toBe('ok');
    meta.wipe();
    expect(await first.check()).toBe('lost');
    expect(changes).toEqual(['ok', 'lost']);
    const loss = first.loss();
    expect(loss).toMatchObject({ missing: expect.any(String), found: null });
    expect((await meta.read()).loss).toEqual(loss);
    // The other broker sees the recorded loss, not just its own marker check.
    expect(await second.check()).toBe('lost');
    expect(second.loss()?.id).toBe(loss?.id);
    // And a broker that starts now boots refusing.
    expect((await broker(meta)).state()).toBe('lost');
  });

  it('catches a broker that restarted into the wiped store and wrote a new marker', async () => {
    const meta = wipeableMeta();
    const survivor = await broker(meta);
    meta.wipe();
    const restarted = await broker(meta);
    // Alone, the restarted broker cannot tell a wiped store from a new one.
    expect(restarted.state()).toBe('ok');
    expect(await survivor.check()).toBe('lost');
    expect(survivor.loss()?.found).toBe((await meta.read()).marker?.id);
    expect(await restarted.check()).toBe('lost');
  });

  it('serves again once an operator acknowledges; brokers that knew either marker adopt the new one', async () => {
    const meta = wipeableMeta();
    const survivor = await broker(meta);
    const partitioned = await broker(meta); // never checks while the loss is recorded
    meta.wipe();
    const restarted = await broker(meta);
    expect(await survivor.check()).toBe('lost');
    const bootedIntoLoss = await broker(meta);
    expect(bootedIntoLoss.state()).toBe('lost');

    const lossId = survivor.loss()?.id;
    const acknowledged = await survivor.acknowledge('alice@example.com', 'Redis restarted; incidents re-opened by hand');
    expect(acknowledged?.id).toBe(lossId);
    expect(survivor.state()).toBe('ok');
    const marker = (await meta.read()).marker;
    expect(marker).toMatchObject({
      acknowledges: acknowledged?.id,
      acknowledgedBy: 'alice@example.com',
      reason: 'Redis restarted; incidents re-opened by hand',
    });
    expect(await restarted.check()).toBe('ok');
    expect(await bootedIntoLoss.check()).toBe('ok');
    expect(await partitioned.check()).toBe('ok');
    expect(await survivor.acknowledge('alice@example.com', 'again')).toBeNull();
  });

  it('counts a marker no acknowledgement accounts for as a loss, even when it is not missing', async () => {
    const meta = wipeableMeta();
    const first = await broker(meta);
    expect(await first.check()).toBe('ok');
    meta.wipe();
    await meta.createMarker({ id: 'someone-elses', createdAt: 1 });
    expect(await first.check()).toBe('lost');
    expect(first.loss()?.found).toBe('someone-elses');
  });

  it('is unverified from a dropped connection until the marker was read again', async () => {
    const meta = wipeableMeta();
    const integrity = createStoreIntegrity(meta, { logger: silent, now: () => 1_000, intervalMs: 3_600_000 });
    await integrity.start();
    try {
      expect(integrity.state()).toBe('ok');
      meta.dropConnection();
      expect(integrity.state()).toBe('unverified');
      meta.restoreConnection();
      expect(await integrity.check()).toBe('ok');
      // A reconnect to an emptied store ends in lost, never back in ok.
      meta.dropConnection();
      meta.wipe();
      meta.restoreConnection();
      expect(await integrity.check()).toBe('lost');
    } finally {
      integrity.stop();
    }
  });
});
