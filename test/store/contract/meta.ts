/** The store contract for the store identity marker and the loss record (src/store/integrity.ts). */
import { beforeEach, describe, expect, it } from 'vitest';
import type { Store } from '../../../src/store/store.js';
import { MIN, T0, type ContractWorld } from './world.js';

export function describeMetaContract(world: ContractWorld): void {
  let store!: Store;
  beforeEach(() => {
    store = world.store();
  });

  describe('store meta (identity marker and loss record)', () => {
    const marker = { id: 'm1', createdAt: T0 };
    const loss = { id: 'l1', detectedAt: T0 + MIN, missing: 'm1', found: null };

    it('writes the marker once: a second write returns the first', async () => {
      expect(await store.meta.read()).toEqual({ marker: null, loss: null });
      expect(await store.meta.createMarker(marker)).toEqual(marker);
      expect(await store.meta.createMarker({ id: 'm2', createdAt: T0 + 1 })).toEqual(marker);
      expect(await store.meta.read()).toEqual({ marker, loss: null });
    });

    it('records a loss once, and acknowledges only the loss it names, atomically with the new marker', async () => {
      await store.meta.createMarker(marker);
      expect(await store.meta.recordLoss(loss)).toEqual(loss);
      expect(await store.meta.recordLoss({ ...loss, id: 'l2' })).toEqual(loss);
      const next = { id: 'm3', createdAt: T0 + 2 * MIN, acknowledges: 'l1', replaces: ['m1'], acknowledgedBy: 'alice', reason: 'ok' };
      expect(await store.meta.acknowledgeLoss('l2', next)).toBe(false);
      expect(await store.meta.read()).toEqual({ marker, loss });
      expect(await store.meta.acknowledgeLoss('l1', next)).toBe(true);
      expect(await store.meta.read()).toEqual({ marker: next, loss: null });
      expect(await store.meta.acknowledgeLoss('l1', next)).toBe(false);
    });
  });
}
