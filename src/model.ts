/**
 * The broker's ledger types (docs/architecture.md "Concepts"). Plain data, JSON-serializable, no secrets:
 * a grant holds the provider's revocation handle, never the credential.
 * Times are milliseconds since the epoch.
 */

export const SEVERITIES = ['sev1', 'sev2', 'sev3', 'sev4', 'sev5'] as const;
export type Severity = (typeof SEVERITIES)[number];

/** How bad a deviation signal is (docs/deviation.md); the policy decides what each leads to. */
export const SIGNAL_SEVERITIES = ['low', 'medium', 'high', 'critical'] as const;
export type SignalSeverity = (typeof SIGNAL_SEVERITIES)[number];

export interface Incident {
  readonly id: string;
  /** Where the incident came from: `api`, `cli`, later `pagerduty`, `incidentio`, `generic`. */
  readonly source: string;
  readonly title: string;
  readonly severity: Severity;
  readonly status: 'open' | 'closed';
  readonly openedAt: number;
  readonly closedAt?: number;
  /** Who opened / closed it (operator subject or webhook source). */
  readonly openedBy: string;
  readonly closedBy?: string;
  /**
   * The agents assigned to the incident: anchored patterns over the agent id (as a profile's).
   * Absent: every agent a profile allows may act on it. Never empty.
   */
  readonly agents?: readonly string[];
  /** The profile tiers that have had a grant in this incident (policy: evidence before remediation). */
  readonly tiersGranted?: readonly string[];
  /** Break-glass: major-incident mode, from `startedAt` until `endsAt` (incidents/major_mode.ts). Absent when off. */
  readonly major?: MajorMode;
}

export interface MajorMode {
  readonly startedAt: number;
  readonly endsAt: number;
  /** The operator who put the incident in major-incident mode, and why. */
  readonly by: string;
  readonly reason: string;
}

/**
 * pending_approval: reserved, never produced: a request that waits for approval is an approval
 * record (src/approvals/), and its grant exists only once the approved request is collected.
 * issuing: intent recorded, provider not yet answered (never returned to anyone).
 * active: credential handed out. revoking: revocation accepted and queued.
 * revoked / expired: terminal. failed: the provider never issued it (terminal, nothing to revoke).
 */
export const GRANT_STATES = ['pending_approval', 'issuing', 'active', 'revoking', 'revoked', 'expired', 'failed'] as const;
export type GrantState = (typeof GRANT_STATES)[number];

/**
 * Why a grant is being revoked. `undelivered`: it was committed but its credential never reached
 * the agent (the issuance could not be audited), so nobody should hold it.
 */
export type RevokeReason = 'released' | 'incident_closed' | 'operator' | 'deviation' | 'undelivered' | 'quarantined' | 'break_glass_ended';

/**
 * What a policy evaluation decided (docs/architecture.md "Concepts"): the effect, the ids of
 * what decided it — policy ids, or the config path of the rule (`profiles.demo.agents`) — and
 * reasons for operators. The ids go to the audit event and, on deny, to the 403 body; the reasons
 * stay in logs and audit.
 */
export interface Decision {
  readonly effect: 'allow' | 'deny';
  readonly decidedBy: readonly string[];
  readonly reasons: readonly string[];
}

/** Opaque to core, JSON-serializable, never secret: accessor, lease id, session name, jti… */
export type RevocationHandle = Readonly<Record<string, string | number | boolean>>;

export interface Grant {
  readonly id: string;
  readonly incidentId: string;
  readonly profile: string;
  readonly provider: string;
  /** Agent id: a SPIFFE ID or `issuer#subject`. */
  readonly agent: string;
  readonly purpose: string;
  readonly state: GrantState;
  readonly createdAt: number;
  readonly ttlSeconds: number;
  /** Provider-enforced hard expiry; for an intent, the latest it could be. */
  readonly expiresAt: number;
  readonly handle?: RevocationHandle;
  /**
   * What systems outside the broker know the credential by, as `<format>:<id>` (`aws_access_key_id:ASIA…`,
   * `vault_accessor:…`): the provider declares which handle fields they are (sdk.ts
   * ProviderCapabilities.subjects), and a deviation signal naming one finds this grant. Never secret.
   */
  readonly subjects?: readonly string[];
  readonly revokeReason?: RevokeReason;
  readonly revokeRequestedAt?: number;
  /** When the grant reached revoked / expired / failed. */
  readonly endedAt?: number;
  readonly revokeAttempts?: number;
  /** Whether the provider confirmed the credential is dead (revocation receipt). */
  readonly revocationConfirmed?: boolean;
  /** Last revocation or issue failure, operator-facing, no secrets. */
  readonly lastError?: string;
}

/** States a grant never leaves. */
export const TERMINAL_STATES: ReadonlySet<GrantState> = new Set(['revoked', 'expired', 'failed']);
/** States whose credential may be alive (or about to be): a release or close turns them revoking. */
export const LIVE_STATES: ReadonlySet<GrantState> = new Set(['issuing', 'active']);

export const isTerminal = (grant: Pick<Grant, 'state'>): boolean => TERMINAL_STATES.has(grant.state);
export const isLive = (grant: Pick<Grant, 'state'>): boolean => LIVE_STATES.has(grant.state);

/** An active grant past its expiry is expired, whether or not the sweeper has marked it yet. */
export function effectiveState(grant: Pick<Grant, 'state' | 'expiresAt'>, now: number): GrantState {
  return grant.state === 'active' && grant.expiresAt <= now ? 'expired' : grant.state;
}

export interface AuditEvent {
  readonly seq: number;
  readonly at: number;
  readonly type:
    | 'incident.opened'
    | 'incident.closed'
    | 'incident.updated'
    | 'grant.issued'
    | 'grant.denied'
    | 'grant.failed'
    | 'grant.released'
    | 'grant.revoked'
    | 'grant.expired'
    | 'token.introspected'
    | 'revocation.retry'
    | 'revocation.overdue'
    | 'revocation.deferred'
    | 'store.loss_acknowledged'
    | 'provider.emergency_deny'
    | 'agent.quarantined'
    | 'agent.quarantine_lifted'
    | 'approval.requested'
    | 'approval.decided'
    | 'approval.approved'
    | 'approval.denied'
    | 'approval.expired'
    | 'approval.cancelled'
    | 'incident.major_started'
    | 'incident.major_ended'
    | 'revocation.event_undelivered'
    | 'deviation.decided'
    | 'deviation.signal_unresolved';
  readonly actor: string;
  readonly incidentId?: string;
  readonly grantId?: string;
  readonly profile?: string;
  /** Stable error code or decision reason; never a secret. */
  readonly reason?: string;
  /** Small, secret-free details (ttl, provider, fingerprints, the ids that decided). */
  readonly data?: Readonly<Record<string, AuditValue>>;
}

export type AuditValue = string | number | boolean | readonly string[];

export type AuditEventInput = Omit<AuditEvent, 'seq'>;

/**
 * The request an action came through: the broker's own id for it (what logs and the
 * X-Request-Id response header carry) and, kept apart because the client chose it, the
 * client's X-Request-Id.
 */
export interface RequestOrigin {
  readonly requestId: string;
  readonly clientRequestId?: string;
}

/** Who did something, for the audit: a name, or an authenticated subject with its token's keyed fingerprint. */
export interface Actor {
  readonly id: string;
  readonly tokenFingerprint?: string;
  readonly origin?: RequestOrigin;
}

/** A flow's actor argument: a bare name (the CLI's --by, the broker itself) or an Actor. */
export type ActorRef = string | Actor;

export const actorOf = (ref: ActorRef): Actor => (typeof ref === 'string' ? { id: ref } : ref);

/** The audit data that says who asked and through which request (never the token itself). */
export function provenanceOf(actor: Actor | undefined, origin: RequestOrigin | undefined = actor?.origin): Record<string, string> {
  return {
    ...(actor?.tokenFingerprint === undefined ? {} : { tokenFingerprint: actor.tokenFingerprint }),
    ...(origin === undefined ? {} : { requestId: origin.requestId }),
    ...(origin?.clientRequestId === undefined ? {} : { clientRequestId: origin.clientRequestId }),
  };
}
