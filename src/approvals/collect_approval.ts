/**
 * The agent collects its approval (GET /v1/approvals/:id, docs/approvals.md "Collecting"): while
 * it is pending, the agent is told so (and may wait, bounded, for a change); once it is approved,
 * the first poll to claim it — one compare-and-set, whichever replica — issues the credential
 * through the same steps as any grant (intent, provider, commit; the incident must still be
 * open, the agent not quarantined, and the policy must still allow it as approved) and hands it
 * out in that one response. Every other poll, at once or later, learns the grant id and never the
 * credential. A poll that claimed and then died holds the claim for `approvals.issueLeaseSeconds`;
 * after that the next poll claims again, and the grant the dead one may have created is revoked
 * as undelivered.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { isQuarantined, quarantineOf } from '../agents/quarantine.js';
import { BrokerError, policyDenied, profileNotFound, toBrokerError } from '../errors.js';
import type { DomainDeps } from '../domain.js';
import { auditIssued } from '../grants/issue_grant.js';
import type { GrantContext } from '../grants/grant_context.js';
import { authorizeForIncident, decideByAgentPatterns } from '../grants/steps/authorize.js';
import { authorizeByPolicy } from '../grants/steps/authorize_by_policy.js';
import { issueCredential, newGrantId, type IssuedGrant } from '../grants/steps/issue_credential.js';
import type { AgentIdentity } from '../identity/types.js';
import { provenanceOf, type RequestOrigin } from '../model.js';
import { approvalsOf, changeApproval, effectiveApprovalState, OPEN_APPROVALS, readApproval, type Approval } from './approval.js';
import { approvalNotFound } from './decide_approval.js';
import { cancelApproval, expireApproval } from './end_approval.js';

export type CollectOutcome =
  | { readonly status: 'issued'; readonly approval: Approval; readonly issued: IssuedGrant }
  | { readonly status: 'waiting' | 'final'; readonly approval: Approval };

/** States in which a poll learns only how things stand. */
const WAITING = new Set(['pending', 'issuing']);

export async function collectApproval(
  deps: DomainDeps,
  agent: AgentIdentity,
  id: string,
  options: { readonly waitMs: number; readonly origin?: RequestOrigin; readonly owner: string },
): Promise<CollectOutcome> {
  const deadline = deps.now() + options.waitMs;
  let delay = 100;
  for (;;) {
    const outcome = await collectOnce(deps, agent, id, options);
    if (outcome.status !== 'waiting' || deps.now() + delay > deadline) return outcome;
    await sleep(delay);
    delay = Math.min(delay * 2, 1000);
  }
}

async function collectOnce(
  deps: DomainDeps,
  agent: AgentIdentity,
  id: string,
  options: { readonly origin?: RequestOrigin; readonly owner: string },
): Promise<CollectOutcome> {
  const found = await readApproval(deps.store, id);
  // Another agent's approval answers as if there were none: ids cannot be probed.
  if (found === null || found.agent !== agent.id) throw approvalNotFound();
  const now = deps.now();
  if (effectiveApprovalState(found, now) === 'expired' && found.state !== 'expired') {
    return { status: 'final', approval: (await expireApproval(deps, id)) ?? found };
  }
  const claimable = found.state === 'approved' || (found.state === 'issuing' && (found.issue?.until ?? 0) <= now);
  if (!claimable) return { status: WAITING.has(found.state) ? 'waiting' : 'final', approval: found };

  const leaseMs = deps.config.approvals.issueLeaseSeconds * 1000;
  const claimed = await changeApproval<'taken'>(deps.store, id, (current) => {
    const open = current.state === 'approved' || (current.state === 'issuing' && (current.issue?.until ?? 0) <= now);
    return open ? { ...current, state: 'issuing', issue: { grantId: newGrantId(), owner: options.owner, until: now + leaseMs } } : 'taken';
  });
  if (claimed === null) throw approvalNotFound();
  if ('refused' in claimed) return { status: WAITING.has(claimed.approval.state) ? 'waiting' : 'final', approval: claimed.approval };
  const approval = claimed.approval;
  const claim = approval.issue as NonNullable<Approval['issue']>;
  // A claim that lapsed may have left a grant behind whose credential nobody got.
  const lapsed = claimed.before.issue?.grantId;
  if (lapsed !== undefined) await revokeLeftBehind(deps, lapsed);

  let handedOver = false;
  let issuedNow = false;
  try {
    const issued = await issueApproved(deps, agent, approval, claim.grantId, options.origin);
    issuedNow = true;
    const done = await changeApproval<'lost'>(deps.store, id, (current) =>
      current.state === 'issuing' && current.issue?.owner === options.owner && current.issue.grantId === claim.grantId
        ? { ...current, state: 'issued', grantId: claim.grantId, endedAt: deps.now() }
        : 'lost',
    );
    if (done === null || 'refused' in done) {
      // This poll held the claim too long and another took it over: this credential is never handed out.
      await revokeLeftBehind(deps, claim.grantId);
      return { status: 'waiting', approval: done?.approval ?? approval };
    }
    // Off the open list; a failure here only leaves it to the sweep, which drops final ones.
    await deps.store.removeIncidentRecords(OPEN_APPROVALS, approval.incidentId, [id]).catch(() => undefined);
    deps.metrics.approvals.inc({ outcome: 'issued' });
    deps.metrics.grantsIssued.inc({ profile: approval.profile, provider: approval.provider });
    handedOver = true;
    return { status: 'issued', approval: done.approval, issued };
  } catch (err) {
    const error = toBrokerError(err);
    // Issued, but the record could not say so (the store failed): this credential is never handed out.
    if (issuedNow && !handedOver) await revokeLeftBehind(deps, claim.grantId).catch(() => undefined);
    if (error.code === 'ERR_INCIDENT_CLOSED' || error.code === 'ERR_INCIDENT_NOT_FOUND') {
      await releaseClaim(deps, id, options.owner);
      await cancelApproval(deps, id, 'incident_closed');
    } else if (error.code === 'ERR_POLICY_DENIED' || error.code === 'ERR_PROFILE_NOT_FOUND' || error.code === 'ERR_AGENT_QUARANTINED') {
      // What the humans approved is no longer allowed: the approval ends, and the refusal is the answer.
      await releaseClaim(deps, id, options.owner);
      await cancelApproval(deps, id, error.code === 'ERR_AGENT_QUARANTINED' ? 'quarantined' : 'no_longer_allowed');
    } else {
      // A provider or store failure: the approval stays approved; the agent's next poll tries again.
      await releaseClaim(deps, id, options.owner);
    }
    throw error;
  }
}

/** Back to approved, if this poll still holds the claim (a failed issue leaves nothing handed out). */
async function releaseClaim(deps: Pick<DomainDeps, 'store'>, id: string, owner: string): Promise<void> {
  await changeApproval<'not_ours'>(deps.store, id, (current) => {
    if (current.state !== 'issuing' || current.issue?.owner !== owner) return 'not_ours';
    const released: Approval = { ...current, state: 'approved' };
    delete released.issue;
    return released;
  }).catch(() => undefined);
}

async function revokeLeftBehind(deps: DomainDeps, grantId: string): Promise<void> {
  const grant = await deps.store.getGrant(grantId);
  if (grant === null) return;
  await deps.store.requestRevocation(grantId, 'undelivered', deps.now());
  deps.nudgeRevocation();
}

/** The grant of an approved request: checked again as it stands now, then issued through the grant steps. */
async function issueApproved(
  deps: DomainDeps,
  agent: AgentIdentity,
  approval: Approval,
  grantId: string,
  origin: RequestOrigin | undefined,
): Promise<IssuedGrant> {
  const profile = deps.catalog.profile(approval.profile);
  if (!profile) throw profileNotFound();
  const request = {
    incidentId: approval.incidentId,
    profile: approval.profile,
    purpose: approval.purpose,
    ...(approval.requestedTtlSeconds === undefined ? {} : { ttlSeconds: approval.requestedTtlSeconds }),
  };
  const byProfile = decideByAgentPatterns(profile, agent.id);
  if (byProfile.effect === 'deny') throw policyDenied(byProfile);
  const incident = await deps.store.getIncident(approval.incidentId);
  if (incident === null) throw new BrokerError('ERR_INCIDENT_NOT_FOUND', 404, 'incident not found');
  const byIncident = authorizeForIncident({ agent, incident, decision: byProfile });
  const decision = deps.policy
    ? authorizeByPolicy(deps.policy, {
        agent,
        profile,
        incident,
        ttlSeconds: approval.ttlSeconds,
        purpose: approval.purpose,
        quarantined: isQuarantined(await quarantineOf(deps.store, agent.id)),
        now: deps.now(),
        decision: byIncident,
        approved: true,
      })
    : byIncident;
  const ctx: GrantContext = { agent, request, incident, profile, decision, ttlSeconds: approval.ttlSeconds };
  const issued = await issueCredential(deps, { ...ctx, grantId });
  const approvers = approvalsOf(approval).map((d) => d.subject);
  await auditIssued(deps, ctx, issued, provenanceOf({ id: agent.id, tokenFingerprint: agent.fingerprint }, origin), {
    accountable: approvers,
    approvalId: approval.id,
  });
  return issued;
}
