/**
 * Vault failures → broker errors, by structured fields only (CONTRIBUTING.md #9): the HTTP status Vault
 * answered with (node-vault's ApiResponseError carries it as `response.statusCode`), or, when
 * nothing answered, the transport's error `code` (ECONNREFUSED, ECONNRESET, ETIMEDOUT, TLS codes…;
 * transport.ts).
 * Vault's `{"errors":[…]}` texts are kept for debug logs and never reach a client or a
 * BrokerError (https://developer.hashicorp.com/vault/api-docs#http-status-codes).
 */
import { BrokerError, providerFailed, providerUnavailable } from '../../src/sdk.js';

export type VaultFailure =
  /** Vault answered with a non-2xx status. `errors` is Vault's error list, for debug logs only. */
  | { readonly kind: 'http'; readonly status: number; readonly errors: readonly string[] }
  /** Nothing usable came back: connection refused or reset, DNS, timeout. */
  | { readonly kind: 'network'; readonly code: string }
  /** Vault's TLS certificate was not accepted: a wrong `address` or `caFile`, or an expired certificate. Retrying does not fix it. */
  | { readonly kind: 'tls'; readonly code: string }
  /** The caller's AbortSignal fired. */
  | { readonly kind: 'aborted' };

/**
 * One failed Vault call. The message names the operation and the status or code, never a
 * token, an accessor or anything Vault said.
 */
export class VaultCallError extends Error {
  override readonly name = 'VaultCallError';
  constructor(
    readonly op: string,
    readonly failure: VaultFailure,
  ) {
    super(`vault ${op}: ${describeFailure(failure)}`);
  }

  /** True when Vault answered this exact status. */
  is(status: number): boolean {
    return this.failure.kind === 'http' && this.failure.status === status;
  }
}

export function describeFailure(failure: VaultFailure): string {
  switch (failure.kind) {
    case 'http':
      return `HTTP ${failure.status}`;
    case 'network':
      return `no answer (${failure.code})`;
    case 'tls':
      return `TLS certificate not accepted (${failure.code}): check address and caFile`;
    case 'aborted':
      return 'aborted';
  }
}

/** Classifies whatever node-vault or the transport threw. Keeps only status, Vault's error texts and a code, never the error itself. */
export function classifyVaultError(err: unknown): VaultFailure {
  if (typeof err === 'object' && err !== null) {
    const response = (err as { response?: { statusCode?: unknown; body?: unknown } }).response;
    if (response && typeof response.statusCode === 'number') {
      return { kind: 'http', status: response.statusCode, errors: vaultErrors(response.body) };
    }
    const code = (err as { code?: unknown }).code;
    if (typeof code === 'string' && /^[A-Z0-9_]{2,40}$/u.test(code))
      return TLS_CERTIFICATE_CODES.has(code) ? { kind: 'tls', code } : { kind: 'network', code };
  }
  return { kind: 'network', code: 'UNKNOWN' };
}

/** Node's certificate verification failures (OpenSSL X509_V_ERR names, and the hostname check). */
const TLS_CERTIFICATE_CODES = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_UNTRUSTED',
  'CERT_REVOKED',
  'CERT_SIGNATURE_FAILURE',
  'CERT_REJECTED',
  'INVALID_CA',
  'HOSTNAME_MISMATCH',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

function vaultErrors(body: unknown): string[] {
  const errors = (body as { errors?: unknown } | null | undefined)?.errors;
  return Array.isArray(errors) ? errors.filter((e): e is string => typeof e === 'string').map((e) => e.slice(0, 300)) : [];
}

/**
 * Whether retrying later may help: Vault sealed or on standby (503), rate limited (429), any 5xx,
 * 412 (a performance standby not yet caught up), a redirect (a standby that could not forward
 * to the active node, as during a failover; never followed, transport.ts), and every failure
 * where nothing answered — except a refused TLS certificate, which needs a person.
 */
export function isTransient(failure: VaultFailure): boolean {
  if (failure.kind === 'tls') return false;
  if (failure.kind !== 'http') return true;
  return failure.status >= 500 || failure.status === 429 || failure.status === 412 || (failure.status >= 300 && failure.status < 400);
}

/** The broker error for a failed call: ERR_PROVIDER_UNAVAILABLE (503) when retrying may help, else ERR_PROVIDER_FAILED. */
export function toBrokerError(err: unknown, op = 'request'): BrokerError {
  if (err instanceof BrokerError) return err;
  const failure = err instanceof VaultCallError ? err.failure : classifyVaultError(err);
  const what = err instanceof VaultCallError ? err.op : op;
  const detail = `vault ${what}: ${describeFailure(failure)}`;
  if (isTransient(failure)) return providerUnavailable(detail);
  if (failure.kind === 'http' && failure.status === 403) {
    return providerFailed(
      `${detail} (permission denied even after a fresh login: check the broker's Vault policy and the profile's policies)`,
    );
  }
  return providerFailed(detail);
}
