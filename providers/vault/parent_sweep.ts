/**
 * The parents of ended incidents, revoked from the store's records: every `parentSweepSeconds`
 * one replica (the store-backed lock `parent-sweep`) reads the recorded parents of incidents that
 * are closed or gone and revokes each (`auth/token/revoke-accessor`; Vault revokes its tree and
 * leases). This catches what a close's revokeIncident cannot: an incident whose grants had all
 * ended (released, expired) before the close has no revocation job, yet its parent — every agent
 * policy plus `auth/token/create` — would live until its explicit max TTL. A parent Vault no
 * longer knows (400) counts as revoked; one that fails stays recorded for the next sweep.
 */
import type { IncidentRecords, ProviderLocks, ProviderLogger, Scheduler } from '../../src/sdk.js';
import type { VaultClient } from './client.js';
import { VaultCallError } from './errors.js';
import type { IncidentParents } from './parents.js';
import { forgetParents, revokeAccessor } from './revoke.js';

export interface ParentSweepDeps {
  readonly client: VaultClient;
  readonly parents: IncidentParents;
  readonly records: IncidentRecords;
  readonly logger: ProviderLogger;
  readonly fingerprint: (accessor: string) => string;
  readonly scheduler: Scheduler;
  readonly locks?: ProviderLocks;
  readonly intervalMs: number;
}

export interface ParentSweep {
  /** One sweep now; resolves with the number of parents revoked (or found gone). */
  runOnce(): Promise<number>;
  stop(): void;
}

export function startParentSweep(deps: ParentSweepDeps): ParentSweep {
  const { logger } = deps;
  let stopped = false;
  let handle: unknown = null;

  const sweep = async (): Promise<number> => {
    let ended = 0;
    for (const { incidentId, values } of await deps.records.ofEndedIncidents()) {
      const done: string[] = [];
      for (const accessor of values) {
        try {
          const outcome = deps.parents.isRevoked(accessor) ? 'revoked' : await revokeAccessor(deps, accessor, AbortSignal.timeout(10_000));
          deps.parents.markRevoked(accessor);
          done.push(accessor);
          logger.info({ incidentId, parent: deps.fingerprint(accessor), outcome }, 'vault: parent of an ended incident revoked');
        } catch (err) {
          logger.warn(
            { incidentId, parent: deps.fingerprint(accessor), failure: err instanceof VaultCallError ? err.message : 'unknown' },
            'vault: could not revoke the parent of an ended incident; the next sweep retries',
          );
        }
      }
      await forgetParents(deps, incidentId, done);
      ended += done.length;
    }
    return ended;
  };

  const runOnce = async (): Promise<number> => (deps.locks ? deps.locks.withLock('parent-sweep', () => sweep(), { waitMs: 0 }) : sweep());

  const tick = (): void => {
    runOnce()
      .catch((err: unknown) => {
        // Another replica sweeping (the lock), or the store unreachable: the next tick tries again.
        logger.debug({ failure: err instanceof Error ? err.message : 'unknown' }, 'vault: parent sweep skipped');
      })
      .finally(() => {
        if (!stopped) handle = deps.scheduler.set(tick, deps.intervalMs);
      });
  };
  handle = deps.scheduler.set(tick, deps.intervalMs);

  return {
    runOnce,
    stop() {
      stopped = true;
      if (handle !== null) deps.scheduler.clear(handle);
    },
  };
}
