/**
 * The audit log: one event per decision, appended to the store. Events carry ids, codes and
 * fingerprints, never credentials or tokens (docs/security.md §4). The sealer (sealer.ts) links
 * them into a hash chain after they are appended (docs/audit.md).
 *
 * `record` throws when the store cannot append: a decision that must be audited (an issuance, a
 * close, a revocation) does not stand unaudited. Callers that may repeat (at-least-once workers,
 * retried closes) pass a dedupe key so the event lands exactly once (within
 * `retention.auditDedupeSeconds`). `recordRefusal` is for refusals, where failing to audit must
 * not replace the refusal's own error. `recordRepeated` is for events that come at volume
 * (refused grant requests, introspections): within `retention.repeatWindowSeconds` one event per
 * kind is appended and the rest counted into one summary (store.ts countAudit); like a refusal, a
 * failed append is logged, not thrown.
 */
import { describeCause } from '../errors.js';
import type { Logger } from '../logging.js';
import type { AuditEvent, AuditEventInput, AuditValue } from '../model.js';
import type { AuditQuery, Store } from '../store/store.js';

export interface AuditLog {
  record(event: AuditEventInput, options?: { readonly dedupeKey?: string }): Promise<void>;
  recordRefusal(event: AuditEventInput): Promise<void>;
  /**
   * `kind` names what makes two events the same (composed by the caller from the type, actor,
   * incident, reason…); `summary` is the data the window's summary keeps (no per-request ids).
   */
  recordRepeated(event: AuditEventInput, kind: string, summary: Readonly<Record<string, AuditValue>>): Promise<void>;
  list(query: AuditQuery): Promise<AuditEvent[]>;
}

export interface AuditLogOptions {
  /** How long dedupe keys are remembered (the store's default when absent). */
  readonly dedupeSeconds?: number;
  /** The counting window of recordRepeated; 0 or absent appends every event. */
  readonly repeatWindowSeconds?: number;
}

export function createAuditLog(store: Store, logger: Logger, options: AuditLogOptions = {}): AuditLog {
  const dedupe = options.dedupeSeconds === undefined ? {} : { dedupeMs: options.dedupeSeconds * 1000 };
  const windowMs = (options.repeatWindowSeconds ?? 0) * 1000;
  const logFailure = (event: AuditEventInput, err: unknown): void => {
    logger.error(
      { audit: { type: event.type, incidentId: event.incidentId, reason: event.reason }, err: describeCause(err) },
      'audit append failed',
    );
  };
  return {
    async record(event, opts) {
      await store.appendAudit(event, opts?.dedupeKey === undefined ? {} : { dedupeKey: opts.dedupeKey, ...dedupe });
    },
    async recordRefusal(event) {
      try {
        await store.appendAudit(event);
      } catch (err) {
        logFailure(event, err);
      }
    },
    async recordRepeated(event, kind, summary) {
      try {
        if (windowMs > 0) await store.countAudit(event, { key: kind, windowMs, summary });
        else await store.appendAudit(event);
      } catch (err) {
        logFailure(event, err);
      }
    },
    list: (query) => store.listAudit(query),
  };
}
