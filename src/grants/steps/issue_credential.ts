/**
 * Step: record intent, call the provider, commit, and only then hand the credential out
 * (guarantee 2; Vault's WAL-before-side-effect pattern, CONTRIBUTING.md #5).
 *  - The intent is written atomically with the incident-open check (guarantee 3) and the
 *    live-grant quotas of the incident and the agent (limits.activeGrants).
 *  - If the incident closed while the provider was working, commit keeps the grant revoking and
 *    the credential is withheld; the worker revokes it with the stored handle.
 *  - A quarantined agent's intent fails before the provider is called (agents/quarantine.ts).
 *  - If the provider fails, the intent becomes `failed` (nothing was handed out).
 */
import { randomBytes } from 'node:crypto';
import { BrokerError, grantQuotaExceeded, incidentClosed, incidentNotFound, storeUnavailable, toBrokerError } from '../../errors.js';
import { agentQuarantined, isQuarantined, parseQuarantine, quarantineKey } from '../../agents/quarantine.js';
import type { DomainDeps } from '../../domain.js';
import type { Grant } from '../../model.js';
import type { IssuedCredential } from '../../sdk.js';
import type { GrantContext } from '../grant_context.js';

export type IssueCredentialInput = Pick<GrantContext, 'agent' | 'incident' | 'profile' | 'ttlSeconds' | 'request'> & {
  /** The grant's id, when the caller chose it first (an approval's claim records it before the issue). */
  readonly grantId?: string;
};

export interface IssuedGrant {
  readonly grant: Grant;
  readonly credential: IssuedCredential['credential'];
}

export const newGrantId = (): string => `grt_${randomBytes(16).toString('base64url')}`;

export async function issueCredential(deps: DomainDeps, input: IssueCredentialInput): Promise<IssuedGrant> {
  const now = deps.now();
  const intent: Grant = {
    id: input.grantId ?? newGrantId(),
    incidentId: input.incident.id,
    profile: input.profile.name,
    provider: input.profile.provider.name,
    agent: input.agent.id,
    purpose: input.request.purpose,
    state: 'issuing',
    createdAt: now,
    ttlSeconds: input.ttlSeconds,
    expiresAt: now + input.ttlSeconds * 1000,
  };
  const quota = deps.config.limits.activeGrants;
  // The agent's quarantine is read after the intent is written (in its round trip where the store
  // can order them), before anything exists upstream: a quarantine written before the read is
  // seen here; one written after it lists this intent and revokes it (agents/quarantine.ts).
  const written = await deps.store.createGrantIntentAndRead(
    intent,
    { perIncident: quota.perIncident, perAgent: quota.perAgent, now },
    quarantineKey(input.agent.id),
  );
  if (written.result === 'incident_missing') throw incidentNotFound();
  if (written.result === 'incident_closed') throw incidentClosed();
  if (written.result === 'quota_incident') throw grantQuotaExceeded('incident', quota.perIncident);
  if (written.result === 'quota_agent') throw grantQuotaExceeded('agent', quota.perAgent);
  if ('readError' in written) {
    await deps.store.failGrant(intent.id, deps.now(), 'ERR_STORE_UNAVAILABLE').catch(() => undefined);
    throw storeUnavailable(written.readError);
  }
  if (isQuarantined(parseQuarantine(written.register))) {
    await deps.store.failGrant(intent.id, deps.now(), 'ERR_AGENT_QUARANTINED');
    throw agentQuarantined();
  }

  let issued: IssuedCredential & { readonly subjects: readonly string[] };
  try {
    issued = await deps.catalog.issue(input.profile, {
      grantId: intent.id,
      incidentId: intent.incidentId,
      agent: { id: input.agent.id, issuer: input.agent.issuer },
      ttlSeconds: input.ttlSeconds,
      purpose: input.request.purpose,
    });
  } catch (err) {
    const error = toBrokerError(err);
    await deps.store.failGrant(intent.id, deps.now(), error.code).catch((storeErr: unknown) => {
      // The intent stays `issuing`; the worker treats it as never issued after issueTimeoutSeconds.
      deps.logger.error({ grantId: intent.id, err: (storeErr as Error).name }, 'could not mark failed grant');
    });
    throw error;
  }

  const committed = await deps.store.commitGrant(intent.id, {
    handle: issued.handle,
    expiresAt: issued.expiresAt,
    ...(issued.subjects.length > 0 ? { subjects: issued.subjects } : {}),
  });
  if (!committed) throw incidentNotFound();
  if (committed.state !== 'active') {
    // Revoked while the provider worked: the incident closed (its tombstone is final for its
    // credentials) or the grant itself was released. Either way the credential is withheld.
    deps.nudgeRevocation();
    throw committed.revokeReason === 'incident_closed'
      ? incidentClosed()
      : committed.revokeReason === 'quarantined'
        ? agentQuarantined()
        : grantRevokedWhileIssuing();
  }
  return { grant: committed, credential: issued.credential };
}

const grantRevokedWhileIssuing = (): BrokerError =>
  new BrokerError('ERR_GRANT_NOT_ACTIVE', 409, 'the grant was revoked while it was being issued; its credential is withheld');
