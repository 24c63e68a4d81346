/**
 * The audit log on Redis (store.ts AuditStore): the `{audit}` slot holds the counter, the log, the
 * dedupe hash and the per-incident indexes.
 */
import type { AuditEvent } from '../model.js';
import type { RedisContext } from './redis_context.js';
import type { AuditStore } from './store.js';

export function createRedisAudit(ctx: RedisContext): AuditStore {
  const { redis, keys, s } = ctx;
  return {
    // One script appends to the global log and, for an incident's event, its seq to the
    // incident's index (both in the {audit} slot), deduplicated by the caller's key.
    async appendAudit(event, options) {
      const incidentIndex = keys.incidentAudit(event.incidentId ?? '');
      const text = (await s.qmAppendAudit(
        keys.auditSeq,
        keys.auditLog,
        keys.auditDedupe,
        incidentIndex,
        JSON.stringify(event),
        options?.dedupeKey ?? '',
        event.incidentId === undefined ? '0' : '1',
      )) as string;
      return JSON.parse(text) as AuditEvent;
    },

    async listAudit(query) {
      if (query.limit <= 0) return [];
      const min = query.afterSeq === undefined ? '-inf' : `(${query.afterSeq}`;
      const rows =
        query.incidentId === undefined
          ? await redis.zrangebyscore(keys.auditLog, min, '+inf', 'LIMIT', 0, query.limit)
          : ((await s.qmListIncidentAudit(keys.incidentAudit(query.incidentId), keys.auditLog, min, query.limit)) as string[]);
      return rows.map((row) => JSON.parse(row) as AuditEvent);
    },
  };
}
