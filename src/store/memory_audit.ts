/**
 * The audit log in memory (store.ts AuditStore): one array in seq order, deduplicated appends
 * (dedupe keys kept in generations, like the Redis store's), and counted windows of repeating
 * events.
 */
import type { AuditEvent, AuditEventInput, AuditValue } from '../model.js';
import { copy } from './memory_state.js';
import { toStoredJson } from './redis_codec.js';
import {
  DEFAULT_AUDIT_DEDUPE_MS,
  encodeChainHead,
  type AuditChainHead,
  type AuditChainStore,
  type AuditCheckpointRecord,
  type AuditStore,
} from './store.js';

/** An open window of a counted key: its first event, and how many more came before it ends. */
interface CountWindow {
  readonly first: AuditEvent;
  readonly endsAt: number;
  readonly summary: Readonly<Record<string, AuditValue>>;
  repeats: number;
  lastAt: number;
}

export function createMemoryAudit(): AuditStore & AuditChainStore {
  /** In seq order: the event of seq n is at n - 1. */
  const audit: AuditEvent[] = [];
  const links = new Map<number, string>();
  const checkpoints: AuditCheckpointRecord[] = [];
  let head: AuditChainHead | null = null;
  /** Dedupe retention → generation → dedupe key → the event appended with it. */
  const dedupe = new Map<number, Map<number, Map<string, AuditEvent>>>();
  const windows = new Map<string, CountWindow>();
  let seq = 0;

  const append = (event: AuditEventInput): AuditEvent => {
    seq += 1;
    // Strings made well-formed as the Redis store stores them (redis_codec.ts): the chain hashes what is stored.
    const stored: AuditEvent = { seq, ...(JSON.parse(toStoredJson(event)) as AuditEventInput) };
    audit.push(stored);
    return stored;
  };

  /** The summary of a window that counted anything (store.ts countAudit). */
  const close = (key: string, window: CountWindow): void => {
    windows.delete(key);
    if (window.repeats === 0) return;
    const { first } = window;
    append({
      at: window.lastAt,
      type: first.type,
      actor: first.actor,
      ...(first.incidentId === undefined ? {} : { incidentId: first.incidentId }),
      ...(first.profile === undefined ? {} : { profile: first.profile }),
      ...(first.reason === undefined ? {} : { reason: first.reason }),
      data: { ...window.summary, repeats: window.repeats, of: first.seq },
    });
  };

  /** The generations of one retention that may still hold a key remembered at `at`; older ones are dropped. */
  const generations = (dedupeMs: number, at: number): [Map<string, AuditEvent>, Map<string, AuditEvent> | undefined] => {
    const gen = Math.floor(at / dedupeMs);
    const byGen = dedupe.get(dedupeMs) ?? new Map<number, Map<string, AuditEvent>>();
    dedupe.set(dedupeMs, byGen);
    for (const old of byGen.keys()) if (old < gen - 1) byGen.delete(old);
    const current = byGen.get(gen) ?? new Map<string, AuditEvent>();
    byGen.set(gen, current);
    return [current, byGen.get(gen - 1)];
  };

  return {
    async appendAudit(event, options) {
      if (options?.dedupeKey === undefined) return copy(append(event));
      const [current, previous] = generations(options.dedupeMs ?? DEFAULT_AUDIT_DEDUPE_MS, event.at);
      const earlier = current.get(options.dedupeKey) ?? previous?.get(options.dedupeKey);
      if (earlier) return copy(earlier);
      const stored = append(event);
      current.set(options.dedupeKey, stored);
      return copy(stored);
    },

    async countAudit(event, options) {
      const open = windows.get(options.key);
      if (open && event.at < open.endsAt) {
        open.repeats += 1;
        open.lastAt = Math.max(open.lastAt, event.at);
        return null;
      }
      if (open) close(options.key, open);
      const first = append(event);
      windows.set(options.key, {
        first,
        endsAt: event.at + options.windowMs,
        summary: copy(options.summary),
        repeats: 0,
        lastAt: event.at,
      });
      return copy(first);
    },

    async flushAuditCounts(now, limit) {
      const due = [...windows.entries()]
        .filter(([, w]) => w.endsAt <= now)
        .sort(([, a], [, b]) => a.endsAt - b.endsAt)
        .slice(0, Math.max(0, limit));
      for (const [key, window] of due) close(key, window);
      return due.length;
    },

    async listAudit(query) {
      if (query.limit <= 0) return [];
      const after = query.afterSeq ?? -Infinity;
      const out: AuditEvent[] = [];
      // Seqs are the positions: the whole log's page starts right after `after`.
      const from = query.incidentId === undefined ? Math.max(0, Math.min(audit.length, Math.floor(after))) : 0;
      for (const event of audit.slice(from)) {
        if (event.seq <= after) continue;
        if (query.incidentId !== undefined && event.incidentId !== query.incidentId) continue;
        out.push(copy(event));
        if (out.length >= query.limit) break;
      }
      return out;
    },

    async getAuditChainHead() {
      return head === null ? null : { ...head };
    },

    async sealAudit(expected, newLinks, newHead, checkpoint) {
      if ((head === null ? '' : encodeChainHead(head)) !== (expected === null ? '' : encodeChainHead(expected))) return false;
      for (const link of newLinks) links.set(link.seq, link.hash);
      head = { ...newHead };
      if (checkpoint) checkpoints.push({ ...checkpoint });
      return true;
    },

    async getAuditLinks(from, to) {
      const out = new Map<number, string>();
      for (let n = from; n <= to; n += 1) {
        const link = links.get(n);
        if (link !== undefined) out.set(n, link);
      }
      return out;
    },

    async listAuditCheckpoints(afterSeq, limit) {
      return checkpoints
        .filter((c) => c.seq > afterSeq)
        .slice(0, Math.max(0, limit))
        .map((c) => ({ ...c }));
    },

    async lastAuditSeq() {
      return seq;
    },
  };
}
