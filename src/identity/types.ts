/**
 * What a verified workload or operator token proves. Built only from verified claims
 * (SECURITY.md §1); nothing here is copied from an unverified token.
 */

/** An agent workload: a SPIFFE ID, or `issuer#subject` for opaque (OIDC) issuers. */
export interface AgentIdentity {
  readonly kind: 'agent';
  /** SPIFFE ID, or `${iss}#${sub}` for opaque issuers. Profiles match on this. */
  readonly id: string;
  readonly issuer: string;
  /** The configured issuer's short name (identity.agents[].name), for logs and metrics. */
  readonly issuerName: string;
  readonly subject: string;
  /** SPIFFE issuers only. */
  readonly trustDomain?: string;
  readonly jti?: string;
  /** Token expiry, ms since the epoch. */
  readonly expiresAt: number;
  /**
   * SHA-256 of `header.payload` (hex, first 16 chars), for logs and audit. Never the raw token,
   * and never the signature: ECDSA signatures are malleable (SECURITY.md §1 "Replay").
   */
  readonly fingerprint: string;
}

/** A human operator, authenticated by the operator issuer's token. */
export interface OperatorIdentity {
  readonly kind: 'operator';
  readonly subject: string;
  readonly issuer: string;
  /** Roles from the configured roles claim; empty when the claim is absent or not strings. */
  readonly roles: readonly string[];
  /** Whether `roles` holds identity.operators.operatorRole. */
  readonly isOperator: boolean;
  /** Token expiry, ms since the epoch. */
  readonly expiresAt: number;
  readonly fingerprint: string;
}

/**
 * Verifies bearer tokens. Agent endpoints accept only agent issuers and operator endpoints only
 * the operator issuer: token kinds never cross. Every failure is a 401 BrokerError.
 */
export interface Identity {
  authenticateAgent(token: string): Promise<AgentIdentity>;
  authenticateOperator(token: string): Promise<OperatorIdentity>;
}
