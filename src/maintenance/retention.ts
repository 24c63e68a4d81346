/**
 * Retention (docs/operations.md "Retention"): what the store keeps only as history is bounded.
 * Every broker running a revocation worker sweeps every `retention.sweepSeconds`: it closes the
 * counted audit windows that ended (so each window's summary lands soon after it, even if no
 * later event of its kind comes), and forgets grants that ended more than
 * `retention.endedGrantsSeconds` ago. Both store operations are atomic and idempotent, so replicas
 * sweeping at once only share the work. Each pass is bounded; a full batch means more is due, and
 * the worker comes back at once.
 */
import { sweepApprovals } from '../approvals/end_approval.js';
import { sweepMajorModes } from '../incidents/major_mode.js';
import type { DomainDeps } from '../domain.js';

/** Windows closed and grants forgotten per store call. */
export const RETENTION_BATCH = 500;

export interface RetentionPass {
  readonly windowsClosed: number;
  readonly grantsForgotten: number;
  /** A batch was full: more is due now. */
  readonly more: boolean;
}

export async function sweepRetention(
  deps: Pick<DomainDeps, 'config' | 'store' | 'metrics' | 'audit' | 'now' | 'nudgeRevocation'>,
  now: number,
): Promise<RetentionPass> {
  const windowsClosed = await deps.store.flushAuditCounts(now, RETENTION_BATCH);
  // Approvals past their time, or of incidents that closed (approvals/end_approval.ts).
  await sweepApprovals(deps);
  // Break-glass modes past their expiry end, on whichever replica sweeps first (incidents/major_mode.ts).
  await sweepMajorModes(deps);
  const grantsForgotten = await deps.store.purgeEndedGrants(now - deps.config.retention.endedGrantsSeconds * 1000, RETENTION_BATCH);
  if (grantsForgotten > 0) deps.metrics.grantsForgotten.inc(grantsForgotten);
  return { windowsClosed, grantsForgotten, more: windowsClosed === RETENTION_BATCH || grantsForgotten === RETENTION_BATCH };
}
