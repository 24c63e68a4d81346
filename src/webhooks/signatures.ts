/**
 * Webhook signatures over the exact raw body (docs/security.md §2), checked before any JSON is
 * parsed. Every comparison is constant-time (`timingSafeEqual`, after a length check), and a
 * delivery is accepted if any one of its signatures is valid under any one of the source's
 * secrets, so a sender and the broker can rotate secrets without a gap.
 *
 *  - PagerDuty v3: `X-PagerDuty-Signature: v1=<hex>[,v1=<hex>…]`, each hex HMAC-SHA256(secret,
 *    body) (https://developer.pagerduty.com/docs/webhooks/webhook-signatures/). No signed
 *    timestamp: freshness is bounded by the event's `occurred_at` after parsing.
 *  - Standard Webhooks (incident.io, generic): `webhook-id`, `webhook-timestamp` (Unix seconds)
 *    and `webhook-signature: v1,<base64> [v1,<base64>…]`, each base64 HMAC-SHA256(key,
 *    `id.timestamp.body`), the key the base64 after `whsec_`; timestamps within ±tolerance
 *    (https://github.com/standard-webhooks/standard-webhooks/blob/main/spec/standard-webhooks.md).
 *    test/webhooks/signatures.test.ts proves this agrees with the `standardwebhooks` package.
 *
 * A malformed delivery (a header missing or unparsable) is 400 ERR_WEBHOOK_MALFORMED; a
 * well-formed one that does not verify, or whose timestamp is outside the window, is 401
 * ERR_WEBHOOK_SIGNATURE. Neither says which secret or signature was close.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { BrokerError } from '../errors.js';

export const malformed = (message: string): BrokerError => new BrokerError('ERR_WEBHOOK_MALFORMED', 400, message);
export const badSignature = (message: string): BrokerError => new BrokerError('ERR_WEBHOOK_SIGNATURE', 401, message);

const HEX = /^[0-9a-f]+$/iu;
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/u;
/** A Unix time in seconds, digits only (no sign, no fraction, no exponent). */
const UNIX_SECONDS = /^[0-9]{1,12}$/u;

/** True when `candidate` equals `expected`, in time independent of where they differ. */
function sameBytes(expected: Buffer, candidate: Buffer): boolean {
  return expected.length === candidate.length && timingSafeEqual(expected, candidate);
}

/** PagerDuty v3. `secrets` are the raw secret strings PagerDuty shows once. */
export function verifyPagerDutySignature(body: Buffer, header: string | undefined, secrets: readonly string[]): void {
  if (header === undefined || header.trim() === '') throw malformed('X-PagerDuty-Signature is missing');
  const signatures: Buffer[] = [];
  for (const part of header.split(',')) {
    const item = part.trim();
    const eq = item.indexOf('=');
    if (eq <= 0) throw malformed('X-PagerDuty-Signature is not a list of <version>=<signature>');
    const [version, value] = [item.slice(0, eq), item.slice(eq + 1)];
    if (version !== 'v1') continue; // a later scheme version: not ours to check
    if (value.length === 0 || value.length % 2 !== 0 || !HEX.test(value)) throw malformed('X-PagerDuty-Signature v1 value is not hex');
    signatures.push(Buffer.from(value, 'hex'));
  }
  if (signatures.length === 0) throw malformed('X-PagerDuty-Signature carries no v1 signature');
  const expected = secrets.map((secret) => createHmac('sha256', secret).update(body).digest());
  if (!signatures.some((sig) => expected.some((e) => sameBytes(e, sig)))) throw badSignature('no X-PagerDuty-Signature matches');
}

export interface StandardWebhookHeaders {
  readonly id: string | undefined;
  readonly timestamp: string | undefined;
  readonly signature: string | undefined;
}

/**
 * The HMAC key of a Standard Webhooks secret: the base64 after `whsec_` (a bare base64 secret is
 * accepted too, as the reference libraries do).
 */
export function standardWebhookKey(secret: string): Buffer {
  const b64 = secret.startsWith('whsec_') ? secret.slice('whsec_'.length) : secret;
  if (!BASE64.test(b64)) throw new Error('a Standard Webhooks secret is whsec_ followed by base64');
  return Buffer.from(b64, 'base64');
}

/** Standard Webhooks. `keys` from standardWebhookKey; `now` in ms; returns the verified delivery id. */
export function verifyStandardWebhook(
  body: Buffer,
  headers: StandardWebhookHeaders,
  keys: readonly Buffer[],
  now: number,
  toleranceSeconds: number,
): string {
  const { id, timestamp, signature } = headers;
  if (id === undefined || id === '') throw malformed('webhook-id is missing');
  if (timestamp === undefined || timestamp === '') throw malformed('webhook-timestamp is missing');
  if (signature === undefined || signature.trim() === '') throw malformed('webhook-signature is missing');
  if (!UNIX_SECONDS.test(timestamp)) throw malformed('webhook-timestamp is not a Unix time in seconds');
  const signatures: Buffer[] = [];
  for (const item of signature.trim().split(/ +/u)) {
    const comma = item.indexOf(',');
    if (comma <= 0) throw malformed('webhook-signature is not a list of <version>,<signature>');
    const [version, value] = [item.slice(0, comma), item.slice(comma + 1)];
    if (version !== 'v1') continue; // v1a (asymmetric) and later versions: not ours to check
    if (!BASE64.test(value)) throw malformed('webhook-signature v1 value is not base64');
    signatures.push(Buffer.from(value, 'base64'));
  }
  if (signatures.length === 0) throw malformed('webhook-signature carries no v1 signature');
  const seconds = Number(timestamp);
  if (Math.abs(now / 1000 - seconds) > toleranceSeconds) throw badSignature(`webhook-timestamp is more than ${toleranceSeconds}s away`);
  const content = Buffer.concat([Buffer.from(`${id}.${timestamp}.`), body]);
  const expected = keys.map((key) => createHmac('sha256', key).update(content).digest());
  if (!signatures.some((sig) => expected.some((e) => sameBytes(e, sig)))) throw badSignature('no webhook-signature matches');
  return id;
}
