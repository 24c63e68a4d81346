/**
 * A human's decision on an approval (POST /v1/approvals/:id/decision, docs/approvals.md
 * "Separation of duties"). The approver must hold a role the approval's rule names (beside the
 * approvals.decide permission the route checks), and may not be the agent's sponsor nor the
 * requester; each approver counts once; a request that expired, or whose incident closed, takes
 * no decision. One deny ends the request; `quorum` distinct approvals approve it. The check and
 * the write are one compare-and-set, so two replicas recording decisions at once neither lose
 * one nor count one approver twice.
 */
import { BrokerError, incidentClosed } from '../errors.js';
import type { DomainDeps } from '../domain.js';
import type { OperatorIdentity } from '../identity/types.js';
import {
  approvalsOf,
  changeApproval,
  effectiveApprovalState,
  OPEN_APPROVALS,
  readApproval,
  type Approval,
  type ApprovalDecision,
} from './approval.js';
import { cancelApproval, expireApproval } from './end_approval.js';

export const approvalNotFound = (): BrokerError => new BrokerError('ERR_APPROVAL_NOT_FOUND', 404, 'approval not found');

export const approvalClosed = (state: string): BrokerError =>
  new BrokerError('ERR_APPROVAL_CLOSED', 409, `the approval is ${state}; it takes no decision`, { publicFields: { state } });

export interface DecisionInput {
  readonly decision: 'approve' | 'deny';
  readonly reason: string;
}

/** The approver's name in decisions: the operator issuer and subject. */
export const approverId = (operator: Pick<OperatorIdentity, 'issuer' | 'subject'>): string => `${operator.issuer}#${operator.subject}`;

type Refusal = 'closed' | 'expired' | 'not_named' | 'self' | 'duplicate';

export async function decideApproval(
  deps: Pick<DomainDeps, 'store' | 'audit' | 'metrics' | 'now'>,
  operator: OperatorIdentity,
  id: string,
  input: DecisionInput,
  provenance: Readonly<Record<string, string>>,
): Promise<Approval> {
  const found = await readApproval(deps.store, id);
  if (found === null) throw approvalNotFound();
  const incident = await deps.store.getIncident(found.incidentId);
  if (incident === null || incident.status !== 'open') {
    await cancelApproval(deps, found.id, 'incident_closed');
    throw incidentClosed();
  }
  const by = approverId(operator);
  const now = deps.now();
  const changed = await changeApproval<Refusal>(deps.store, id, (current) => {
    if (effectiveApprovalState(current, now) === 'expired') return 'expired';
    if (current.state !== 'pending') return 'closed';
    const roles = operator.roles.filter((r) => current.rule.approvers.includes(r));
    if (roles.length === 0) return 'not_named';
    // The sponsor is a subject of the operator issuer; an OIDC agent is `issuer#subject` itself.
    if (operator.subject === current.sponsor || by === current.agent) return 'self';
    if (current.decisions.some((d) => d.by === by)) return 'duplicate';
    const decision: ApprovalDecision = { by, subject: operator.subject, decision: input.decision, reason: input.reason, at: now, roles };
    const decisions = [...current.decisions, decision];
    if (input.decision === 'deny') return { ...current, decisions, state: 'denied', endedAt: now };
    const approved = approvalsOf({ decisions }).length >= current.rule.quorum;
    return { ...current, decisions, ...(approved ? { state: 'approved' as const } : {}) };
  });
  if (changed === null) throw approvalNotFound();
  if ('refused' in changed) {
    if (changed.refused === 'expired') {
      await expireApproval(deps, changed.approval.id);
      throw approvalClosed('expired');
    }
    throw refusalError(changed.refused, changed.approval);
  }
  const approval = changed.approval;
  const count = approvalsOf(approval).length;
  await deps.audit.record({
    at: now,
    type: 'approval.decided',
    actor: operator.subject,
    incidentId: approval.incidentId,
    profile: approval.profile,
    reason: input.decision,
    data: {
      approvalId: approval.id,
      decision: input.decision,
      reason: input.reason,
      approverIssuer: operator.issuer,
      roles: approval.decisions.at(-1)?.roles ?? [],
      approvals: count,
      quorum: approval.rule.quorum,
      agent: approval.agent,
      ...provenance,
    },
  });
  if (approval.state === 'approved' || approval.state === 'denied') {
    await deps.audit.record(
      {
        at: now,
        type: approval.state === 'approved' ? 'approval.approved' : 'approval.denied',
        actor: operator.subject,
        incidentId: approval.incidentId,
        profile: approval.profile,
        data: {
          approvalId: approval.id,
          agent: approval.agent,
          approvers: approval.decisions.filter((d) => d.decision === input.decision).map((d) => d.subject),
        },
      },
      { dedupeKey: `approval.${approval.state}:${approval.id}` },
    );
    deps.metrics.approvals.inc({ outcome: approval.state });
  }
  if (approval.state === 'denied') await deps.store.removeIncidentRecords(OPEN_APPROVALS, approval.incidentId, [approval.id]);
  return approval;
}

function refusalError(refusal: Exclude<Refusal, 'expired'>, approval: Approval): BrokerError {
  switch (refusal) {
    case 'closed':
      return approvalClosed(approval.state);
    case 'not_named':
      return new BrokerError('ERR_APPROVER_NOT_NAMED', 403, 'this approval needs an approver of another role', {
        publicFields: { approvers: approval.rule.approvers },
      });
    case 'self':
      return new BrokerError('ERR_APPROVAL_SELF', 403, "an agent's sponsor or requester may not approve its request");
    case 'duplicate':
      return new BrokerError('ERR_APPROVAL_DUPLICATE', 409, 'this approver already decided; a second decision does not count');
  }
}
