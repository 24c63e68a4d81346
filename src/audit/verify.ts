/**
 * Verifying the audit chain (docs/audit.md "Verifying"), in the store (GET /v1/audit/verify) and
 * in an export (quartermaster audit verify), with the same walk (chain.ts verifyChain), and the
 * NDJSON export both read:
 *
 *     {"type":"event","event":{…},"link":"…"}        one per event, in seq order ("link" once sealed)
 *     {"type":"checkpoint","seq":N,"jws":"…"}        after the event it signs
 *
 * A SIEM ingests the `event` lines; the verifier needs the checkpoints and the public key(s).
 */
import type { AuditEvent } from '../model.js';
import type { Store } from '../store/store.js';
import { verifyChain, type ChainEntry, type ChainVerdict, type CheckpointClaim } from './chain.js';
import { readCheckpoint, type PublicCheckpointKey } from './checkpoints.js';

/** Events read from the store per page. */
const PAGE = 1000;

type ChainReader = Pick<Store, 'listAudit' | 'getAuditLinks' | 'listAuditCheckpoints' | 'lastAuditSeq' | 'getAuditChainHead'>;

/** Every checkpoint in the store, oldest first. */
async function allCheckpoints(store: ChainReader): Promise<{ seq: number; jws: string }[]> {
  const out: { seq: number; jws: string }[] = [];
  for (;;) {
    const page = await store.listAuditCheckpoints(out.at(-1)?.seq ?? 0, PAGE);
    out.push(...page);
    if (page.length < PAGE) return out;
  }
}

/** The events after `afterSeq` with their stored links, page by page. */
async function* storedEntries(store: ChainReader, afterSeq = 0): AsyncGenerator<ChainEntry> {
  let after = afterSeq;
  for (;;) {
    const events = await store.listAudit({ afterSeq: after, limit: PAGE });
    if (events.length === 0) return;
    const first = events[0] as AuditEvent;
    const last = events.at(-1) as AuditEvent;
    const links = await store.getAuditLinks(Math.min(first.seq, after + 1), last.seq);
    for (const event of events) {
      const hash = links.get(event.seq);
      yield hash === undefined ? { event } : { event, hash };
    }
    after = last.seq;
    if (events.length < PAGE) return;
  }
}

export interface StoredChainVerdict extends ChainVerdict {
  /** Checkpoints in the store, and how many of them did not verify. */
  readonly checkpoints: number;
  /** Events the log counted beyond the last sealed link. */
  readonly unsealed: number;
}

/** Walks the whole log in the store from seq 1. */
export async function verifyStoredChain(store: ChainReader, keys: readonly PublicCheckpointKey[]): Promise<StoredChainVerdict> {
  const records = await allCheckpoints(store);
  const claims = records.map((r) => readCheckpoint(r.jws, keys, r.seq));
  // A checkpoint whose payload names another seq than its score was moved: it proves nothing there.
  const placed = claims.map((c, i) =>
    c.invalid === undefined && c.seq !== records[i]?.seq ? { ...c, invalid: 'it is stored at another seq than it signs' } : c,
  );
  const expectThrough = await store.lastAuditSeq();
  const linkedThrough = (await store.getAuditChainHead())?.seq ?? 0;
  const verdict = await verifyChain(storedEntries(store), placed, { expectThrough, linkedThrough });
  return { ...verdict, checkpoints: records.length, unsealed: Math.max(0, expectThrough - verdict.sealedThrough) };
}

/** The export, line by line (each line is one JSON object, without its newline). */
export async function* exportLines(store: ChainReader, afterSeq = 0): AsyncGenerator<string> {
  const checkpoints = await allCheckpoints(store);
  let next = 0;
  while (checkpoints[next] !== undefined && (checkpoints[next] as { seq: number }).seq <= afterSeq) next += 1;
  for await (const entry of storedEntries(store, afterSeq)) {
    yield JSON.stringify({ type: 'event', event: entry.event, ...(entry.hash === undefined ? {} : { link: entry.hash }) });
    while (checkpoints[next] !== undefined && (checkpoints[next] as { seq: number }).seq === entry.event.seq) {
      const c = checkpoints[next] as { seq: number; jws: string };
      yield JSON.stringify({ type: 'checkpoint', seq: c.seq, jws: c.jws });
      next += 1;
    }
  }
}

export interface ExportVerifyOptions {
  /** Checkpoints held apart from the file (the latest one, fetched separately): a file cut before them is truncated. */
  readonly extraCheckpoints?: readonly string[];
}

/**
 * Verifies an export's text against `keys`. A line that is not JSON, or not an event or
 * checkpoint line, is unreadable at its place; a checkpoint that does not verify is reported as such.
 */
export async function verifyExport(
  text: string,
  keys: readonly PublicCheckpointKey[],
  options: ExportVerifyOptions = {},
): Promise<ChainVerdict> {
  const entries: (ChainEntry | null)[] = [];
  const checkpoints: CheckpointClaim[] = [];
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    let record: { type?: unknown; event?: unknown; link?: unknown; seq?: unknown; jws?: unknown };
    try {
      record = JSON.parse(line) as typeof record;
    } catch {
      entries.push(null);
      continue;
    }
    if (record.type === 'checkpoint' && typeof record.jws === 'string') {
      const claim = readCheckpoint(record.jws, keys, typeof record.seq === 'number' ? record.seq : 0);
      checkpoints.push(
        claim.invalid === undefined && claim.seq !== record.seq ? { ...claim, invalid: 'its line names another seq than it signs' } : claim,
      );
    } else if (record.type === 'event' && typeof record.event === 'object' && record.event !== null) {
      const event = record.event as AuditEvent;
      entries.push(typeof record.link === 'string' ? { event, hash: record.link } : { event });
    } else {
      entries.push(null);
    }
  }
  for (const jws of options.extraCheckpoints ?? []) checkpoints.push(readCheckpoint(jws, keys));
  return verifyChain(entries, checkpoints);
}
