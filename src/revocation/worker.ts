/**
 * The revocation worker: claims due jobs from the durable queue in the store, revokes them, and
 * sweeps expired grants and what retention ends (maintenance/retention.ts), and applies the
 * webhook inbox's incident events (webhooks/inbox_worker.ts). Any number of brokers
 * may run one against the same Redis; leases make a crashed broker's jobs claimable again
 * (at-least-once), and revoke_jobs.ts makes repeats harmless.
 * Leases are short and renewed while a batch runs (lease_renewal.ts), so a dead broker's jobs are
 * taken over within seconds while a live broker's slow provider calls are not delivered twice.
 *
 * On start it re-runs the (idempotent) close of every incident still closing, so a crash between
 * the close tombstone and the enqueue loses nothing.
 */
import { describeCause } from '../errors.js';
import type { DomainDeps } from '../domain.js';
import type { BackgroundLanes } from '../sdk.js';
import { sweepRetention } from '../maintenance/retention.js';
import { INBOX_BATCH, processInbox } from '../webhooks/inbox_worker.js';
import { createFailureLog } from './failure_log.js';
import { renewLeasesWhileRevoking } from './lease_renewal.js';
import type { OverdueNotice } from './overdue_notice.js';
import { createRateLimiter } from './rate_limiter.js';
import { revokeJobs } from './revoke_jobs.js';

export interface RevocationWorker {
  start(): Promise<void>;
  /** Finishes the batch in flight, then stops; unclaimed jobs stay queued. */
  stop(): Promise<void>;
  /** Wake up now: new jobs were enqueued. */
  nudge(): void;
  /** One claim-and-revoke pass; returns the number of jobs claimed. For tests and the CLI. */
  runOnce(): Promise<number>;
}

type WorkerDeps = Omit<DomainDeps, 'nudgeRevocation'> & {
  readonly overdueNotice?: OverdueNotice | null;
  /** Where a revocation its provider answered is recorded (revoke_jobs.ts); absent: at once. */
  readonly lanes?: BackgroundLanes;
};

/** Grants marked expired per store call. */
const EXPIRY_SWEEP_BATCH = 1000;

export function createRevocationWorker(deps: WorkerDeps): RevocationWorker {
  const cfg = deps.config.revocation;
  const limiter = createRateLimiter(cfg.maxPerSecond, deps.now);
  let stopping = false;
  let loop: Promise<void> | null = null;
  let wake: (() => void) | null = null;
  let nudged = false;
  let nextSweepAt = 0;
  let nextRetentionAt = 0;
  const failures = createFailureLog(deps.logger, deps.now);
  /** Whether the closes in flight at start were re-run; retried by the loop until they are. */
  let resumed = false;

  const waitForWork = (ms: number): Promise<void> =>
    new Promise((resolve) => {
      if (nudged || stopping) {
        nudged = false;
        resolve();
        return;
      }
      const timer = setTimeout(done, ms);
      function done(): void {
        clearTimeout(timer);
        wake = null;
        nudged = false;
        resolve();
      }
      wake = done;
    });

  /** True when the batch was full: more grants are already due. */
  const sweepExpired = async (): Promise<boolean> => {
    const now = deps.now();
    if (now < nextSweepAt) return false;
    const expired = await deps.store.expireGrants(now, EXPIRY_SWEEP_BATCH);
    if (expired.length > 0) deps.metrics.grantsExpired.inc(expired.length);
    // A full batch means more are due: sweep again on the next pass instead of waiting the
    // interval, or a broker issuing more than batch / interval grants a second falls behind.
    const more = expired.length === EXPIRY_SWEEP_BATCH;
    nextSweepAt = more ? now : now + cfg.expirySweepSeconds * 1000;
    return more;
  };

  /** True when a batch was full: more is already due. */
  const sweepRetained = async (): Promise<boolean> => {
    const now = deps.now();
    if (now < nextRetentionAt) return false;
    const { more } = await sweepRetention({ ...deps, nudgeRevocation: () => (nudged = true) }, now);
    nextRetentionAt = more ? now : now + deps.config.retention.sweepSeconds * 1000;
    return more;
  };

  const runOnce = async (): Promise<number> => {
    const max = limiter.available(cfg.batchSize);
    if (max === 0) return 0;
    const leaseMs = cfg.leaseSeconds * 1000;
    const jobs = await deps.store.claimRevocations(deps.now(), max, leaseMs);
    if (jobs.length === 0) return 0;
    limiter.take(jobs.length);
    const leases = renewLeasesWhileRevoking(deps, jobs, leaseMs);
    try {
      await revokeJobs(deps, jobs, cfg.concurrency, { release: (grantId) => leases.release(grantId) });
    } finally {
      leases.stop();
    }
    return jobs.length;
  };

  const resumeClosing = async (): Promise<void> => {
    const ids = await deps.store.listClosingIncidents();
    for (const id of ids) {
      const result = await deps.store.closeIncident(id, deps.now(), 'quartermaster');
      if (result && result.revoking.length > 0) void deps.incidentKill?.begin(id, deps.now());
    }
    if (ids.length > 0) deps.logger.info({ incidents: ids.length }, 'resumed revocation of closing incidents');
  };

  const run = async (): Promise<void> => {
    while (!stopping) {
      let claimed = 0;
      let moreDue = false;
      try {
        if (!resumed) {
          await resumeClosing();
          resumed = true;
        }
        moreDue = await sweepExpired();
        // Webhook events first: a close they carry enqueues the revocations this pass then claims.
        const domain = { ...deps, nudgeRevocation: () => (nudged = true) };
        moreDue = (await processInbox(domain)) === INBOX_BATCH || moreDue;
        await deps.sourceChecks?.reconcileIfDue(domain);
        claimed = await runOnce();
        moreDue = (await sweepRetained()) || moreDue;
        failures.succeeded();
      } catch (err) {
        failures.failed(err);
      }
      if (stopping) break;
      if (claimed === 0 && !moreDue) await waitForWork(Math.max(cfg.pollIntervalMs, limiter.waitMs()));
      // Another pass at once, but after the I/O that is waiting: a pass whose store and provider
      // answer without I/O (the memory store, a revocation the incident's kill already did) would
      // otherwise chain pass after pass in microtasks and hold every request until the queue is empty.
      else await new Promise<void>((resolve) => setImmediate(resolve));
    }
  };

  return {
    async start() {
      if (loop) return;
      stopping = false;
      // Tried once before the loop so a healthy start has re-enqueued everything when it resolves;
      // a store that refuses now (down, or its data lost) must not stop the broker from starting.
      resumed = await resumeClosing().then(
        () => true,
        (err: unknown) => {
          deps.logger.warn({ err: describeCause(err) }, 'could not resume closing incidents at start; retrying');
          return false;
        },
      );
      loop = run();
    },
    async stop() {
      stopping = true;
      wake?.();
      await loop;
      loop = null;
    },
    nudge() {
      nudged = true;
      wake?.();
    },
    runOnce,
  };
}
