/**
 * Keeps a claimed batch's jobs leased while the worker is revoking them. The lease is short
 * (revocation.leaseSeconds, 5 s by default) so that the jobs of a broker that died are taken over
 * within seconds; a provider call may take longer than that (the catalog allows 10 s), and without
 * renewal another replica would claim a job still in flight and deliver it a second time.
 *
 * Every leaseMs / 3 the jobs not yet settled get their lease extended to now + leaseMs: a renewal
 * may fail or arrive late twice before the lease runs out. A job leaves the set when the batch
 * finishes or reschedules it (`release`), before that store call, so a renewal never races a
 * settled job (the store's fence would refuse it anyway, store.ts renewRevocationLeases). One
 * renewal is in flight at a time; the next is scheduled when it returns.
 *
 * A broker frozen (or partitioned from Redis) longer than the lease loses its jobs to another
 * worker and both may deliver them: harmless, revocation is idempotent (revoke_jobs.ts) and the
 * audit event is deduplicated. Such lost leases are dropped from the set and logged.
 */
import { describeCause } from '../errors.js';
import type { Logger } from '../logging.js';
import type { RevocationJob, Store } from '../store/store.js';

export interface LeaseRenewal {
  /** The job is being finished or rescheduled: stop renewing its lease. */
  release(grantId: string): void;
  /** The batch ended: no renewal after this one (one already in flight still completes). */
  stop(): void;
}

export interface LeaseRenewalDeps {
  readonly store: Pick<Store, 'renewRevocationLeases'>;
  readonly logger: Pick<Logger, 'warn'>;
  readonly now: () => number;
}

/** Renewals per lease: two may fail or run late before the lease ends. */
const RENEWALS_PER_LEASE = 3;

export function renewLeasesWhileRevoking(deps: LeaseRenewalDeps, jobs: readonly RevocationJob[], leaseMs: number): LeaseRenewal {
  /** grant id → end of the lease this worker holds on its job. */
  const held = new Map<string, number>(jobs.map((j) => [j.grantId, j.leasedUntil]));
  const everyMs = Math.max(1, Math.floor(leaseMs / RENEWALS_PER_LEASE));
  let timer: ReturnType<typeof setTimeout> | null = null;
  let stopped = false;

  const schedule = (): void => {
    if (!stopped && held.size > 0) timer = setTimeout(() => void renew(), everyMs);
  };

  const renew = async (): Promise<void> => {
    timer = null;
    const leases = [...held].map(([grantId, leasedUntil]) => ({ grantId, leasedUntil }));
    const newUntil = deps.now() + leaseMs;
    try {
      const renewed = new Set(await deps.store.renewRevocationLeases(leases, newUntil));
      let lost = 0;
      for (const { grantId, leasedUntil } of leases) {
        if (!held.has(grantId)) continue; // settled while the renewal ran
        if (renewed.has(grantId)) {
          held.set(grantId, Math.max(leasedUntil, newUntil));
        } else {
          held.delete(grantId);
          lost += 1;
        }
      }
      if (lost > 0)
        deps.logger.warn(
          { jobs: lost, leaseMs },
          'revocation leases lost before renewal (broker stalled past the lease); another worker may deliver these jobs again',
        );
    } catch (err) {
      // The batch goes on: the leases still run until their end, and the next interval retries.
      deps.logger.warn({ jobs: leases.length, err: describeCause(err) }, 'revocation lease renewal failed; retrying at the next interval');
    }
    schedule();
  };

  schedule();
  return {
    release(grantId) {
      held.delete(grantId);
    },
    stop() {
      stopped = true;
      if (timer !== null) clearTimeout(timer);
      timer = null;
    },
  };
}
