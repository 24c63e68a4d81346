/**
 * AWS failures → broker errors, by the SDK's structured fields only (CONTRIBUTING.md #9): AWS's
 * error code (`Code`, else the error's `name`; e.g. `AccessDenied`), `$fault` and
 * `$metadata.httpStatusCode` for answers; for calls nothing answered, the SDK's or Node's error
 * name / code (TimeoutError, ECONNREFUSED…). AWS's message text is never read, kept or returned
 * (https://docs.aws.amazon.com/sdk-for-javascript/v3/developer-guide/handling-exceptions.html).
 *
 *  - throttling, 5xx, timeouts, no answer, no broker credentials yet → 503 (retrying may help);
 *  - AccessDenied, MalformedPolicyDocument, validation and other refusals → 502 (it will not);
 *  - the revocation policy grown past IAM's size quota → ERR_PROVIDER_QUOTA (502, escalated).
 */
import { BrokerError, providerFailed, providerQuotaExceeded, providerUnavailable } from '../../src/sdk.js';

/** AWS error codes that mean "slow down" (the SDK's own list, @smithy/service-error-classification). */
const THROTTLING = new Set([
  'Throttling',
  'ThrottlingException',
  'ThrottledException',
  'RequestThrottledException',
  'TooManyRequestsException',
  'ProvisionedThroughputExceededException',
  'TransactionInProgressException',
  'RequestLimitExceeded',
  'BandwidthLimitExceeded',
  'LimitExceededException',
  'RequestThrottled',
  'SlowDown',
  'PriorRequestNotComplete',
  'EC2ThrottledException',
]);
/** Nothing answered in time, or the connection failed. */
const TRANSIENT_NETWORK = new Set(['TimeoutError', 'RequestTimeout', 'RequestTimeoutException', 'AbortError']);
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
]);

export interface AwsFailure {
  /** The AWS error code or the client-side error name; never a message. */
  readonly name: string;
  readonly status?: number;
  readonly fault?: 'client' | 'server';
}

/** What an SDK or transport error says, in structured fields only. */
export function classifyAwsError(err: unknown): AwsFailure {
  if (typeof err !== 'object' || err === null) return { name: 'Unknown' };
  const e = err as { name?: unknown; Code?: unknown; code?: unknown; $fault?: unknown; $metadata?: { httpStatusCode?: unknown } };
  const status = typeof e.$metadata?.httpStatusCode === 'number' ? e.$metadata.httpStatusCode : undefined;
  // For Query-protocol services the SDK keeps AWS's own error code in `Code` (`NoSuchEntity`),
  // and names the exception class in `name` (`NoSuchEntityException`): the code is the contract.
  const name =
    typeof e.Code === 'string' && e.Code !== ''
      ? e.Code
      : typeof e.code === 'string' && NETWORK_CODES.has(e.code)
        ? e.code
        : typeof e.name === 'string'
          ? e.name
          : 'Unknown';
  const fault = e.$fault === 'client' || e.$fault === 'server' ? e.$fault : undefined;
  return { name, ...(status === undefined ? {} : { status }), ...(fault === undefined ? {} : { fault }) };
}

export const describeAwsFailure = (f: AwsFailure): string => (f.status === undefined ? f.name : `${f.name} (HTTP ${f.status})`);

export function isThrottling(f: AwsFailure): boolean {
  return THROTTLING.has(f.name) || f.status === 429;
}

/** The AWS error code of an answer, e.g. to tell NoSuchEntity apart; undefined when nothing answered. */
export function awsErrorCode(err: unknown): string | undefined {
  const f = classifyAwsError(err);
  return f.status === undefined ? undefined : f.name;
}

/** The revocation policy cannot grow: IAM's inline-policy size quota (or policySizeLimit). */
export const policyQuotaExceeded = (detail: string): BrokerError => providerQuotaExceeded(detail);

export function toBrokerError(err: unknown, op: string): BrokerError {
  if (err instanceof BrokerError) return err;
  const f = classifyAwsError(err);
  const detail = `aws ${op}: ${describeAwsFailure(f)}`;
  if (f.status === undefined) {
    // The default credential chain found nothing (yet): a pod whose web identity token is not
    // mounted yet, an instance profile not attached. Retrying may help; the detail says where to look.
    if (f.name === 'CredentialsProviderError')
      return providerUnavailable(`${detail}: no AWS credentials for the broker from the default provider chain`);
    // Timeouts, resets, DNS: and whatever else failed before AWS answered is no answer either.
    return providerUnavailable(TRANSIENT_NETWORK.has(f.name) || NETWORK_CODES.has(f.name) ? detail : `${detail}: no answer`);
  }
  if (isThrottling(f) || f.fault === 'server' || f.status >= 500) return providerUnavailable(detail);
  if (f.name === 'LimitExceeded') return policyQuotaExceeded(`${detail}: the role's inline policies reached IAM's size quota`);
  // The broker's own session expired between the SDK's refreshes: the next call refreshes it.
  if (f.name === 'ExpiredToken' || f.name === 'ExpiredTokenException' || f.name === 'RequestExpired') return providerUnavailable(detail);
  return providerFailed(detail);
}
