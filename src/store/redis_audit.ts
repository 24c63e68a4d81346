/**
 * The audit log on Redis (store.ts AuditStore): the `{audit}` slot holds the counter, the log, the
 * dedupe hashes, the counted windows and the per-incident indexes.
 */
import type { AuditEvent, AuditEventInput } from '../model.js';
import { requireFinite, toStoredJson } from './redis_codec.js';
import type { RedisContext } from './redis_context.js';
import { decodeChainHead, DEFAULT_AUDIT_DEDUPE_MS, encodeChainHead, type AuditChainStore, type AuditStore } from './store.js';

export function createRedisAudit(ctx: RedisContext): AuditStore & AuditChainStore {
  const { redis, keys, s } = ctx;
  const incidentIndex = (event: AuditEventInput): string => keys.incidentAudit(event.incidentId ?? '');
  const belongs = (event: AuditEventInput): string => (event.incidentId === undefined ? '0' : '1');
  return {
    // One script appends to the global log and, for an incident's event, its seq to the
    // incident's index (both in the {audit} slot), deduplicated by the caller's key in this
    // generation's hash or the previous one's. A generation lives two retentions from its start.
    async appendAudit(event, options) {
      const dedupeMs = Math.max(1, Math.floor(options?.dedupeMs ?? DEFAULT_AUDIT_DEDUPE_MS));
      const generation = Math.floor(requireFinite(event.at, 'at') / dedupeMs);
      const text = (await s.qmAppendAudit(
        keys.auditSeq,
        keys.auditLog,
        keys.auditDedupe(dedupeMs, generation),
        keys.auditDedupe(dedupeMs, generation - 1),
        incidentIndex(event),
        toStoredJson(event),
        options?.dedupeKey ?? '',
        belongs(event),
        Math.max(1, (generation + 2) * dedupeMs - event.at),
      )) as string;
      return JSON.parse(text) as AuditEvent;
    },

    async countAudit(event, options) {
      const template = {
        type: event.type,
        actor: event.actor,
        ...(event.incidentId === undefined ? {} : { incidentId: event.incidentId }),
        ...(event.profile === undefined ? {} : { profile: event.profile }),
        ...(event.reason === undefined ? {} : { reason: event.reason }),
        data: options.summary,
      };
      const text = (await s.qmCountAudit(
        keys.auditSeq,
        keys.auditLog,
        keys.auditCounts,
        keys.auditCountsDue,
        incidentIndex(event),
        toStoredJson(event),
        options.key,
        requireFinite(event.at, 'at'),
        Math.max(1, Math.floor(options.windowMs)),
        belongs(event),
        // The scripts decode it with cjson, which refuses a lone surrogate's escape (redis_codec.ts).
        toStoredJson(template),
      )) as string | null;
      return text === null ? null : (JSON.parse(text) as AuditEvent);
    },

    async flushAuditCounts(now, limit) {
      if (limit <= 0) return 0;
      return Number(
        await s.qmFlushAuditCounts(keys.auditSeq, keys.auditLog, keys.auditCounts, keys.auditCountsDue, requireFinite(now, 'now'), limit),
      );
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

    async getAuditChainHead() {
      const text = await redis.get(keys.auditChainHead);
      return text === null ? null : decodeChainHead(text);
    },

    async sealAudit(expected, links, head, checkpoint) {
      for (const link of links) requireFinite(link.seq, 'seq');
      const sealed = await s.qmSealAudit(
        keys.auditChainHead,
        keys.auditLinks,
        keys.auditCheckpoints,
        expected === null ? '' : encodeChainHead(expected),
        encodeChainHead(head),
        checkpoint ? String(requireFinite(checkpoint.seq, 'checkpoint seq')) : '',
        checkpoint?.jws ?? '',
        ...links.flatMap((l) => [String(l.seq), l.hash]),
      );
      return Number(sealed) === 1;
    },

    async getAuditLinks(from, to) {
      const out = new Map<number, string>();
      if (to < from) return out;
      const seqs = Array.from({ length: to - from + 1 }, (_, i) => String(from + i));
      const values = await redis.hmget(keys.auditLinks, ...seqs);
      values.forEach((v, i) => {
        if (v !== null) out.set(from + i, v);
      });
      return out;
    },

    async listAuditCheckpoints(afterSeq, limit) {
      if (limit <= 0) return [];
      const rows = await redis.zrangebyscore(keys.auditCheckpoints, `(${afterSeq}`, '+inf', 'WITHSCORES', 'LIMIT', 0, limit);
      const out = [];
      for (let i = 0; i < rows.length; i += 2) out.push({ jws: rows[i] as string, seq: Number(rows[i + 1]) });
      return out;
    },

    async lastAuditSeq() {
      return Number((await redis.get(keys.auditSeq)) ?? 0);
    },
  };
}
