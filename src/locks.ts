/**
 * Locks for providers' read-modify-write of upstream state (sdk.ts ProviderLocks), held in the
 * store so every replica sees them: AWS STS's deny policy of a role is read, changed and written
 * back, and two replicas doing that at once would lose one's statement.
 *
 * A holder renews its lease every third of it while the work runs; if a renewal finds the lease
 * gone (the broker stalled past it, or the store lost it), the work's signal aborts and the fence
 * tells the provider whether a later holder wrote after it. A broker that dies holding a lock
 * frees it when the lease runs out.
 */
import { randomBytes } from 'node:crypto';
import { describeCause } from './errors.js';
import { providerUnavailable, type HeldLock, type ProviderLocks } from './sdk.js';
import type { Store } from './store/store.js';

export interface LocksOptions {
  readonly store: Pick<Store, 'acquireLock' | 'renewLock' | 'releaseLock'>;
  readonly now: () => number;
  readonly logger: { warn(obj: object, msg?: string): void };
  /** Default 10 s: longer than any one upstream call (the catalog bounds those at 10 s). */
  readonly leaseMs?: number;
  /** Prefix of every name (the provider's), so providers never share a lock by accident. */
  readonly namespace?: string;
}

const DEFAULT_LEASE_MS = 10_000;
const DEFAULT_WAIT_MS = 10_000;
const RETRY_MIN_MS = 20;
const RETRY_MAX_MS = 250;

/** This process, in lock owners: a lock is never mistaken for another replica's. */
const processId = randomBytes(8).toString('base64url');

export function createLocks(options: LocksOptions): ProviderLocks & { within(namespace: string): ProviderLocks } {
  const { store, now, logger } = options;
  const leaseMs = options.leaseMs ?? DEFAULT_LEASE_MS;
  const prefix = options.namespace === undefined ? '' : `${options.namespace}:`;

  const acquire = async (name: string, owner: string, waitMs: number): Promise<number> => {
    const started = now();
    for (let delay = RETRY_MIN_MS; ; delay = Math.min(RETRY_MAX_MS, delay * 2)) {
      const fence = await store.acquireLock(name, owner, leaseMs, now());
      if (fence !== null) return fence;
      if (now() - started >= waitMs) throw providerUnavailable(`lock ${name} is held elsewhere for longer than ${waitMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  };

  const withLock: ProviderLocks['withLock'] = async (localName, work, opts) => {
    const name = `${prefix}${localName}`;
    const owner = `${processId}:${randomBytes(8).toString('base64url')}`;
    const fence = await acquire(name, owner, opts?.waitMs ?? DEFAULT_WAIT_MS);
    const lost = new AbortController();
    let renewing = true;
    const renew = async (): Promise<void> => {
      const kept = await store.renewLock(name, owner, leaseMs, now()).catch((err: unknown) => {
        logger.warn({ lock: name, err: describeCause(err) }, 'lock renewal failed; retrying');
        return true;
      });
      if (!kept && renewing) {
        renewing = false;
        logger.warn({ lock: name, fence }, 'lock lease lost while its work ran; the work is told to stop');
        lost.abort(new Error(`lock ${name} lost`));
      }
    };
    const timer = setInterval(() => void renew(), Math.max(1, Math.floor(leaseMs / 3)));
    timer.unref();
    const held: HeldLock = { fence, signal: lost.signal };
    try {
      return await work(held);
    } finally {
      renewing = false;
      clearInterval(timer);
      await store
        .releaseLock(name, owner)
        .catch((err: unknown) => logger.warn({ lock: name, err: describeCause(err) }, 'lock release failed; the lease ends on its own'));
    }
  };

  return {
    withLock,
    within: (namespace) => createLocks({ ...options, namespace: `${prefix}${namespace}` }),
  };
}
