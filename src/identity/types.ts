/**
 * What a verified workload or operator token proves. Built only from verified claims
 * (docs/security.md §1); nothing here is copied from an unverified token.
 */

/** An agent workload: a SPIFFE ID, or `issuer#subject` for OIDC issuers. */
export interface AgentIdentity {
  readonly kind: 'agent';
  /** SPIFFE ID, or `${iss}#${sub}` for OIDC issuers. Profiles match on this. */
  readonly id: string;
  /** OIDC: `iss`. SPIFFE: the pinned issuer if configured, else `spiffe://<trust domain>`. */
  readonly issuer: string;
  /** The trust domain (SPIFFE) or the configured issuer's short name (OIDC), for logs and metrics. */
  readonly issuerName: string;
  readonly subject: string;
  /** SPIFFE trust domains only. */
  readonly trustDomain?: string;
  readonly jti?: string;
  /** Token expiry (`exp`), ms since the epoch. */
  readonly expiresAt: number;
  /** The last instant any verification would still accept the token: `exp` plus the clock leeway, ms. */
  readonly acceptedUntil: number;
  /**
   * Keyed hash of `header.payload` (identity/token_ids.ts), for logs and audit. Never the raw
   * token, and never the signature: ECDSA signatures are malleable (docs/security.md §1 "Replay").
   */
  readonly fingerprint: string;
  /** Replay-cache name of the token: SHA-256 of issuer + `jti`, else of `header.payload`. */
  readonly tokenId: string;
  /**
   * The verified claims `policy.agentClaims` maps, by attribute name, as the token has them, for
   * policy only (never logged or audited); absent when the token carries none of them.
   */
  readonly claims?: Readonly<Record<string, unknown>>;
  /** The human who sponsors the agent (the `approvals.sponsorClaim` claim, a string): never its approver. */
  readonly sponsor?: string;
}

/** A human operator, authenticated by the operator issuer's token. */
export interface OperatorIdentity {
  readonly kind: 'operator';
  readonly subject: string;
  readonly issuer: string;
  /** Roles from the configured roles claim; empty when the claim is absent or not strings. */
  readonly roles: readonly string[];
  /** Token expiry, ms since the epoch. */
  readonly expiresAt: number;
  readonly fingerprint: string;
}

/**
 * Verifies bearer tokens. Agent endpoints accept only agent issuers and operator endpoints only
 * the operator issuer: token kinds never cross. Every token failure is a 401 BrokerError; keys
 * that cannot be had at all are a 503 ERR_IDENTITY_UNAVAILABLE.
 */
export interface Identity {
  authenticateAgent(token: string): Promise<AgentIdentity>;
  authenticateOperator(token: string): Promise<OperatorIdentity>;
  /**
   * A caller of POST /oauth2/introspect: an operator token (of the operator issuer), or else a
   * workload token of an agent issuer for identity.introspection.audience (never the agents' one).
   */
  authenticateIntrospectionCaller(token: string): Promise<OperatorIdentity | AgentIdentity>;
  /**
   * A caller of an endpoint both kinds use (GET /v1/approvals/:id: the agent collects, an
   * operator reads): an operator token of the operator issuer, else an agent token, each checked
   * exactly as on its own endpoints.
   */
  authenticateAgentOrOperator(token: string): Promise<OperatorIdentity | AgentIdentity>;
}
