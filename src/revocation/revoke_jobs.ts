/**
 * Revokes one claimed batch of jobs (docs/architecture.md flow 4). At-least-once and idempotent: a job may be
 * delivered again after a crash, so every step tolerates a grant that is already terminal, and
 * revoking an expired or dead credential counts as success (guarantee 4).
 *
 * How each grant goes to its provider is decided from the provider's capabilities
 * (revocation_route.ts): grants of one incident closed together in one `revokeIncident` call
 * where the provider revokes whole incidents (Vault: one parent-token revoke), others one by one,
 * and a grant its provider cannot revoke alone waits for its expiry.
 */
import { describeCause, toBrokerError } from '../errors.js';
import type { DomainDeps } from '../domain.js';
import { isTerminal, type Grant } from '../model.js';
import type { BackgroundLanes, Provider, RevocationReceipt } from '../sdk.js';
import type { RevocationJob } from '../store/store.js';
import { backoffDelayMs } from './backoff.js';
import type { OverdueNotice } from './overdue_notice.js';
import { revocationRoute } from './revocation_route.js';

type JobDeps = Pick<DomainDeps, 'config' | 'store' | 'catalog' | 'audit' | 'metrics' | 'logger' | 'now' | 'revocationEvents'> & {
  /** The optional notice of an overdue revocation (overdue_notice.ts). */
  readonly overdueNotice?: OverdueNotice | null;
  /**
   * Where the recording of a revocation its provider has answered runs (background_lanes.ts):
   * narrowed while the broker serves requests. Absent: it runs at once.
   */
  readonly lanes?: BackgroundLanes;
};

export interface BatchHooks {
  /**
   * Called just before a job is finished or rescheduled, so the worker stops renewing its lease
   * (lease_renewal.ts). Not called for a job whose triage failed: it stays leased until the batch
   * ends, then is delivered again when the lease runs out.
   */
  readonly release?: (grantId: string) => void;
}

/**
 * What every step of one batch uses: the deps, the hook (always present here), the lanes where a
 * provider's answer is recorded, and `defer`: a record the batch waits for at its end, so a unit's
 * slot is free for the next provider call as soon as its own call returned.
 */
type BatchDeps = JobDeps & {
  readonly release: (grantId: string) => void;
  readonly lanes: BackgroundLanes;
  defer(recording: Promise<void>): void;
};

const runAtOnce: BackgroundLanes = { run: (work) => work() };

interface Ready {
  job: RevocationJob;
  grant: Grant & { handle: NonNullable<Grant['handle']> };
  provider: Provider;
}

export async function revokeJobs(
  jobDeps: JobDeps,
  jobs: readonly RevocationJob[],
  concurrency: number,
  hooks: BatchHooks = {},
): Promise<void> {
  const recorded: Array<Promise<void>> = [];
  const deps: BatchDeps = {
    ...jobDeps,
    release: hooks.release ?? (() => undefined),
    lanes: jobDeps.lanes ?? runAtOnce,
    defer(recording) {
      // Awaited at the end of the batch; marked handled now, so a failure in between is not an unhandled rejection.
      recording.catch(() => undefined);
      recorded.push(recording);
    },
  };
  const ready: Ready[] = [];
  await runLimited(jobs, concurrency, async (job) => {
    const r = await triage(deps, job).catch((err: unknown) => {
      deps.logger.error({ grantId: job.grantId, err: describeCause(err) }, 'revocation triage failed; job stays leased and is retried');
      return null;
    });
    if (r) ready.push(r);
  });

  // One call per (provider, incident) where the provider revokes whole incidents.
  const groups = new Map<string, Ready[]>();
  const singles: Ready[] = [];
  const deferred: Ready[] = [];
  for (const r of ready) {
    const route = revocationRoute(r.provider, r.grant.revokeReason);
    if (route === 'incident') {
      const key = `${r.provider.name}\u0000${r.grant.incidentId}`;
      groups.set(key, [...(groups.get(key) ?? []), r]);
    } else if (route === 'grant') {
      singles.push(r);
    } else {
      deferred.push(r);
    }
  }
  const units: Array<() => Promise<void>> = [
    ...[...groups.values()].map((group) => () => revokeGroup(deps, group)),
    ...singles.map((r) => () => revokeGroup(deps, [r])),
    ...deferred.map((r) => () => deferToExpiry(deps, r)),
  ];
  await runLimited(units, concurrency, (unit) => unit());
  await Promise.all(recorded);
}

/** Settles what needs no provider call; returns the jobs that do. */
async function triage(deps: BatchDeps, job: RevocationJob): Promise<Ready | null> {
  const now = deps.now();
  const grant = await deps.store.getGrant(job.grantId);
  if (!grant || isTerminal(grant)) {
    deps.release(job.grantId);
    await deps.store.finishRevocation(job.grantId, { state: 'revoked', at: now, confirmed: false });
    return null;
  }
  if (!grant.handle) {
    // Intent without a committed handle: the credential was never handed out. Once the issue
    // call cannot still be running, nothing exists to revoke (and the provider's hard expiry
    // bounds anything an interrupted call created, guarantee 1).
    if (now - grant.createdAt > deps.config.revocation.issueTimeoutSeconds * 1000) {
      await finish(deps, grant, 'revoked', false, job.attempt, 'never handed out');
    } else {
      deps.release(grant.id);
      await deps.store.retryRevocation(grant.id, now + deps.config.revocation.backoffInitialMs, 'awaiting commit');
    }
    return null;
  }
  if (grant.expiresAt <= now) {
    await finish(deps, grant, 'expired', true, job.attempt);
    return null;
  }
  const provider = deps.catalog.provider(grant.provider);
  if (!provider) {
    await retry(deps, grant, job.attempt, 'ERR_PROVIDER_NOT_CONFIGURED');
    return null;
  }
  return { job, grant: grant as Ready['grant'], provider };
}

async function revokeGroup(deps: BatchDeps, group: readonly Ready[]): Promise<void> {
  const first = group[0];
  if (!first) return;
  const { provider } = first;
  const refs = group.map(({ grant }) => ({
    grantId: grant.id,
    incidentId: grant.incidentId,
    handle: grant.handle,
    expiresAt: grant.expiresAt,
  }));
  let receipts: readonly RevocationReceipt[];
  try {
    const wholeIncident = revocationRoute(provider, first.grant.revokeReason) === 'incident';
    receipts = wholeIncident
      ? await deps.catalog.revokeIncident(provider, { incidentId: first.grant.incidentId, grants: refs })
      : [await deps.catalog.revokeGrant(provider, refs[0] as (typeof refs)[number])];
  } catch (err) {
    const error = toBrokerError(err);
    deps.logger.warn(
      { provider: provider.name, incidentId: first.grant.incidentId, grants: group.length, code: error.code, detail: error.detail },
      'revocation failed; will retry',
    );
    // A full upstream quota will not clear by itself: escalate now, not at the deadline.
    const blocked = error.code === 'ERR_PROVIDER_QUOTA' ? (error.detail ?? error.message) : undefined;
    await Promise.all(group.map(({ grant, job }) => retry(deps, grant, job.attempt, error.code, blocked)));
    return;
  }
  const byId = new Map(receipts.map((r) => [r.grantId, r]));
  const closed = first.grant.revokeReason === 'incident_closed';
  const retried: Array<Promise<void>> = [];
  const ended: Ready[] = [];
  for (const r of group) {
    // A provider that skips a grant has not revoked it: retry that one.
    if (byId.has(r.grant.id)) ended.push(r);
    else retried.push(retry(deps, r.grant, r.job.attempt, 'ERR_PROVIDER_NO_RECEIPT'));
  }
  // The credentials the receipts name are dead (or denied) now; what is left records it, in the
  // background lanes: during a close of 10 000 grants, 64 finishes at once (each an audit append
  // and a store write) queued every step of the grant requests in flight behind them
  // (docs/performance.md, S5). The lanes bound the wait, and this unit's slot is free meanwhile.
  const finishes = ended.map(({ grant, job }) => {
    const receipt = byId.get(grant.id) as RevocationReceipt;
    return deps.lanes.run(() => finish(deps, grant, 'revoked', receipt.confirmed, job.attempt, receipt.outcome));
  });
  deps.defer(
    Promise.all(finishes).then(async () => {
      if (closed) await observeAllRevoked(deps, first.grant);
    }),
  );
  await Promise.all(retried);
}

/**
 * Once the last live grant of a closed incident has ended: close → all revoked into the
 * histogram, once per incident whichever replica finished last (a store claim).
 */
async function observeAllRevoked(deps: BatchDeps, grant: Grant): Promise<void> {
  const now = deps.now();
  try {
    if ((await deps.store.countLiveGrants(grant.incidentId, now)) > 0) return;
    if (!(await deps.store.claimOnce(`incident.all_revoked:${grant.incidentId}`, now + 7 * 86_400_000, now))) return;
    deps.metrics.incidentCloseToAllRevokedSeconds.observe(Math.max(0, now - (grant.revokeRequestedAt ?? now)) / 1000);
  } catch (err) {
    deps.logger.debug({ incidentId: grant.incidentId, err: describeCause(err) }, 'close-to-all-revoked not observed');
  }
}

/**
 * A grant its provider cannot end on its own (revocation_route.ts `until_expiry`): it stays
 * revoking, its job comes back at the credential's expiry (then it ends as expired), and the
 * decision is audited once, so no report or reader takes it for revoked.
 */
async function deferToExpiry(deps: BatchDeps, { grant }: Ready): Promise<void> {
  deps.release(grant.id);
  await deps.audit.record(
    {
      at: deps.now(),
      type: 'revocation.deferred',
      actor: 'quartermaster',
      incidentId: grant.incidentId,
      grantId: grant.id,
      profile: grant.profile,
      ...(grant.revokeReason ? { reason: grant.revokeReason } : {}),
      data: {
        provider: grant.provider,
        until: grant.expiresAt,
        why: 'the provider cannot revoke a single credential; it ends at its expiry',
      },
    },
    { dedupeKey: `revocation.deferred:${grant.id}` },
  );
  await deps.store.retryRevocation(grant.id, grant.expiresAt, 'ERR_PROVIDER_CANNOT_REVOKE');
}

async function finish(
  deps: BatchDeps,
  grant: Grant,
  state: 'revoked' | 'expired',
  confirmed: boolean,
  attempt: number,
  note?: string,
): Promise<void> {
  const at = deps.now();
  deps.release(grant.id);
  // Audit first, deduplicated, then end the grant: a crash in between redelivers the job, which
  // appends nothing new and ends the grant. The other order could lose the event (guarantee I5).
  await deps.audit.record(
    {
      at,
      type: state === 'expired' ? 'grant.expired' : 'grant.revoked',
      actor: 'quartermaster',
      incidentId: grant.incidentId,
      grantId: grant.id,
      profile: grant.profile,
      ...(grant.revokeReason ? { reason: grant.revokeReason } : {}),
      data: { provider: grant.provider, confirmed, attempt, ...(note ? { note } : {}) },
    },
    { dedupeKey: `grant.ended:${grant.id}` },
  );
  // Relying parties hear of it (events/revocation_events.ts): queued before the grant ends, so a
  // crash in between queues it again on redelivery (deduplicated), never loses it.
  if (state === 'revoked') await deps.revocationEvents?.revoked(grant, at);
  const done = await deps.store.finishRevocation(grant.id, { state, at, confirmed });
  if (done) {
    deps.metrics.revocations.inc({ provider: grant.provider, outcome: state });
    if (grant.revokeRequestedAt !== undefined) {
      deps.metrics.closeToRevokedSeconds.observe({ provider: grant.provider }, Math.max(0, at - grant.revokeRequestedAt) / 1000);
    }
  }
}

/**
 * Reschedules with backoff; past the deadline, or at once when `blocked` says why retrying cannot
 * help (a full provider quota), escalates: metric, error log, `revocation.overdue` (a blocked
 * grant's once, with what blocks it).
 */
async function retry(deps: BatchDeps, grant: Grant, attempt: number, code: string, blocked?: string): Promise<void> {
  const { backoffInitialMs, backoffMaxMs, deadlineSeconds } = deps.config.revocation;
  const now = deps.now();
  deps.release(grant.id);
  await deps.store.retryRevocation(grant.id, now + backoffDelayMs(attempt, backoffInitialMs, backoffMaxMs), code);
  deps.metrics.revocationRetries.inc({ provider: grant.provider, code });
  const requestedAt = grant.revokeRequestedAt ?? grant.createdAt;
  const overdue = now - requestedAt > deadlineSeconds * 1000;
  if (!overdue && blocked === undefined) return;
  // Escalate, never force: docs/security.md §3 — revoke-force would abandon the upstream secret.
  deps.metrics.revocationOverdue.inc({ provider: grant.provider });
  deps.logger.error(
    { grantId: grant.id, incidentId: grant.incidentId, provider: grant.provider, code, attempt, ...(blocked ? { detail: blocked } : {}) },
    overdue ? 'revocation overdue' : 'revocation blocked',
  );
  await deps.audit.record(
    {
      at: now,
      type: 'revocation.overdue',
      actor: 'quartermaster',
      incidentId: grant.incidentId,
      grantId: grant.id,
      reason: code,
      data: { attempt, ...(blocked ? { blocked } : {}) },
    },
    // Past the deadline every retry escalates again; a blocked one before it is audited once.
    overdue ? {} : { dedupeKey: `revocation.blocked:${grant.id}` },
  );
  // Once per grant, across replicas: the optional notice to the on-call tooling.
  await deps.overdueNotice?.send(grant, { code, attempt, ...(blocked ? { blocked } : {}) });
}

/** Runs `fn` over `items` with at most `limit` in flight. */
export async function runLimited<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const lanes = Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, async () => {
    while (next < items.length) {
      const item = items[next++] as T;
      await fn(item);
    }
  });
  await Promise.all(lanes);
}
