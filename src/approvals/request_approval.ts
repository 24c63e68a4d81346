/**
 * A grant request that needs approval becomes an approval record (approval.ts), answered 202
 * with its id (POST /v1/grants). The agent's request is audited as `approval.requested` — the
 * AI's side, with its purpose and what the policy said — and each human decision later as its own
 * `approval.decided` event, linked by the approval id. An agent asking again for the same profile
 * in the same incident while its request waits gets that request back.
 */
import type { DomainDeps } from '../domain.js';
import type { GrantContext } from '../grants/grant_context.js';
import {
  approvalKey,
  effectiveApprovalState,
  encodeApproval,
  newApprovalId,
  OPEN_APPROVALS,
  readApproval,
  type Approval,
} from './approval.js';
import type { ApprovalRule } from './rule.js';

/**
 * The agent's open request for the same profile in the same incident, if it has one: asking again
 * while one waits answers that one (no second record, no second notice to approvers).
 */
async function openRequestOf(deps: Pick<DomainDeps, 'store' | 'now'>, ctx: GrantContext): Promise<Approval | null> {
  const [set] = await deps.store.listIncidentRecords(OPEN_APPROVALS, ctx.incident.id);
  const now = deps.now();
  for (const id of set?.values ?? []) {
    const approval = await readApproval(deps.store, id);
    if (approval === null || approval.agent !== ctx.agent.id || approval.profile !== ctx.profile.name) continue;
    const state = effectiveApprovalState(approval, now);
    if (state === 'pending' || state === 'approved' || state === 'issuing') return approval;
  }
  return null;
}

export async function requestApproval(
  deps: Pick<DomainDeps, 'store' | 'audit' | 'now'>,
  ctx: GrantContext,
  rule: ApprovalRule,
  provenance: Readonly<Record<string, string>>,
): Promise<{ readonly approval: Approval; readonly created: boolean }> {
  const open = await openRequestOf(deps, ctx);
  if (open !== null) return { approval: open, created: false };
  const now = deps.now();
  const approval: Approval = {
    id: newApprovalId(),
    state: 'pending',
    incidentId: ctx.incident.id,
    agent: ctx.agent.id,
    ...(ctx.agent.sponsor === undefined ? {} : { sponsor: ctx.agent.sponsor }),
    profile: ctx.profile.name,
    provider: ctx.profile.provider.name,
    tier: ctx.profile.config.tier,
    scope: { ...ctx.profile.config.params },
    ttlSeconds: ctx.ttlSeconds,
    ...(ctx.request.ttlSeconds === undefined ? {} : { requestedTtlSeconds: ctx.request.ttlSeconds }),
    purpose: ctx.request.purpose,
    createdAt: now,
    expiresAt: now + rule.expiresSeconds * 1000,
    rule: { approvers: [...rule.approvers], quorum: rule.quorum, from: [...rule.from] },
    decidedBy: [...ctx.decision.decidedBy],
    requestedVia: { ...provenance },
    decisions: [],
  };
  // Written before it is listed: a listing never names a record that is not there.
  if (!(await deps.store.compareAndSetRegister(approvalKey(approval.id), null, encodeApproval(approval)))) {
    throw new Error('approval id collision');
  }
  await deps.store.addIncidentRecord(OPEN_APPROVALS, approval.incidentId, approval.id);
  await deps.audit.record({
    at: now,
    type: 'approval.requested',
    actor: ctx.agent.id,
    incidentId: approval.incidentId,
    profile: approval.profile,
    data: {
      approvalId: approval.id,
      purpose: approval.purpose,
      tier: approval.tier,
      ttlSeconds: approval.ttlSeconds,
      approvers: approval.rule.approvers,
      quorum: approval.rule.quorum,
      ruleFrom: approval.rule.from,
      decidedBy: approval.decidedBy,
      expiresAt: new Date(approval.expiresAt).toISOString(),
      ...(approval.sponsor === undefined ? {} : { sponsor: approval.sponsor }),
      ...provenance,
    },
  });
  return { approval, created: true };
}
