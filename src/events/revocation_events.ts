/**
 * Revocation events out (docs/deviation.md "Revocation events"): when a grant is revoked — its
 * incident closed, its agent released it, an operator quarantined its agent, policy flagged a
 * deviation, its break-glass ended — every configured receiver is told at once with a Security
 * Event Token (RFC 8417): a CAEP `session-revoked` event, signed with the broker's Ed25519 key
 * (`/.well-known/ssf-jwks.json`), pushed by RFC 8935 (`POST`, `application/secevent+jwt`, 202).
 * An MCP server or internal API that accepted a broker-signed token offline can then drop it: the
 * subject is the grant id, which is the `jti` (and `grant` claim) of every broker-signed token.
 *
 * Durable: the revocation worker queues one delivery per receiver and grant in the store's
 * delivery queue (the webhook inbox's, source `set:<receiver>`, deduplicated) before the grant
 * ends, so a crash re-queues nothing twice and loses nothing; any replica's worker delivers,
 * retries with the revocation backoff while the receiver is down, and gives up after
 * `events.giveUpSeconds` with an audit event. A 400 (the receiver refused this SET as invalid,
 * RFC 8935 §2.3) is never resent. The SET's `jti` is stable per grant and receiver, so a receiver
 * seeing one twice (a redelivery after a lost 202) can tell.
 */
import { join } from 'node:path';
import type { Config } from '../config/schema.js';
import { describeCause } from '../errors.js';
import type { Logger } from '../logging.js';
import type { Metrics } from '../metrics.js';
import type { AuditLog } from '../audit/audit_log.js';
import { loadEd25519Signer, type Ed25519Signer } from '../audit/checkpoints.js';
import type { Grant, RevokeReason } from '../model.js';
import { backoffDelayMs } from '../revocation/backoff.js';
import { readSecretText } from '../secret_files.js';
import type { InboxClaim, Store } from '../store/store.js';

export const SET_TYP = 'secevent+jwt';
export const SESSION_REVOKED = 'https://schemas.openid.net/secevent/caep/event-type/session-revoked';
/** RFC 8935: the push delivery method, as SSF names it. */
export const PUSH_DELIVERY = 'urn:ietf:rfc:8935';
const SOURCE_PREFIX = 'set:';

export interface RevocationEvents {
  /** Queues one SET per receiver for a grant that was revoked at `at`. Durable once it resolves. */
  revoked(grant: Grant, at: number): Promise<void>;
  /** Whether a queued delivery is one of these (its source). */
  owns(source: string): boolean;
  /** Pushes one queued SET, then finishes, reschedules or drops it. Never throws. */
  deliver(claim: InboxClaim): Promise<void>;
  /** The keys SETs verify with (`/.well-known/ssf-jwks.json`). */
  jwks(): { keys: readonly Readonly<Record<string, string>>[] };
  /** The transmitter metadata (`/.well-known/ssf-configuration`, SSF §7.1). */
  configuration(): Record<string, unknown>;
}

/** What the queue keeps per SET: the facts, not the signed token (signed at each attempt, fresh `iat`). */
interface QueuedEvent {
  readonly receiver: string;
  readonly grantId: string;
  readonly incidentId: string;
  readonly agent: string;
  readonly profile: string;
  readonly provider: string;
  readonly reason: RevokeReason | 'revoked';
  readonly revokedAt: number;
}

/** Who set the revocation off, in CAEP's terms. */
export function initiatingEntity(reason: QueuedEvent['reason']): 'admin' | 'user' | 'policy' | 'system' {
  switch (reason) {
    case 'released':
      return 'user';
    case 'incident_closed':
    case 'operator':
    case 'quarantined':
      return 'admin';
    case 'deviation':
    case 'break_glass_ended':
      return 'policy';
    default:
      return 'system';
  }
}

const REASON_TEXT: Record<string, string> = {
  released: 'the agent released the grant',
  incident_closed: 'the incident closed',
  operator: 'an operator revoked the grant',
  quarantined: 'an operator quarantined the agent',
  deviation: 'policy flagged the agent for deviating from its task',
  break_glass_ended: 'major-incident mode ended',
  undelivered: 'the credential was never delivered',
};

/** The SET's claims for one queued event (RFC 8417 §2.2, CAEP §3.1). */
export function setClaims(event: QueuedEvent, receiverAudience: string, issuer: string, now: number): Record<string, unknown> {
  return {
    iss: issuer,
    iat: Math.floor(now / 1000),
    jti: `set-${event.receiver}-${event.grantId}`,
    aud: receiverAudience,
    txn: event.incidentId,
    sub_id: { format: 'opaque', id: event.grantId },
    events: {
      [SESSION_REVOKED]: {
        event_timestamp: Math.floor(event.revokedAt / 1000),
        initiating_entity: initiatingEntity(event.reason),
        reason_admin: { en: REASON_TEXT[event.reason] ?? 'the grant was revoked' },
        // Beside CAEP's claims (receivers ignore what they do not know): what the broker revoked.
        grant_id: event.grantId,
        incident_id: event.incidentId,
        agent: event.agent,
        profile: event.profile,
        provider: event.provider,
        reason: event.reason,
      },
    },
  };
}

export interface RevocationEventsDeps {
  readonly store: Pick<Store, 'recordDelivery' | 'finishDelivery' | 'retryDelivery'>;
  readonly audit: Pick<AuditLog, 'record'>;
  readonly metrics: Pick<Metrics, 'revocationEvents'>;
  readonly logger: Logger;
  readonly now: () => number;
  /** The broker's public URL: the SETs' `iss`. */
  readonly publicUrl: () => string;
}

export async function createRevocationEvents(config: Config, deps: RevocationEventsDeps): Promise<RevocationEvents | null> {
  const cfg = config.events;
  if (cfg.receivers.length === 0) return null;
  const devMode = config.mode === 'development';
  const signer: Ed25519Signer = await loadEd25519Signer({
    keyFile: cfg.keyFile ?? join(config.devIssuer?.keyDir ?? 'var/dev', 'set-signing.jwk'),
    previousPublicKeyFiles: cfg.previousPublicKeyFiles,
    generateIfMissing: devMode && cfg.keyFile === undefined,
    strictPermissions: !devMode,
    logger: deps.logger,
    setting: 'events.keyFile',
    previousSetting: 'events.previousPublicKeyFiles',
    purpose: 'revocation event (SET) signing',
  });
  const receivers = new Map(
    await Promise.all(
      cfg.receivers.map(async (r) => {
        const authorization =
          r.authorizationFile === undefined
            ? undefined
            : await readSecretText(r.authorizationFile, {
                setting: `events.receivers.${r.name}.authorizationFile`,
                strictPermissions: !devMode,
              });
        return [r.name, { ...r, authorization }] as const;
      }),
    ),
  );
  const { backoffInitialMs, backoffMaxMs } = config.revocation;

  const giveUp = async (event: QueuedEvent, why: string): Promise<void> => {
    deps.metrics.revocationEvents.inc({ receiver: event.receiver, outcome: why === 'rejected' ? 'rejected' : 'gave_up' });
    deps.logger.error({ receiver: event.receiver, grantId: event.grantId, why }, 'revocation event not delivered; dropped');
    await deps.audit.record(
      {
        at: deps.now(),
        type: 'revocation.event_undelivered',
        actor: 'quartermaster',
        incidentId: event.incidentId,
        grantId: event.grantId,
        profile: event.profile,
        reason: why,
        data: { receiver: event.receiver },
      },
      { dedupeKey: `revocation.event_undelivered:${event.receiver}:${event.grantId}` },
    );
  };

  return {
    async revoked(grant, at) {
      for (const name of receivers.keys()) {
        const event: QueuedEvent = {
          receiver: name,
          grantId: grant.id,
          incidentId: grant.incidentId,
          agent: grant.agent,
          profile: grant.profile,
          provider: grant.provider,
          reason: grant.revokeReason ?? 'revoked',
          revokedAt: at,
        };
        await deps.store.recordDelivery(
          { source: `${SOURCE_PREFIX}${name}`, deliveryId: grant.id, receivedAt: at, event: { ...event } },
          { dedupeMs: cfg.giveUpSeconds * 2000, now: at },
        );
      }
    },
    owns: (source) => source.startsWith(SOURCE_PREFIX),
    async deliver({ delivery, attempt }) {
      const event = delivery.event as unknown as QueuedEvent;
      const receiver = receivers.get(event.receiver);
      const finish = () => deps.store.finishDelivery(delivery.source, delivery.deliveryId);
      try {
        if (!receiver) {
          // A receiver removed from the config since: nobody to tell.
          await finish();
          return;
        }
        const jws = signer.signJws(setClaims(event, receiver.audience, deps.publicUrl(), deps.now()), SET_TYP);
        const res = await fetch(receiver.url, {
          method: 'POST',
          headers: {
            'content-type': 'application/secevent+jwt',
            accept: 'application/json',
            ...(receiver.authorization === undefined ? {} : { authorization: `Bearer ${receiver.authorization}` }),
          },
          body: jws,
          redirect: 'manual',
          signal: AbortSignal.timeout(receiver.timeoutMs),
        });
        await res.body?.cancel();
        if (res.ok) {
          deps.metrics.revocationEvents.inc({ receiver: event.receiver, outcome: 'delivered' });
          await finish();
          return;
        }
        // RFC 8935 §2.3: a 400 says this SET is invalid for the receiver; resending it cannot help.
        if (res.status === 400) {
          await giveUp(event, 'rejected');
          await finish();
          return;
        }
        throw new Error(`HTTP ${res.status}`);
      } catch (err) {
        const now = deps.now();
        if (now - event.revokedAt >= cfg.giveUpSeconds * 1000) {
          await giveUp(event, 'gave_up').catch(() => undefined);
          await finish().catch(() => undefined);
          return;
        }
        deps.metrics.revocationEvents.inc({ receiver: event.receiver, outcome: 'retried' });
        deps.logger.warn(
          { receiver: event.receiver, grantId: event.grantId, attempt, err: describeCause(err) },
          'revocation event not delivered; will retry',
        );
        await deps.store
          .retryDelivery(delivery.source, delivery.deliveryId, now + backoffDelayMs(attempt, backoffInitialMs, backoffMaxMs))
          .catch(() => undefined); // the lease ends on its own; the delivery comes back then
      }
    },
    jwks: () => ({ keys: signer.publicKeys.map((k) => k.jwk) }),
    configuration: () => {
      const issuer = deps.publicUrl();
      return {
        spec_version: '1_0',
        issuer,
        jwks_uri: `${issuer}/.well-known/ssf-jwks.json`,
        delivery_methods_supported: [PUSH_DELIVERY],
        events_supported: [SESSION_REVOKED],
      };
    },
  };
}
