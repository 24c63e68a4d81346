/**
 * Audit v0: one event per decision, appended to the store. Events carry ids, codes and
 * fingerprints, never credentials or tokens (SECURITY.md §4). A later issue chains them by hash.
 *
 * Recording never fails the caller's decision silently: a store failure is logged at error level
 * with the event's type and ids so an operator can reconcile, and rethrown only where asked.
 */
import type { Logger } from '../logging.js';
import type { AuditEvent, AuditEventInput } from '../model.js';
import type { AuditQuery, Store } from '../store/store.js';

export interface AuditLog {
  record(event: AuditEventInput): Promise<void>;
  list(query: AuditQuery): Promise<AuditEvent[]>;
}

export function createAuditLog(store: Store, logger: Logger): AuditLog {
  return {
    async record(event) {
      try {
        await store.appendAudit(event);
      } catch (err) {
        logger.error({ audit: { type: event.type, incidentId: event.incidentId, grantId: event.grantId }, err: errName(err) }, 'audit append failed');
      }
    },
    list: (query) => store.listAudit(query),
  };
}

const errName = (err: unknown): string => (err instanceof Error ? err.name : 'unknown');
