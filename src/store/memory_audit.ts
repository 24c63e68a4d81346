/** The audit log in memory (store.ts AuditStore): one array in seq order, deduplicated appends. */
import type { AuditEvent, AuditEventInput } from '../model.js';
import { copy } from './memory_state.js';
import type { AuditStore } from './store.js';

export function createMemoryAudit(): AuditStore {
  const audit: AuditEvent[] = [];
  const auditByDedupeKey = new Map<string, AuditEvent>();
  let seq = 0;
  return {
    async appendAudit(event: AuditEventInput, options?: { readonly dedupeKey?: string }) {
      const earlier = options?.dedupeKey === undefined ? undefined : auditByDedupeKey.get(options.dedupeKey);
      if (earlier) return copy(earlier);
      seq += 1;
      const stored: AuditEvent = { seq, ...copy(event) };
      audit.push(stored);
      if (options?.dedupeKey !== undefined) auditByDedupeKey.set(options.dedupeKey, stored);
      return copy(stored);
    },

    async listAudit(query) {
      if (query.limit <= 0) return [];
      const after = query.afterSeq ?? -Infinity;
      const out: AuditEvent[] = [];
      for (const event of audit) {
        if (event.seq <= after) continue;
        if (query.incidentId !== undefined && event.incidentId !== query.incidentId) continue;
        out.push(copy(event));
        if (out.length >= query.limit) break;
      }
      return out;
    },
  };
}
