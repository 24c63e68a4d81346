/**
 * Wraps a store so that any failure of the backing service surfaces as ERR_STORE_UNAVAILABLE
 * (503, retryable) instead of an internal error, with the cause kept for operators' logs only.
 */
import { isBrokerError, storeUnavailable } from '../errors.js';
import type { Store } from './store.js';

export function guardStore(store: Store): Store {
  const guarded: Record<string, unknown> = { kind: store.kind };
  for (const key of Object.keys(store) as Array<keyof Store>) {
    const member = store[key];
    if (typeof member !== 'function') continue;
    guarded[key] = async (...args: unknown[]) => {
      try {
        return await (member as (...a: unknown[]) => Promise<unknown>).apply(store, args);
      } catch (err) {
        throw isBrokerError(err) ? err : storeUnavailable(err);
      }
    };
  }
  return guarded as unknown as Store;
}
