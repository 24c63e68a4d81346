/**
 * Wraps a store so that any failure of the backing service surfaces as ERR_STORE_UNAVAILABLE
 * (503, retryable) instead of an internal error, with the cause kept for operators' logs only.
 *
 * With an integrity watch (integrity.ts), every operation is refused while the store is not
 * known to hold the broker's data — lost and unacknowledged, or not yet checked since the
 * connection came back — so nothing is issued, opened or closed against an emptied store.
 * `ping`, `close` and `meta` (what the watch itself uses) are never refused.
 */
import { BrokerError, isBrokerError, storeUnavailable } from '../errors.js';
import type { StoreIntegrity } from './integrity.js';
import type { Store } from './store.js';

const NEVER_REFUSED = new Set<string>(['ping', 'close']);

export function guardStore(store: Store, integrity?: Pick<StoreIntegrity, 'state'>): Store {
  const guarded: Record<string, unknown> = { kind: store.kind, meta: store.meta };
  for (const key of Object.keys(store) as Array<keyof Store>) {
    const member = store[key];
    if (typeof member !== 'function') continue;
    const refusable = integrity !== undefined && !NEVER_REFUSED.has(key);
    guarded[key] = async (...args: unknown[]) => {
      if (refusable) refuseUnlessVerified(integrity.state());
      try {
        return await (member as (...a: unknown[]) => Promise<unknown>).apply(store, args);
      } catch (err) {
        throw isBrokerError(err) ? err : storeUnavailable(err);
      }
    };
  }
  return guarded as unknown as Store;
}

function refuseUnlessVerified(state: ReturnType<StoreIntegrity['state']>): void {
  if (state === 'ok') return;
  throw new BrokerError('ERR_STORE_UNAVAILABLE', 503, 'state store unavailable', {
    detail:
      state === 'lost'
        ? 'store data loss detected and not yet acknowledged (docs/operations.md "Redis")'
        : 'store not verified since the connection came back',
  });
}
