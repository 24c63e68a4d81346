/**
 * Signed outbound notices (revocation.overdueNotification, approvals.notify): one JSON POST,
 * signed as Standard Webhooks prescribe (`webhook-id`, `webhook-timestamp`, `webhook-signature:
 * v1,<base64 HMAC-SHA256 of "id.timestamp.body">`), so the receiver verifies it with any Standard
 * Webhooks library. No redirect is followed; the call is bounded by `timeoutMs`.
 */
import { createHmac, randomBytes } from 'node:crypto';

export async function postSigned(
  url: string,
  key: Buffer,
  body: string,
  options: { readonly timeoutMs: number; readonly now: number },
): Promise<void> {
  const id = `msg_${randomBytes(12).toString('base64url')}`;
  const timestamp = String(Math.floor(options.now / 1000));
  const signature = `v1,${createHmac('sha256', key).update(`${id}.${timestamp}.${body}`).digest('base64')}`;
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'webhook-id': id, 'webhook-timestamp': timestamp, 'webhook-signature': signature },
    body,
    redirect: 'manual',
    signal: AbortSignal.timeout(options.timeoutMs),
  });
  await res.body?.cancel();
  if (!res.ok) throw new Error(`HTTP ${res.status}`);
}
