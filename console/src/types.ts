/** The shapes of the API answers the console reads (components of /openapi.json), as far as it reads them. */

export type GrantState = 'pending_approval' | 'issuing' | 'active' | 'revoking' | 'revoked' | 'expired' | 'failed';

export interface Session {
  readonly subject: string;
  readonly issuer: string;
  readonly roles: readonly string[];
  readonly permissions: readonly string[];
  readonly expires_at: string;
}

export type SignInMethod =
  | { readonly kind: 'development'; readonly roles: readonly string[] }
  | {
      readonly kind: 'oidc';
      readonly issuer: string;
      readonly client_id: string;
      readonly scopes: readonly string[];
      readonly token: 'access_token' | 'id_token';
      readonly authorization_params: Readonly<Record<string, string>>;
    };

export interface Incident {
  readonly id: string;
  readonly source: string;
  readonly title: string;
  readonly severity: string;
  readonly status: 'open' | 'closed';
  readonly opened_at: string;
  readonly opened_by: string;
  readonly closed_at?: string;
  readonly closed_by?: string;
  readonly agents?: readonly string[];
  readonly major?: { readonly started_at: string; readonly ends_at: string; readonly by: string; readonly reason: string };
}

export interface Grant {
  readonly id: string;
  readonly incident_id: string;
  readonly agent: string;
  readonly profile: string;
  readonly provider: string;
  readonly state: GrantState;
  readonly issued_at?: string;
  readonly expires_at: string;
  readonly purpose?: string;
  readonly revocation_effect?: string;
}

export interface RevocationSummary {
  readonly total: number;
  readonly by_state: Readonly<Record<GrantState, number>>;
  readonly by_provider: Readonly<Record<string, Partial<Record<GrantState, number>>>>;
  readonly confirmed: number;
  readonly unconfirmed: number;
  readonly outstanding: number;
  readonly close_to_all_revoked_ms: number | null;
}

export interface IncidentReadout {
  readonly incident: Incident;
  readonly grants?: readonly Grant[];
  readonly revocation: RevocationSummary;
}

export interface Approval {
  readonly id: string;
  readonly state: string;
  readonly incident_id: string;
  readonly agent: string;
  readonly profile: string;
  readonly provider: string;
  readonly tier: string;
  readonly scope: unknown;
  readonly ttl_seconds: number;
  readonly purpose: string;
  readonly created_at: string;
  readonly expires_at: string;
  readonly quorum: number;
  readonly approvals: number;
  readonly approvers?: readonly string[];
  readonly decisions?: readonly { readonly by: string; readonly decision: string; readonly reason: string; readonly at: string }[];
}

export interface AuditEvent {
  readonly seq: number;
  readonly at: string;
  readonly type: string;
  readonly actor: string;
  readonly incidentId?: string;
  readonly grantId?: string;
  readonly profile?: string;
  readonly reason?: string;
  readonly data?: Readonly<Record<string, string | number | boolean | readonly string[]>>;
}

export interface ChainVerdict {
  readonly ok: boolean;
  readonly events: number;
  readonly last_seq: number;
  readonly sealed_through: number;
  readonly unsealed: number;
  readonly checkpoints: number;
  readonly first_bad: { readonly seq: number; readonly problem: string; readonly detail: string } | null;
}

export interface Quarantine {
  readonly state: 'none' | 'quarantined' | 'lifted';
  readonly at?: string;
  readonly by?: string;
  readonly reason?: string;
}

/** A state a grant can still be used or revoked in: what a close kills. */
export const LIVE_STATES: readonly GrantState[] = ['issuing', 'active', 'revoking'];

export const liveCount = (byState: Partial<Record<GrantState, number>>): number =>
  LIVE_STATES.reduce((sum, state) => sum + (byState[state] ?? 0), 0);

/** The grant states in lifecycle order, for tables. */
export const GRANT_STATE_ORDER: readonly GrantState[] = [
  'pending_approval',
  'issuing',
  'active',
  'revoking',
  'revoked',
  'expired',
  'failed',
];
