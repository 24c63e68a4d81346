/**
 * What core checks at the provider boundary (spire-style: a provider bug is caught here, not
 * handed to an agent) and how provider failures become broker errors.
 */
import { BrokerError, describeCause, isBrokerError } from '../errors.js';
import { providerFailed, providerUnavailable, type IssuedCredential } from '../sdk.js';

/** Clock skew tolerated between the provider's expiry and ours. */
const EXPIRY_SKEW_MS = 2000;

export function checkIssued(provider: string, issued: IssuedCredential, ttlSeconds: number, now: number): void {
  const fail = (why: string): never => {
    throw providerFailed(`provider(${provider}): issue returned ${why}`);
  };
  if (!Number.isFinite(issued.expiresAt) || issued.expiresAt <= now) fail('an already-expired credential');
  if (issued.expiresAt > now + ttlSeconds * 1000 + EXPIRY_SKEW_MS) fail(`a credential outliving its ${ttlSeconds}s TTL`);
  if (typeof issued.handle !== 'object' || issued.handle === null || Array.isArray(issued.handle)) fail('no revocation handle');
  for (const field of issued.secretFields) {
    const value = issued.credential[field];
    if (value === undefined) fail(`no value for secret field ${field}`);
    // The handle is stored and shown to operators; a secret inside it would leak (guarantee 5).
    if (String(value).length >= 8 && JSON.stringify(issued.handle).includes(String(value))) fail('a secret inside the revocation handle');
  }
}

/** Subject formats core itself resolves (a signal's subject); no provider may declare one of these. */
export const CORE_SUBJECT_FORMATS = ['agent', 'grant_id', 'jti'] as const;
const SUBJECT_FORMAT = /^[a-z][a-z0-9_]{0,31}$/u;

/** Whether a provider's declared subject format is one it may declare. */
export const isProviderSubjectFormat = (format: string): boolean =>
  SUBJECT_FORMAT.test(format) && !(CORE_SUBJECT_FORMATS as readonly string[]).includes(format);

/**
 * The issued credential's subjects (model.ts Grant.subjects), `<format>:<value>`, from the handle
 * fields the provider declared (ProviderCapabilities.subjects). A declared field the handle lacks
 * is a provider bug, caught here before anything is committed.
 */
export function subjectsOf(
  provider: string,
  declared: Readonly<Record<string, string>> | undefined,
  handle: IssuedCredential['handle'],
): string[] {
  const subjects: string[] = [];
  for (const [format, field] of Object.entries(declared ?? {})) {
    const value = handle[field];
    if (typeof value !== 'string' || value === '' || value.length > 1024)
      throw providerFailed(`provider(${provider}): issue returned a handle without its ${format} subject (field ${field})`);
    subjects.push(`${format}:${value}`);
  }
  return subjects;
}

export function wrapProviderError(provider: string, op: string, err: unknown, timedOut: boolean): BrokerError {
  if (timedOut) return providerUnavailable(`provider(${provider}): ${op} timed out`, err);
  if (isBrokerError(err)) {
    return new BrokerError(err.code, err.status, err.message, {
      detail: `provider(${provider}): ${op}: ${err.detail ?? err.message}`,
      cause: err,
    });
  }
  return providerFailed(`provider(${provider}): ${op}: ${describeCause(err)}`, err);
}
