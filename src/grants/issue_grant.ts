/**
 * Issue flow (docs/architecture.md flow 1), as a table of small steps over one grant context
 * (grant_context.ts). The caller (HTTP or CLI) has already authenticated the agent. Every outcome
 * — issued or refused — is audited, with the ids of what decided it.
 */
import { describeCause, PolicyDenied, toBrokerError } from '../errors.js';
import type { DomainDeps } from '../domain.js';
import type { AgentIdentity } from '../identity/types.js';
import { provenanceOf, type RequestOrigin } from '../model.js';
import type { GrantContext, GrantRequest } from './grant_context.js';
import { isQuarantined, quarantineOf } from '../agents/quarantine.js';
import { authorize, authorizeForIncident } from './steps/authorize.js';
import { authorizeByPolicyOrApproval } from './steps/authorize_by_policy.js';
import type { Approval } from '../approvals/approval.js';
import { requestApproval } from '../approvals/request_approval.js';
import { approvalRuleFor } from '../approvals/rule.js';
import { agentQuarantined } from '../agents/quarantine.js';
import { isMajor, noteMajorGrant } from '../incidents/major_mode.js';
import { claimSingleUse } from './steps/claim_single_use.js';
import { issueCredential, type IssuedGrant } from './steps/issue_credential.js';
import { limitRate, RateLimited } from './steps/limit_rate.js';
import { loadIncident } from './steps/load_incident.js';
import { resolveTtl } from './steps/resolve_ttl.js';

export type { GrantRequest } from './grant_context.js';

/**
 * How a grant request ends, short of a refusal: the credential, handed out once; or a request
 * waiting for named humans' approval (202, approvals/), issued when the agent collects it approved.
 */
export type IssueOutcome =
  ({ readonly status: 'issued' } & IssuedGrant) | { readonly status: 'pending_approval'; readonly approval: Approval };

export async function issueGrant(
  deps: DomainDeps,
  agent: AgentIdentity,
  request: GrantRequest,
  origin?: RequestOrigin,
): Promise<IssueOutcome> {
  const provenance = provenanceOf({ id: agent.id, tokenFingerprint: agent.fingerprint }, origin);
  deps.detectors?.requested(agent.id);
  try {
    const asked = { agent, request };
    await limitRate(deps, asked);
    // Before anything about the incident is read: an agent no profile allows learns nothing.
    const { profile, decision: byProfile } = authorize(deps.catalog, asked);
    // The quarantine is read beside the incident when policy needs it (no extra round trip).
    const quarantine = deps.policy ? quarantineOf(deps.store, agent.id) : Promise.resolve(null);
    quarantine.catch(() => undefined);
    const incident = await loadIncident(deps, asked);
    const byIncident = authorizeForIncident({ agent, incident, decision: byProfile });
    const ttlSeconds = resolveTtl({ profile, request });
    const quarantined = deps.policy ? isQuarantined(await quarantine) : false;
    const { decision, approvalAskedBy } = deps.policy
      ? quarantineAnswers(quarantined, () =>
          authorizeByPolicyOrApproval(deps.policy!, {
            agent,
            profile,
            incident,
            ttlSeconds,
            purpose: request.purpose,
            quarantined,
            now: deps.now(),
            decision: byIncident,
          }),
        )
      : { decision: byIncident, approvalAskedBy: null };
    const rule = approvalRuleFor(deps.config, profile, approvalAskedBy, (id) => deps.policy?.annotations(id) ?? {});
    // An incident a tool owns must still be open there (webhooks/source_checks.ts); fails closed.
    await deps.sourceChecks?.beforeIssue(deps, incident);
    await claimSingleUse(deps, { agent, profile });
    const ctx: GrantContext = { ...asked, incident, profile, decision, ttlSeconds };
    if (rule !== null) {
      // Without policy the quarantine was not read yet: a quarantined agent asks no human for anything.
      if (isQuarantined(deps.policy ? await quarantine : await quarantineOf(deps.store, agent.id))) throw agentQuarantined();
      const { approval, created } = await requestApproval(deps, ctx, rule, provenance);
      if (created) {
        deps.metrics.approvals.inc({ outcome: 'requested' });
        deps.approvalNotifier?.requested(approval);
      }
      return { status: 'pending_approval', approval };
    }
    const issued = await issueCredential(deps, ctx);
    await auditIssued(deps, ctx, issued, provenance, { accountable: [incident.openedBy] });
    await noteTierGranted(deps, ctx);
    deps.metrics.grantsIssued.inc({ profile: profile.name, provider: profile.provider.name });
    return { status: 'issued', ...issued };
  } catch (err) {
    const error = toBrokerError(err);
    deps.metrics.grantsDenied.inc({ code: error.code });
    deps.detectors?.refused(agent.id, request, error);
    if (error instanceof RateLimited) throw error;
    // A policy's refusal, or a quarantined agent's that its policy refused too, names the policies.
    const refusedBy = error instanceof PolicyDenied ? error.decision.decidedBy : error.publicFields.decided_by;
    const decidedBy = Array.isArray(refusedBy) ? { decidedBy: refusedBy as readonly string[] } : {};
    const event = {
      at: deps.now(),
      type: error.status >= 500 ? 'grant.failed' : 'grant.denied',
      actor: agent.id,
      incidentId: request.incidentId,
      profile: request.profile,
      reason: error.code,
      data: { ...provenance, ...decidedBy },
    } as const;
    // A refusal repeats as fast as the agent asks: one event per kind and window, the rest counted.
    if (event.type === 'grant.denied')
      await deps.audit.recordRepeated(
        event,
        JSON.stringify([event.type, agent.id, request.incidentId, request.profile, error.code]),
        decidedBy,
      );
    else await deps.audit.recordRefusal(event);
    throw error;
  }
}

/**
 * A quarantined agent's refusal says so (ERR_AGENT_QUARANTINED) with the policies that refused it,
 * whatever its policy set calls it; one the policy would allow is refused all the same when its
 * intent is written (issue_credential.ts).
 */
function quarantineAnswers<T>(quarantined: boolean, decide: () => T): T {
  try {
    return decide();
  } catch (err) {
    if (quarantined && err instanceof PolicyDenied) throw agentQuarantined(err.decision.decidedBy);
    throw err;
  }
}

/**
 * No credential leaves unaudited. If the append fails, the committed grant's credential is
 * dropped here, so the grant must die too, or it would stay active (and introspect active) for a
 * token nobody holds.
 */
export async function auditIssued(
  deps: DomainDeps,
  ctx: GrantContext,
  issued: IssuedGrant,
  provenance: Record<string, string>,
  accountability: {
    /** The humans accountable for the grant: its approvers, or the operator who opened the incident the policy pre-authorised it for. */
    readonly accountable: readonly string[];
    readonly approvalId?: string;
  },
): Promise<void> {
  // Break-glass: a grant issued under major-incident mode is marked, to end with the mode and be reported.
  const underMajor = isMajor(ctx.incident, issued.grant.createdAt);
  try {
    if (underMajor) await noteMajorGrant(deps, ctx.incident.id, issued.grant.id);
    await deps.audit.record({
      at: issued.grant.createdAt,
      type: 'grant.issued',
      actor: ctx.agent.id,
      incidentId: ctx.incident.id,
      grantId: issued.grant.id,
      profile: ctx.profile.name,
      data: {
        ttlSeconds: ctx.ttlSeconds,
        provider: ctx.profile.provider.name,
        requestedTtlSeconds: ctx.request.ttlSeconds ?? 0,
        purpose: ctx.request.purpose,
        decidedBy: ctx.decision.decidedBy,
        accountable: accountability.accountable,
        ...(underMajor ? { underMajor: true } : {}),
        ...(accountability.approvalId === undefined ? {} : { approvalId: accountability.approvalId }),
        ...provenance,
      },
    });
  } catch (err) {
    await revokeUndelivered(deps, issued.grant.id);
    throw err;
  }
}

/**
 * The incident remembers the tiers it has had grants of (policy: evidence before remediation).
 * Written once per tier; a failure is logged, and only makes a later remediate-tier request wait.
 */
async function noteTierGranted(deps: DomainDeps, ctx: GrantContext): Promise<void> {
  const tier = ctx.profile.config.tier;
  if ((ctx.incident.tiersGranted ?? []).includes(tier)) return;
  await deps.store.updateIncident(ctx.incident.id, { tierGranted: tier }).catch((err: unknown) => {
    deps.logger.warn({ incidentId: ctx.incident.id, tier, err: describeCause(err) }, 'tier granted not recorded on the incident');
  });
}

/** Queues a committed grant whose credential was never handed out for revocation. */
async function revokeUndelivered(deps: DomainDeps, grantId: string): Promise<void> {
  try {
    await deps.store.requestRevocation(grantId, 'undelivered', deps.now());
    deps.nudgeRevocation();
  } catch (err) {
    // The store is down too: the credential reached nobody and dies at its provider-enforced expiry.
    deps.logger.error(
      { grantId, err: describeCause(err) },
      'grant committed but not delivered, and it could not be queued for revocation; it ends at its expiry',
    );
  }
}
