/**
 * Issue flow (docs/architecture.md flow 1), as a table of small steps. The caller (HTTP or CLI) has already
 * authenticated the agent. Every outcome — issued or denied — is audited.
 */
import { toBrokerError } from '../errors.js';
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
    deps.metrics.grantsIssued.inc({ profile: profile.name, provider: profile.provider.name });
    await deps.audit.record({
      at: issued.grant.createdAt,
      type: 'grant.issued',
      actor: agent.id,
      incidentId: incident.id,
      grantId: issued.grant.id,
      profile: profile.name,
      data: { ttlSeconds, provider: profile.provider.name, requestedTtlSeconds: request.ttlSeconds ?? 0, tokenFingerprint: agent.fingerprint },
    });
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
