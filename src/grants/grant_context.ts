/**
 * What the issue flow knows about one request, step by step (issue_grant.ts): the authenticated
 * agent and what it asked, then the incident, the profile and the decision that allowed it, then
 * the TTL. Every step takes the context it needs and nothing else, so a later step (approval,
 * policy with incident attributes) plugs in without widening the others' argument lists.
 */
import type { ProfileEntry } from '../catalog/catalog.js';
import type { AgentIdentity } from '../identity/types.js';
import type { Decision, Incident } from '../model.js';

export interface GrantRequest {
  readonly incidentId: string;
  readonly profile: string;
  readonly ttlSeconds?: number;
  readonly purpose: string;
}

export interface GrantContext {
  readonly agent: AgentIdentity;
  readonly request: GrantRequest;
  readonly incident: Incident;
  readonly profile: ProfileEntry;
  /** Why this grant is allowed; recorded in its audit event. */
  readonly decision: Decision;
  /** Clamped by resolveTtl. */
  readonly ttlSeconds: number;
}
