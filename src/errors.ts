/**
 * One error type for the whole broker. `code` is a stable contract with clients; `message` is
 * safe to show them; `detail` is for operators' logs only. 5xx errors never expose their message
 * or detail to clients (CONTRIBUTING.md #8).
 */
import type { Decision } from './model.js';

export type ErrorCode =
  | 'ERR_BAD_REQUEST'
  | 'ERR_VALIDATION'
  | 'ERR_PAYLOAD_TOO_LARGE'
  | 'ERR_HEADERS_TOO_LARGE'
  | 'ERR_REQUEST_TIMEOUT'
  | 'ERR_UNSUPPORTED_MEDIA_TYPE'
  | 'ERR_UNAUTHENTICATED'
  | 'ERR_TOKEN_MALFORMED'
  | 'ERR_TOKEN_EXPIRED'
  | 'ERR_TOKEN_NOT_YET_VALID'
  | 'ERR_TOKEN_LIFETIME'
  | 'ERR_TOKEN_AUDIENCE'
  | 'ERR_TOKEN_ISSUER_UNTRUSTED'
  | 'ERR_TOKEN_SIGNATURE'
  | 'ERR_TOKEN_CLAIMS'
  | 'ERR_TOKEN_REPLAYED'
  | 'ERR_IDENTITY_UNAVAILABLE'
  | 'ERR_FORBIDDEN'
  | 'ERR_POLICY_DENIED'
  | 'ERR_NOT_FOUND'
  | 'ERR_INCIDENT_NOT_FOUND'
  | 'ERR_PROFILE_NOT_FOUND'
  | 'ERR_GRANT_NOT_FOUND'
  | 'ERR_INCIDENT_EXISTS'
  | 'ERR_INCIDENT_CLOSED'
  | 'ERR_GRANT_NOT_ACTIVE'
  | 'ERR_METHOD_NOT_ALLOWED'
  | 'ERR_RATE_LIMITED'
  | 'ERR_GRANT_QUOTA'
  | 'ERR_PROVIDER_UNAVAILABLE'
  | 'ERR_PROVIDER_FAILED'
  | 'ERR_PROVIDER_QUOTA'
  | 'ERR_WEBHOOK_MALFORMED'
  | 'ERR_WEBHOOK_SIGNATURE'
  | 'ERR_WEBHOOK_PAYLOAD'
  | 'ERR_WEBHOOK_NOT_CONFIGURED'
  | 'ERR_AUDIT_CHAIN_OFF'
  | 'ERR_CONSOLE_OFF'
  | 'ERR_CONSOLE_NOT_BUILT'
  | 'ERR_APPROVAL_NOT_FOUND'
  | 'ERR_APPROVAL_SELF'
  | 'ERR_APPROVER_NOT_NAMED'
  | 'ERR_APPROVAL_DUPLICATE'
  | 'ERR_APPROVAL_CLOSED'
  | 'ERR_MAJOR_NOT_ACTIVE'
  | 'ERR_AGENT_QUARANTINED'
  | 'ERR_SOURCE_UNCONFIRMED'
  | 'ERR_NOT_QUARANTINED'
  | 'ERR_SIGNAL_SUBJECT_UNKNOWN'
  | 'ERR_SIGNAL_MISMATCH'
  | 'ERR_STORE_UNAVAILABLE'
  | 'ERR_NO_STORE_LOSS'
  | 'ERR_SHUTTING_DOWN'
  | 'ERR_CONFIG'
  | 'ERR_INTERNAL';

export interface BrokerErrorOptions {
  /** Operator-only explanation; goes to logs, never to clients. */
  detail?: string;
  cause?: unknown;
  /** Extra response headers (e.g. WWW-Authenticate). */
  headers?: Readonly<Record<string, string>>;
  /** Extra members of a 4xx body, client-safe by construction (the ids of the policies that denied). */
  publicFields?: Readonly<Record<string, readonly string[] | string>>;
}

export class BrokerError extends Error {
  override readonly name = 'BrokerError';
  readonly detail: string | undefined;
  readonly headers: Readonly<Record<string, string>>;
  readonly publicFields: Readonly<Record<string, readonly string[] | string>>;

  constructor(
    readonly code: ErrorCode,
    readonly status: number,
    message: string,
    options: BrokerErrorOptions = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.detail = options.detail;
    this.headers = options.headers ?? {};
    this.publicFields = options.publicFields ?? {};
  }

  /** Client-safe: 4xx messages are written for clients, 5xx messages may carry internals. */
  get expose(): boolean {
    return this.status < 500;
  }

  /** The JSON body a client sees. */
  toBody(): { error: { code: ErrorCode; message: string } } {
    return {
      error: {
        code: this.code,
        message: this.expose ? this.message : genericMessage(this.status),
        ...(this.expose ? this.publicFields : {}),
      },
    };
  }
}

function genericMessage(status: number): string {
  if (status === 503) return 'service temporarily unavailable; retry later';
  if (status === 502) return 'upstream provider failed';
  return 'internal error';
}

export const isBrokerError = (err: unknown): err is BrokerError => err instanceof BrokerError;

// Named constructors for the failures every layer raises. Names say the failure (CONTRIBUTING.md #21).
export const badRequest = (message: string, detail?: string): BrokerError =>
  new BrokerError('ERR_BAD_REQUEST', 400, message, detail === undefined ? {} : { detail });
export const validationFailed = (message: string): BrokerError => new BrokerError('ERR_VALIDATION', 400, message);
export const incidentNotFound = (): BrokerError => new BrokerError('ERR_INCIDENT_NOT_FOUND', 404, 'incident not found');
export const incidentClosed = (): BrokerError =>
  new BrokerError('ERR_INCIDENT_CLOSED', 409, 'incident is closed; no new credentials are issued for it');
/** An incident's or an agent's quota of live grants (limits.activeGrants) is full: release one, or wait for one to end. */
export const grantQuotaExceeded = (scope: 'incident' | 'agent', limit: number): BrokerError =>
  new BrokerError(
    'ERR_GRANT_QUOTA',
    429,
    scope === 'incident'
      ? `the incident holds its limit of ${limit} live grants; release one or wait for one to end`
      : `the agent holds its limit of ${limit} live grants; release one or wait for one to end`,
  );
export const incidentExists = (): BrokerError => new BrokerError('ERR_INCIDENT_EXISTS', 409, 'an incident with this id already exists');
export const profileNotFound = (): BrokerError => new BrokerError('ERR_PROFILE_NOT_FOUND', 404, 'profile not found');
export const grantNotFound = (): BrokerError => new BrokerError('ERR_GRANT_NOT_FOUND', 404, 'grant not found');
/** Authenticated, but not allowed this (RFC 6750 §3.1 `insufficient_scope`). */
export const forbidden = (message: string, detail: string): BrokerError =>
  new BrokerError('ERR_FORBIDDEN', 403, message, {
    detail,
    headers: { 'WWW-Authenticate': 'Bearer realm="quartermaster", error="insufficient_scope"' },
  });
/** A policy said no: the client learns which policies (`decided_by`), operators also why. */
export class PolicyDenied extends BrokerError {
  constructor(readonly decision: Decision) {
    super('ERR_POLICY_DENIED', 403, 'the request is not allowed by policy', {
      detail: decision.reasons.join('; '),
      publicFields: { decided_by: decision.decidedBy },
    });
  }
}
export const policyDenied = (decision: Decision): BrokerError => new PolicyDenied(decision);
export const storeUnavailable = (cause: unknown): BrokerError =>
  new BrokerError('ERR_STORE_UNAVAILABLE', 503, 'state store unavailable', { cause, detail: describeCause(cause) });
export const internalError = (cause: unknown): BrokerError =>
  new BrokerError('ERR_INTERNAL', 500, 'internal error', { cause, detail: describeCause(cause) });

/** Turn anything thrown into a BrokerError without leaking its text to clients. */
export function toBrokerError(err: unknown): BrokerError {
  return isBrokerError(err) ? err : internalError(err);
}

/** A short operator-facing description of a cause: its name and code, never an upstream body. */
export function describeCause(cause: unknown): string {
  if (cause instanceof Error) {
    const code = (cause as { code?: unknown }).code;
    return typeof code === 'string' ? `${cause.name}(${code}): ${cause.message}` : `${cause.name}: ${cause.message}`;
  }
  return typeof cause;
}
