/**
 * How approvals end without a credential: expired (past `expiresAt`, pending or approved and not
 * collected) and cancelled (their incident closed). Each end is one compare-and-set, audited once
 * (a dedupe key per approval), and takes the approval off its incident's open list. The close
 * flow cancels an incident's approvals at once; the worker's sweep (`sweepApprovals`) catches
 * what a crash or a lapse left, and every read settles an approval that is past its time.
 */
import type { DomainDeps } from '../domain.js';
import { changeApproval, effectiveApprovalState, FINAL_APPROVAL_STATES, OPEN_APPROVALS, readApproval, type Approval } from './approval.js';

type Deps = Pick<DomainDeps, 'store' | 'audit' | 'metrics' | 'now'>;

async function end(deps: Deps, id: string, state: 'expired' | 'cancelled', reason: string): Promise<Approval | null> {
  const now = deps.now();
  const changed = await changeApproval<'not_open'>(deps.store, id, (current) =>
    current.state === 'pending' || current.state === 'approved' ? { ...current, state, endedAt: now, endReason: reason } : 'not_open',
  );
  if (changed === null) return null;
  if ('refused' in changed) {
    if (FINAL_APPROVAL_STATES.has(changed.approval.state)) {
      await deps.store.removeIncidentRecords(OPEN_APPROVALS, changed.approval.incidentId, [id]);
    }
    return changed.approval;
  }
  const approval = changed.approval;
  await deps.audit.record(
    {
      at: now,
      type: state === 'expired' ? 'approval.expired' : 'approval.cancelled',
      actor: 'quartermaster',
      incidentId: approval.incidentId,
      profile: approval.profile,
      reason,
      data: { approvalId: approval.id, agent: approval.agent, wasState: changed.before.state, approvals: approval.decisions.length },
    },
    { dedupeKey: `approval.ended:${approval.id}` },
  );
  deps.metrics.approvals.inc({ outcome: state });
  await deps.store.removeIncidentRecords(OPEN_APPROVALS, approval.incidentId, [id]);
  return approval;
}

export const expireApproval = (deps: Deps, id: string): Promise<Approval | null> => end(deps, id, 'expired', 'expired');

export const cancelApproval = (deps: Deps, id: string, reason: string): Promise<Approval | null> => end(deps, id, 'cancelled', reason);

/** Cancels every open approval of a closed incident; returns how many it ended. */
export async function cancelIncidentApprovals(deps: Deps, incidentId: string): Promise<number> {
  const [set] = await deps.store.listIncidentRecords(OPEN_APPROVALS, incidentId);
  let ended = 0;
  for (const id of set?.values ?? []) {
    const after = await cancelApproval(deps, id, 'incident_closed');
    if (after?.state === 'cancelled') ended += 1;
  }
  return ended;
}

/**
 * One pass over the open approvals: expires those past their time, cancels those of closed
 * incidents, and drops final ones from the list. Idempotent: replicas sweeping at once only share the work.
 */
export async function sweepApprovals(deps: Deps): Promise<number> {
  const now = deps.now();
  let settled = 0;
  for (const set of await deps.store.listIncidentRecords(OPEN_APPROVALS)) {
    const incident = await deps.store.getIncident(set.incidentId);
    for (const id of set.values) {
      const approval = await readApproval(deps.store, id);
      if (approval === null) {
        await deps.store.removeIncidentRecords(OPEN_APPROVALS, set.incidentId, [id]);
        continue;
      }
      if (incident === null || incident.status !== 'open') {
        if ((await cancelApproval(deps, id, 'incident_closed'))?.state === 'cancelled') settled += 1;
      } else if (effectiveApprovalState(approval, now) === 'expired') {
        if ((await expireApproval(deps, id))?.state === 'expired') settled += 1;
      } else if (FINAL_APPROVAL_STATES.has(approval.state)) {
        await deps.store.removeIncidentRecords(OPEN_APPROVALS, set.incidentId, [id]);
      }
    }
  }
  return settled;
}
