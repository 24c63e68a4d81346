/**
 * The optional outbound notice of an overdue revocation (revocation.overdueNotification): when a
 * grant's revocation is escalated — past revocation.deadlineSeconds, or blocked at once by a full
 * provider quota — one signed JSON POST tells the on-call tooling (a Slack relay, a pager) which
 * grant, incident and provider, and why. Sent once per grant across every replica (a store
 * claim), signed as Standard Webhooks prescribe so the receiver can verify it with any Standard
 * Webhooks library. Best effort: a failed POST is logged and counted, never retried into the
 * worker's way; the audit event and the metric are the durable record.
 */
import type { Config } from '../config/schema.js';
import { describeCause } from '../errors.js';
import type { Logger } from '../logging.js';
import type { Grant } from '../model.js';
import { readSecretText } from '../secret_files.js';
import type { Store } from '../store/store.js';
import { postSigned } from '../webhooks/outbound.js';
import { standardWebhookKey } from '../webhooks/signatures.js';

export interface OverdueNotice {
  send(grant: Grant, details: { readonly code: string; readonly attempt: number; readonly blocked?: string }): Promise<void>;
}

/** How long a grant's notice is remembered as sent: past any revocation's life. */
const SENT_FOR_MS = 7 * 24 * 3600 * 1000;

export async function createOverdueNotice(
  config: Pick<Config, 'revocation' | 'mode'>,
  deps: { readonly store: Pick<Store, 'claimOnce'>; readonly logger: Logger; readonly now: () => number },
): Promise<OverdueNotice | null> {
  const cfg = config.revocation.overdueNotification;
  if (!cfg) return null;
  const key = standardWebhookKey(
    await readSecretText(cfg.secretFile, {
      setting: 'revocation.overdueNotification.secretFile',
      strictPermissions: config.mode !== 'development',
    }),
  );
  return {
    async send(grant, details) {
      const now = deps.now();
      if (!(await deps.store.claimOnce(`overdue-notice:${grant.id}`, now + SENT_FOR_MS, now))) return;
      const body = JSON.stringify({
        type: details.blocked === undefined ? 'revocation.overdue' : 'revocation.blocked',
        grant_id: grant.id,
        incident_id: grant.incidentId,
        provider: grant.provider,
        profile: grant.profile,
        agent: grant.agent,
        code: details.code,
        attempt: details.attempt,
        revoke_requested_at: new Date(grant.revokeRequestedAt ?? grant.createdAt).toISOString(),
        ...(details.blocked === undefined ? {} : { blocked: details.blocked }),
      });
      try {
        await postSigned(cfg.url, key, body, { timeoutMs: cfg.timeoutMs, now });
        deps.logger.info({ grantId: grant.id, incidentId: grant.incidentId }, 'overdue revocation notice sent');
      } catch (err) {
        deps.logger.warn(
          { grantId: grant.id, incidentId: grant.incidentId, err: describeCause(err) },
          'overdue revocation notice not delivered',
        );
      }
    },
  };
}
