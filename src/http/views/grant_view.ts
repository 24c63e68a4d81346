/** How a grant looks to HTTP clients. Never the handle (accessors are sensitive, docs/security.md §4). */
import { effectiveState, type Grant, type GrantState } from '../../model.js';

export interface GrantView {
  readonly id: string;
  readonly incident_id: string;
  readonly profile: string;
  readonly provider: string;
  readonly agent: string;
  readonly purpose: string;
  readonly state: GrantState;
  readonly ttl_seconds: number;
  readonly created_at: string;
  readonly expires_at: string;
  readonly revoke_reason?: string;
  readonly revoke_requested_at?: string;
  readonly ended_at?: string;
  readonly revocation_confirmed?: boolean;
}

const iso = (ms: number): string => new Date(ms).toISOString();

export function toGrantView(grant: Grant, now: number): GrantView {
  return {
    id: grant.id,
    incident_id: grant.incidentId,
    profile: grant.profile,
    provider: grant.provider,
    agent: grant.agent,
    purpose: grant.purpose,
    state: effectiveState(grant, now),
    ttl_seconds: grant.ttlSeconds,
    created_at: iso(grant.createdAt),
    expires_at: iso(grant.expiresAt),
    ...(grant.revokeReason ? { revoke_reason: grant.revokeReason } : {}),
    ...(grant.revokeRequestedAt !== undefined ? { revoke_requested_at: iso(grant.revokeRequestedAt) } : {}),
    ...(grant.endedAt !== undefined ? { ended_at: iso(grant.endedAt) } : {}),
    ...(grant.revocationConfirmed !== undefined ? { revocation_confirmed: grant.revocationConfirmed } : {}),
  };
}
