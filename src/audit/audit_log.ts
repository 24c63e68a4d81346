/**
 * Audit v0: one event per decision, appended to the store. Events carry ids, codes and
 * fingerprints, never credentials or tokens (docs/security.md §4). A later issue chains them by hash.
 *
 * `record` throws when the store cannot append: a decision that must be audited (an issuance, a
 * close, a revocation) does not stand unaudited. Callers that may repeat (at-least-once workers,
 * retried closes) pass a dedupe key so the event lands exactly once. `recordRefusal` is for
 * refusals, where failing to audit must not replace the refusal's own error.
 */
import { describeCause } from '../errors.js';
import type { Logger } from '../logging.js';
import type { AuditEvent, AuditEventInput } from '../model.js';
import type { AuditQuery, Store } from '../store/store.js';

export interface AuditLog {
  record(event: AuditEventInput, options?: { readonly dedupeKey?: string }): Promise<void>;
  recordRefusal(event: AuditEventInput): Promise<void>;
  list(query: AuditQuery): Promise<AuditEvent[]>;
}

export function createAuditLog(store: Store, logger: Logger): AuditLog {
  return {
    async record(event, options) {
      await store.appendAudit(event, options);
    },
    async recordRefusal(event) {
      try {
        await store.appendAudit(event);
      } catch (err) {
        logger.error(
          { audit: { type: event.type, incidentId: event.incidentId, reason: event.reason }, err: describeCause(err) },
          'audit append failed',
        );
      }
    },
    list: (query) => store.listAudit(query),
  };
}
