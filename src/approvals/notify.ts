/**
 * Approvers hear of a request (approvals.notify, docs/approvals.md "Notifications"): one signed,
 * Slack-compatible JSON POST per approval request — `text` and `blocks` for a Slack incoming
 * webhook or relay, and `quartermaster` with the fields for a bot: agent, incident, profile, tier,
 * scope, TTL, the agent's stated purpose, how many approvals are needed from which roles, and a
 * link. Best effort and off the request path: a failure is logged; GET /v1/approvals is the record.
 * Agent-supplied text is escaped for Slack's mrkdwn (`&`, `<`, `>`), so a purpose cannot ping
 * a channel or forge a link.
 */
import type { Config } from '../config/schema.js';
import { describeCause } from '../errors.js';
import type { Logger } from '../logging.js';
import { readSecretText } from '../secret_files.js';
import { postSigned } from '../webhooks/outbound.js';
import { standardWebhookKey } from '../webhooks/signatures.js';
import type { Approval } from './approval.js';

export interface ApprovalNotifier {
  /** Sends the notice in the background; never throws. */
  requested(approval: Approval): void;
}

/** Slack mrkdwn control characters (https://api.slack.com/reference/surfaces/formatting#escaping). */
export const slackText = (text: string): string => text.replace(/&/gu, '&amp;').replace(/</gu, '&lt;').replace(/>/gu, '&gt;');

export function approvalNotice(approval: Approval, link: string | undefined): Record<string, unknown> {
  const e = slackText;
  const ttl = `${Math.round(approval.ttlSeconds / 60)} min`;
  const summary =
    `Approval needed: ${e(approval.agent)} asks for ${e(approval.profile)} (${e(approval.tier)}, ${e(approval.provider)}) ` +
    `in ${e(approval.incidentId)} for ${ttl}. Purpose: ${e(approval.purpose)}`;
  return {
    text: summary,
    blocks: [
      { type: 'section', text: { type: 'mrkdwn', text: `*Approval needed* in *${e(approval.incidentId)}*` } },
      {
        type: 'section',
        fields: [
          { type: 'mrkdwn', text: `*Agent*\n${e(approval.agent)}` },
          { type: 'mrkdwn', text: `*Profile*\n${e(approval.profile)} (${e(approval.tier)})` },
          { type: 'mrkdwn', text: `*TTL*\n${ttl}` },
          { type: 'mrkdwn', text: `*Needs*\n${approval.rule.quorum} of ${e(approval.rule.approvers.join(', '))}` },
        ],
      },
      { type: 'section', text: { type: 'mrkdwn', text: `*Purpose (the agent's words)*\n${e(approval.purpose)}` } },
      {
        type: 'context',
        elements: [
          { type: 'mrkdwn', text: `Scope: ${e(JSON.stringify(approval.scope))}` },
          { type: 'mrkdwn', text: `Expires ${new Date(approval.expiresAt).toISOString()}${link ? ` · <${link}|${e(approval.id)}>` : ''}` },
        ],
      },
    ],
    quartermaster: {
      type: 'approval.requested',
      approval_id: approval.id,
      incident_id: approval.incidentId,
      agent: approval.agent,
      profile: approval.profile,
      provider: approval.provider,
      tier: approval.tier,
      scope: approval.scope,
      ttl_seconds: approval.ttlSeconds,
      purpose: approval.purpose,
      quorum: approval.rule.quorum,
      approvers: approval.rule.approvers,
      expires_at: new Date(approval.expiresAt).toISOString(),
      ...(link ? { link } : {}),
    },
  };
}

export async function createApprovalNotifier(
  config: Pick<Config, 'approvals' | 'mode' | 'server'>,
  deps: { readonly logger: Logger; readonly now: () => number },
): Promise<ApprovalNotifier | null> {
  const cfg = config.approvals.notify;
  if (!cfg) return null;
  const key = standardWebhookKey(
    await readSecretText(cfg.secretFile, { setting: 'approvals.notify.secretFile', strictPermissions: config.mode !== 'development' }),
  );
  const base = config.server.publicUrl?.replace(/\/+$/u, '');
  return {
    requested(approval) {
      const link = base === undefined ? undefined : `${base}/v1/approvals/${approval.id}`;
      const body = JSON.stringify(approvalNotice(approval, link));
      postSigned(cfg.url, key, body, { timeoutMs: cfg.timeoutMs, now: deps.now() }).then(
        () => deps.logger.info({ approvalId: approval.id, incidentId: approval.incidentId }, 'approval notice sent'),
        (err: unknown) =>
          deps.logger.warn(
            { approvalId: approval.id, incidentId: approval.incidentId, err: describeCause(err) },
            'approval notice not delivered',
          ),
      );
    },
  };
}
