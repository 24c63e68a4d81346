/**
 * What waits for a human (GET /v1/approvals?status=…): the open approvals of every incident, or
 * of one, in the state asked for, oldest first. An approval past its expiry is shown expired
 * (the sweep ends it for good).
 */
import type { DomainDeps } from '../domain.js';
import { approvalNotFound } from './decide_approval.js';
import { effectiveApprovalState, OPEN_APPROVALS, readApproval, type Approval, type ApprovalState } from './approval.js';

export async function listApprovals(
  deps: Pick<DomainDeps, 'store' | 'now'>,
  query: { readonly status: ApprovalState | 'open'; readonly incidentId?: string },
): Promise<Approval[]> {
  const sets = await deps.store.listIncidentRecords(OPEN_APPROVALS, query.incidentId);
  const ids = sets.flatMap((set) => set.values);
  const found = await Promise.all(ids.map((id) => readApproval(deps.store, id)));
  const now = deps.now();
  return found
    .filter((a): a is Approval => a !== null)
    .filter((a) => {
      const state = effectiveApprovalState(a, now);
      return query.status === 'open' ? state === 'pending' || state === 'approved' || state === 'issuing' : state === query.status;
    })
    .sort((a, b) => a.createdAt - b.createdAt || a.id.localeCompare(b.id));
}

/** One approval, for an operator (GET /v1/approvals/:id); 404 ERR_APPROVAL_NOT_FOUND when there is none. */
export async function getApproval(deps: Pick<DomainDeps, 'store'>, id: string): Promise<Approval> {
  const approval = await readApproval(deps.store, id);
  if (approval === null) throw approvalNotFound();
  return approval;
}
