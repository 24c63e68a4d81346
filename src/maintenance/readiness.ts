/**
 * Whether this broker should get traffic: not shutting down, the store answers, and it is known to
 * hold the broker's data (store/integrity.ts). A volatile Redis the config accepted is ready, and
 * says so. Read by GET /readyz.
 */
import { describeCause } from '../errors.js';
import type { Logger } from '../logging.js';
import type { StoreIntegrity } from '../store/integrity.js';
import type { Store } from '../store/store.js';
import type { StorePersistence } from '../store/store_meta.js';

export type NotReadyReason = 'shutting_down' | 'store_unreachable' | 'store_data_lost' | 'store_unverified';

export interface Readiness {
  readonly ready: boolean;
  readonly reason?: NotReadyReason;
  readonly store: Store['kind'];
  readonly persistence?: 'durable' | 'volatile';
  readonly lossDetectedAt?: number;
}

export interface ReadinessDeps {
  readonly store: Pick<Store, 'kind' | 'ping'>;
  readonly storeHealth: { readonly integrity: Pick<StoreIntegrity, 'state' | 'loss'>; readonly persistence: StorePersistence | null };
  readonly logger: Pick<Logger, 'warn'>;
}

export async function checkReadiness(deps: ReadinessDeps, shuttingDown: boolean): Promise<Readiness> {
  const { integrity, persistence } = deps.storeHealth;
  const base = {
    store: deps.store.kind,
    ...(persistence === null ? {} : { persistence: persistence.durable ? ('durable' as const) : ('volatile' as const) }),
  };
  if (shuttingDown) return { ready: false, reason: 'shutting_down', ...base };
  try {
    await deps.store.ping();
  } catch (err) {
    deps.logger.warn({ err: describeCause(err) }, 'readiness: store unreachable');
    return { ready: false, reason: 'store_unreachable', ...base };
  }
  const state = integrity.state();
  if (state === 'ok') return { ready: true, ...base };
  const loss = integrity.loss();
  return {
    ready: false,
    reason: state === 'lost' ? 'store_data_lost' : 'store_unverified',
    ...base,
    ...(loss ? { lossDetectedAt: loss.detectedAt } : {}),
  };
}
