/** StoreMeta of the memory store: nothing survives a restart, and nothing else can wipe it. */
import type { StoreLoss, StoreMarker, StoreMeta } from './store_meta.js';

export function createMemoryMeta(): StoreMeta {
  let marker: StoreMarker | null = null;
  let loss: StoreLoss | null = null;
  return {
    async persistence() {
      return { durable: false, detail: 'memory store: everything is lost when the broker stops' };
    },
    async read() {
      return { marker, loss };
    },
    async createMarker(candidate) {
      marker ??= candidate;
      return marker;
    },
    async recordLoss(candidate) {
      loss ??= candidate;
      return loss;
    },
    async acknowledgeLoss(lossId, next) {
      if (loss?.id !== lossId) return false;
      loss = null;
      marker = next;
      return true;
    },
    onConnectionChange() {},
  };
}
