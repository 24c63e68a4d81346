/** An approval as the API shows it (docs/approvals.md): to operators in full, to its agent without the approvers' names and reasons. */
import { approvalsOf, effectiveApprovalState, type Approval } from '../../approvals/approval.js';

const iso = (ms: number): string => new Date(ms).toISOString();

export function toApprovalView(a: Approval, now: number, audience: 'operator' | 'agent') {
  return {
    id: a.id,
    state: effectiveApprovalState(a, now),
    incident_id: a.incidentId,
    agent: a.agent,
    profile: a.profile,
    provider: a.provider,
    tier: a.tier,
    scope: a.scope,
    ttl_seconds: a.ttlSeconds,
    purpose: a.purpose,
    created_at: iso(a.createdAt),
    expires_at: iso(a.expiresAt),
    quorum: a.rule.quorum,
    approvals: approvalsOf(a).length,
    ...(a.grantId === undefined ? {} : { grant_id: a.grantId }),
    ...(a.endReason === undefined ? {} : { end_reason: a.endReason }),
    ...(audience === 'agent'
      ? {}
      : {
          approvers: a.rule.approvers,
          rule_from: a.rule.from,
          decided_by: a.decidedBy,
          ...(a.sponsor === undefined ? {} : { sponsor: a.sponsor }),
          decisions: a.decisions.map((d) => ({ by: d.subject, decision: d.decision, reason: d.reason, at: iso(d.at), roles: d.roles })),
        }),
  };
}
