/**
 * Issue flow (docs/architecture.md flow 1), as a table of small steps. The caller (HTTP or CLI) has already
 * authenticated the agent. Every outcome — issued or denied — is audited.
 */
import { describeCause, toBrokerError } from '../errors.js';
import type { DomainDeps } from '../domain.js';
import type { AgentIdentity } from '../identity/types.js';
import { authorize } from './steps/authorize.js';
import { claimSingleUse } from './steps/claim_single_use.js';
import { issueCredential, type IssuedGrant } from './steps/issue_credential.js';
import { loadIncident } from './steps/load_incident.js';
import { resolveTtl } from './steps/resolve_ttl.js';

export interface GrantRequest {
  readonly incidentId: string;
  readonly profile: string;
  readonly ttlSeconds?: number;
  readonly purpose: string;
}

export async function issueGrant(deps: DomainDeps, agent: AgentIdentity, request: GrantRequest): Promise<IssuedGrant> {
  try {
    const incident = await loadIncident(deps, request.incidentId);
    const profile = authorize(deps.catalog, agent, request.profile);
    await claimSingleUse(deps, agent, profile);
    const ttlSeconds = resolveTtl(profile, request.ttlSeconds);
    const issued = await issueCredential(deps, { agent, incident, profile, ttlSeconds, purpose: request.purpose });
    try {
      await deps.audit.record({
        at: issued.grant.createdAt,
        type: 'grant.issued',
        actor: agent.id,
        incidentId: incident.id,
        grantId: issued.grant.id,
        profile: profile.name,
        data: { ttlSeconds, provider: profile.provider.name, requestedTtlSeconds: request.ttlSeconds ?? 0, tokenFingerprint: agent.fingerprint },
      });
    } catch (auditErr) {
      // No credential leaves unaudited; the committed grant's credential is dropped here, so the
      // grant must die too, or it would stay active (and introspect active) for a token nobody holds.
      await revokeUndelivered(deps, issued.grant.id);
      throw auditErr;
    }
    deps.metrics.grantsIssued.inc({ profile: profile.name, provider: profile.provider.name });
    return issued;
  } catch (err) {
    const error = toBrokerError(err);
    deps.metrics.grantsDenied.inc({ code: error.code });
    await deps.audit.recordRefusal({
      at: deps.now(),
      type: error.status >= 500 ? 'grant.failed' : 'grant.denied',
      actor: agent.id,
      incidentId: request.incidentId,
      profile: request.profile,
      reason: error.code,
      data: { tokenFingerprint: agent.fingerprint },
    });
    throw error;
  }
}

/** Queues a committed grant whose credential was never handed out for revocation. */
async function revokeUndelivered(deps: DomainDeps, grantId: string): Promise<void> {
  try {
    await deps.store.requestRevocation(grantId, 'undelivered', deps.now());
    deps.nudgeRevocation();
  } catch (err) {
    // The store is down too: the credential reached nobody and dies at its provider-enforced expiry.
    deps.logger.error({ grantId, err: describeCause(err) }, 'grant committed but not delivered, and it could not be queued for revocation; it ends at its expiry');
  }
}
