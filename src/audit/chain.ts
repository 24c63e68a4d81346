/**
 * The audit hash chain (docs/audit.md): every event, in the store's one global order, is linked to
 * the one before it,
 *
 *     link(n) = hex SHA-256( link(n-1) ‖ "\n" ‖ JCS(event n) )        link(0) = 64 × "0"
 *
 * where JCS is the RFC 8785 canonical JSON of the event as stored (seq included), so a change of
 * any byte of any field, a deleted, inserted or reordered event changes every later link. Signed
 * checkpoints (checkpoints.ts) fix the link at a seq with a key the store never sees, so history
 * up to the last checkpoint cannot be rewritten even by someone who can write to the store.
 *
 * `verifyChain` walks events in order and names the first bad one. It is the same code for the
 * store (GET /v1/audit/verify) and for an exported file (quartermaster audit verify).
 */
import { createHash } from 'node:crypto';
import canonicalize from 'canonicalize';
import type { AuditEvent } from '../model.js';

export const CHAIN_GENESIS = '0'.repeat(64);

/** The link of `event` after `previous` (64 lower-case hex characters). */
export function chainLink(previous: string, event: AuditEvent): string {
  const canonical = canonicalize(event);
  if (canonical === undefined) throw new Error(`audit event ${event.seq} has no canonical JSON`);
  return createHash('sha256').update(previous).update('\n').update(canonical).digest('hex');
}

/** A checkpoint whose signature was checked (or could not be: `invalid` says why). */
export interface CheckpointClaim {
  readonly seq: number;
  readonly hash: string;
  readonly at: number;
  readonly kid: string;
  /** Set when the signature or payload did not verify: such a checkpoint proves nothing and is reported. */
  readonly invalid?: string;
}

export type ChainProblem =
  /** The event differs from what its stored link (or the chain up to it) says. */
  | 'modified'
  /** The event with this seq is not there (deleted, or the log was cut at this point). */
  | 'missing'
  /** An event came with a seq at or below one already seen (reordered or inserted). */
  | 'out_of_order'
  /** The chain does not reach a signed checkpoint's link: an event between the previous good point and it was changed. */
  | 'checkpoint_mismatch'
  /** A checkpoint's signature or payload does not verify. */
  | 'bad_checkpoint'
  /** The log ends before a signed checkpoint (or the store's own counter) says it should. */
  | 'truncated'
  /** A record that is not an audit event (an export line that does not parse). */
  | 'unreadable';

export interface ChainBreak {
  /** The first bad event's seq (for a truncation: the first seq that should be there). */
  readonly seq: number;
  readonly problem: ChainProblem;
  readonly detail: string;
}

export interface ChainVerdict {
  readonly ok: boolean;
  /** Events walked. */
  readonly events: number;
  /** The last seq walked, and its link. */
  readonly lastSeq: number;
  readonly lastHash: string;
  /** The last seq whose stored link was checked (events after it were not sealed yet). */
  readonly sealedThrough: number;
  /** Signed checkpoints the walk reached and matched. */
  readonly checkpointsMatched: number;
  readonly firstBad?: ChainBreak;
}

/** One event of the walk, with the link the store (or the export) recorded for it, if sealed. */
export interface ChainEntry {
  readonly event: AuditEvent;
  readonly hash?: string;
}

export interface VerifyOptions {
  /** Start after this point (a matched checkpoint, or genesis: seq 0). */
  readonly start?: { readonly seq: number; readonly hash: string };
  /** The log must reach at least this seq (the store's counter): less is a truncation. */
  readonly expectThrough?: number;
  /** Every event up to this seq must come with its link (the store's sealed head): one without was unlinked. */
  readonly linkedThrough?: number;
}

const isEvent = (v: unknown): v is AuditEvent =>
  typeof v === 'object' && v !== null && Number.isSafeInteger((v as AuditEvent).seq) && (v as AuditEvent).seq > 0;

/**
 * Walks `entries` (in the order given) against the chain and the checkpoints; stops at the first
 * bad event. An entry may be an unreadable record (`null`): it is the first bad one.
 */
export async function verifyChain(
  entries: AsyncIterable<ChainEntry | null> | Iterable<ChainEntry | null>,
  checkpoints: readonly CheckpointClaim[],
  options: VerifyOptions = {},
): Promise<ChainVerdict> {
  const start = options.start ?? { seq: 0, hash: CHAIN_GENESIS };
  // Invalid checkpoints at or before the start are still reported: they are not skipped silently.
  const pending = [...checkpoints].filter((c) => c.seq > start.seq || c.invalid !== undefined).sort((a, b) => a.seq - b.seq);
  let previous = start.hash;
  let lastSeq = start.seq;
  let goodThrough = start.seq;
  let sealedThrough = start.seq;
  let events = 0;
  let matched = 0;
  const verdict = (firstBad?: ChainBreak): ChainVerdict => ({
    ok: firstBad === undefined,
    events,
    lastSeq,
    lastHash: previous,
    sealedThrough,
    checkpointsMatched: matched,
    ...(firstBad ? { firstBad } : {}),
  });

  for await (const entry of entries) {
    const expected = lastSeq + 1;
    if (entry === null || !isEvent(entry.event)) {
      return verdict({ seq: expected, problem: 'unreadable', detail: `the record after seq ${lastSeq} is not an audit event` });
    }
    const { event } = entry;
    if (event.seq < expected) {
      return verdict({
        seq: event.seq,
        problem: 'out_of_order',
        detail: `seq ${event.seq} comes after seq ${lastSeq}: an event was reordered or inserted`,
      });
    }
    if (event.seq > expected) {
      return verdict({ seq: expected, problem: 'missing', detail: `seq ${expected} is missing (the next event is seq ${event.seq})` });
    }
    let link: string;
    try {
      link = chainLink(previous, event);
    } catch (err) {
      return verdict({ seq: event.seq, problem: 'unreadable', detail: err instanceof Error ? err.message : String(err) });
    }
    if (entry.hash === undefined && event.seq <= (options.linkedThrough ?? 0)) {
      return verdict({
        seq: event.seq,
        problem: 'modified',
        detail: `seq ${event.seq} has no chain link, though the chain is sealed through seq ${options.linkedThrough}`,
      });
    }
    if (entry.hash !== undefined) {
      if (entry.hash !== link) {
        return verdict({ seq: event.seq, problem: 'modified', detail: `seq ${event.seq} does not match its recorded chain link` });
      }
      sealedThrough = event.seq;
    }
    previous = link;
    lastSeq = event.seq;
    events += 1;
    while (pending[0] !== undefined && pending[0].seq === event.seq) {
      const checkpoint = pending.shift() as CheckpointClaim;
      if (checkpoint.invalid !== undefined) {
        return verdict({
          seq: checkpoint.seq,
          problem: 'bad_checkpoint',
          detail: `the checkpoint at seq ${checkpoint.seq}: ${checkpoint.invalid}`,
        });
      }
      if (checkpoint.hash !== link) {
        return verdict({
          seq: goodThrough + 1,
          problem: 'checkpoint_mismatch',
          detail: `the chain from seq ${goodThrough + 1} to seq ${checkpoint.seq} does not reach the checkpoint signed at seq ${checkpoint.seq}: an event in that range was changed`,
        });
      }
      matched += 1;
      goodThrough = event.seq;
    }
  }
  const beyond = pending[0];
  if (beyond?.invalid !== undefined) {
    return verdict({ seq: beyond.seq, problem: 'bad_checkpoint', detail: `the checkpoint at seq ${beyond.seq}: ${beyond.invalid}` });
  }
  if (beyond !== undefined) {
    return verdict({
      seq: lastSeq + 1,
      problem: 'truncated',
      detail: `the log ends at seq ${lastSeq}, but a checkpoint is signed at seq ${beyond.seq}`,
    });
  }
  if (options.expectThrough !== undefined && options.expectThrough > lastSeq) {
    return verdict({
      seq: lastSeq + 1,
      problem: 'truncated',
      detail: `the log ends at seq ${lastSeq}, but the store has counted ${options.expectThrough} events`,
    });
  }
  return verdict();
}
