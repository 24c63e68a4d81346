/**
 * The public contract between core and providers. Providers import this file only (enforced by
 * ESLint): no Redis, no express, no config loading, no process.env. Everything a provider needs
 * arrives through `create(config, deps)`; everything it returns is checked by core
 * (catalog/) before it is trusted.
 *
 * Revocation comes in three shapes, because providers differ (docs/security.md §3):
 *  - per grant, upstream: Vault revokes an accessor or lease;
 *  - per grant, by ledger: a broker-signed JWT dies when the broker's ledger says so
 *    (introspection answers inactive), the token itself stays valid until `exp` offline;
 *  - per incident: Vault revokes one per-incident parent token; AWS adds one deny-by-incident-tag
 *    statement. Some providers cannot revoke single credentials at all (AWS STS by session).
 * A provider may also confirm that a credential is really dead (a revocation receipt).
 */
import type { z } from 'zod';
import { BrokerError } from './errors.js';
import type { RevocationHandle } from './model.js';

export type { RevocationHandle } from './model.js';
export { BrokerError } from './errors.js';
/** Reading an upstream answer with a size cap (capped_body.ts); the same reader core uses. */
export { BodyReadError, readCappedBody } from './capped_body.js';
/** Loopback addresses (urls.ts): where plain http is acceptable. */
export { isLoopbackUrl } from './urls.js';
/** Reading a secret from a mounted file (secret_files.ts), its permissions checked outside development mode. */
export { checkSecretFileMode, readSecretText } from './secret_files.js';
/** Creating a key file exclusively (key_files.ts): a concurrent creator's key is never replaced. */
export { publishExclusive } from './key_files.js';

/** The smallest logger a provider may use. Never pass secrets to it. */
export interface ProviderLogger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

/**
 * Where a provider runs upstream calls that nobody is waiting on, such as confirming, after an
 * incident's one revoke call, that each credential is dead (receipts). Each call takes a lane.
 * While the broker serves no request the lanes are unbounded (the provider's own concurrency
 * limits apply); while it serves one they narrow but never stop, so a large close cannot crowd
 * grant requests off the event loop they share (docs/performance.md, S5). Never for the revoke
 * call itself: that must not wait.
 */
export interface BackgroundLanes {
  run<T>(work: () => Promise<T>): Promise<T>;
}

/**
 * Timers for a provider's periodic work (token renewal, garbage collection). They never keep the
 * process alive, and the broker cancels every one still pending when the provider closes.
 */
export interface Scheduler {
  set(fn: () => void, delayMs: number): unknown;
  clear(handle: unknown): void;
}

/** Held while `work` runs; `signal` aborts when the lease was lost (another replica may hold it now). */
export interface HeldLock {
  /**
   * Increases with every acquisition of this lock by anyone: an upstream write that records it
   * can be checked afterwards (read back: did a later holder write over it?), so a holder that
   * lost its lease without noticing cannot silently undo a newer holder's write.
   */
  readonly fence: number;
  readonly signal: AbortSignal;
}

/**
 * A lock shared by every broker replica (through the store), for read-modify-write of upstream
 * state: one writer at a time per name, with a lease renewed while the work runs, so a broker
 * that dies holding it frees it within the lease. Names are the provider's own (the broker
 * prefixes them with the provider name).
 */
export interface ProviderLocks {
  /** Waits up to `waitMs` (default 10 s) for the lock, then fails with ERR_PROVIDER_UNAVAILABLE. */
  withLock<T>(name: string, work: (lock: HeldLock) => Promise<T>, options?: { readonly waitMs?: number }): Promise<T>;
}

/**
 * Small, non-secret values a provider keeps per incident in the shared store, so every replica and
 * every later process sees them (Vault records each incident parent's accessor before using it).
 * Names are the provider's own: the broker keeps each provider's records apart.
 */
export interface IncidentRecords {
  /** Durable once it resolves. */
  add(incidentId: string, value: string): Promise<void>;
  of(incidentId: string): Promise<readonly string[]>;
  /** The records of every incident that is closed or no longer exists: what a provider still has to clean up. */
  ofEndedIncidents(): Promise<ReadonlyArray<{ readonly incidentId: string; readonly values: readonly string[] }>>;
  remove(incidentId: string, values: readonly string[]): Promise<void>;
}

export interface ProviderDeps {
  readonly logger: ProviderLogger;
  /** Milliseconds since the epoch; injectable for tests. */
  readonly now: () => number;
  /** True when the broker runs its embedded development default. */
  readonly devMode: boolean;
  /** Absent: background work runs at once (tests, tools). */
  readonly background?: BackgroundLanes;
  /**
   * The broker's public base URL (no trailing slash): `server.publicUrl`, or in development mode
   * the address the broker listens on, known once it listens (so `PORT` moves it too). Throws
   * when neither is known. Absent in tools and tests that build a provider on its own.
   */
  readonly publicUrl?: () => string;
  /** Absent in tools and tests that build a provider on its own. */
  readonly scheduler?: Scheduler;
  /** Absent in tools and tests that build a provider on its own. */
  readonly locks?: ProviderLocks;
  /** Absent in tools and tests that build a provider on its own. */
  readonly incidentRecords?: IncidentRecords;
}

export interface AgentRef {
  /** SPIFFE ID or `issuer#subject`. */
  readonly id: string;
  readonly issuer: string;
}

export interface IssueRequest<P> {
  readonly grantId: string;
  readonly incidentId: string;
  readonly agent: AgentRef;
  readonly profile: { readonly name: string; readonly params: P };
  /** Already clamped by core to min(requested, profile maxTtl, provider max). */
  readonly ttlSeconds: number;
  readonly purpose: string;
  readonly signal: AbortSignal;
}

export interface IssuedCredential {
  /** The secret material, returned to the agent once and never stored or logged by core. */
  readonly credential: Readonly<Record<string, string | number>>;
  /** What core stores to revoke it later. Must not contain the secret. */
  readonly handle: RevocationHandle;
  /** Provider-enforced hard expiry, ms since epoch. Core rejects one beyond the granted TTL. */
  readonly expiresAt: number;
  /** Values of `credential` that are secret; core keeps them out of every sink. */
  readonly secretFields: readonly string[];
}

export interface GrantRef {
  readonly grantId: string;
  readonly incidentId: string;
  readonly handle: RevocationHandle;
  readonly expiresAt: number;
}

export interface RevokeGrantRequest extends GrantRef {
  readonly signal: AbortSignal;
}

export interface RevokeIncidentRequest {
  readonly incidentId: string;
  /** Every grant of the incident this provider issued and that is not yet terminal. */
  readonly grants: readonly GrantRef[];
  readonly signal: AbortSignal;
}

export interface KillIncidentRequest {
  readonly incidentId: string;
  readonly signal: AbortSignal;
}

/**
 * Outcome for one grant. `confirmed` means the provider checked that it is dead. `denied`: a Deny
 * that upstream applies within its propagation delay (AWS STS), never confirmed by the broker.
 */
export interface RevocationReceipt {
  readonly grantId: string;
  readonly outcome: 'revoked' | 'already_dead' | 'denied';
  readonly confirmed: boolean;
}

export interface ProviderCapabilities {
  /**
   * How a single grant is revoked: `upstream` (the provider kills it), `ledger` (the broker's own
   * record decides, e.g. introspection), or `none` (only per-incident revocation or expiry).
   */
  readonly grantRevocation: 'upstream' | 'ledger' | 'none';
  /** Whether `revokeIncident` kills a whole incident in O(1) provider calls. */
  readonly incidentRevocation: boolean;
  readonly minTtlSeconds: number;
  readonly maxTtlSeconds: number;
  /**
   * When a revocation bites: `at_once` (default: the credential is dead when the call returns) or
   * `after_propagation` (AWS STS: a Deny that IAM applies within its propagation delay). Reports
   * show the latter as denied, never as revoked at once.
   */
  readonly revocationTakesEffect?: 'at_once' | 'after_propagation';
  /**
   * The handle fields that name the credential to systems outside the broker, by subject format
   * (`{ aws_access_key_id: 'accessKeyId' }`): a deviation signal naming a credential by one of
   * them (a CloudTrail rule's AccessKeyId) finds its grant (docs/deviation.md). Core indexes them
   * at commit; every issued handle must carry each field, a non-empty string. Never a secret.
   */
  readonly subjects?: Readonly<Record<string, string>>;
}

/** The emergency brake of a provider whose credentials cannot be revoked one by one. */
export interface EmergencyDenyRequest {
  /** What to deny, in the provider's terms (AWS STS: a role ARN). */
  readonly target: string;
  readonly signal: AbortSignal;
}

export interface EmergencyDenyResult {
  readonly target: string;
  /** Every credential of the target issued before this (ms) is denied. */
  readonly deniedBefore: number;
  /** The deny stays until then (ms): no credential it covers can outlive it. */
  readonly until: number;
}

export interface ProviderHealth {
  readonly ok: boolean;
  /** Operator-facing, no secrets. */
  readonly detail?: string;
}

/** Introspection support for providers whose credentials are broker-signed tokens. */
export interface TokenIntrospector {
  /** Verify signature, issuer and expiry of a token this provider issued; null if it is not one. */
  verifyIssued(token: string): Promise<{ readonly grantId: string; readonly claims: Readonly<Record<string, unknown>> } | null>;
  /** Public keys, served at /.well-known/jwks.json. */
  publicJwks(): { readonly keys: readonly Record<string, unknown>[] };
}

export interface Provider<P = unknown> {
  readonly name: string;
  readonly capabilities: ProviderCapabilities;
  issue(req: IssueRequest<P>): Promise<IssuedCredential>;
  /** Idempotent: revoking a dead credential answers `already_dead`. */
  revokeGrant(req: RevokeGrantRequest): Promise<RevocationReceipt>;
  /** Present when `capabilities.incidentRevocation`; idempotent like revokeGrant. */
  revokeIncident?(req: RevokeIncidentRequest): Promise<readonly RevocationReceipt[]>;
  /**
   * Present where the provider can end a whole incident from what it recorded itself
   * (ProviderDeps.incidentRecords), before core has read a single grant. Core calls it once as the
   * incident closes, beside the revocation queue, so the credentials are dead one provider call
   * after the close instead of after the first batch. Answers whether it ended anything. Never
   * confirms: every grant still goes through revokeIncident, with receipts, which must not depend
   * on this call having run or succeeded. Idempotent.
   */
  killIncident?(req: KillIncidentRequest): Promise<boolean>;
  readonly introspector?: TokenIntrospector;
  /**
   * Present where single credentials cannot be revoked and a whole target may need to be stopped
   * at once (AWS STS: every session of a role, the broker's or not, issued before now). Refuses a
   * target it does not know (ERR_VALIDATION).
   */
  emergencyDeny?(req: EmergencyDenyRequest): Promise<EmergencyDenyResult>;
  health(signal: AbortSignal): Promise<ProviderHealth>;
  close(): Promise<void>;
}

/** One per provider folder: `providers/<name>/index.ts` exports an object that satisfies this. */
export interface ProviderFactory<C, P> {
  readonly name: string;
  /** zod schema of `providers.<name>` in the config file (`.strict()`). */
  readonly configSchema: z.ZodType<C>;
  /** zod schema of a profile's `params` for this provider (`.strict()`). */
  readonly profileParamsSchema: z.ZodType<P>;
  create(config: C, deps: ProviderDeps): Promise<Provider<P>>;
}

/** Upstream is down, sealed, throttling or timing out: retrying later may help (503). */
export function providerUnavailable(detail: string, cause?: unknown): BrokerError {
  return new BrokerError('ERR_PROVIDER_UNAVAILABLE', 503, 'credential provider unavailable', { detail, cause });
}

/** Upstream refused or answered something unusable: retrying the same request will not help. */
export function providerFailed(detail: string, cause?: unknown): BrokerError {
  return new BrokerError('ERR_PROVIDER_FAILED', 502, 'credential provider failed', { detail, cause });
}

/**
 * Upstream refuses to hold more (AWS IAM's inline-policy size quota): retrying will not help
 * until someone acts, so the broker escalates the revocation at once (502).
 */
export function providerQuotaExceeded(detail: string): BrokerError {
  return new BrokerError('ERR_PROVIDER_QUOTA', 502, 'credential provider quota exceeded', { detail });
}
