/**
 * The audit sealer (docs/audit.md "How the chain is built"): links appended events into the hash
 * chain (chain.ts) in seq order, off the request path, and signs a checkpoint (checkpoints.ts)
 * every `checkpointEvery` events or `checkpointSeconds`, whichever comes first.
 *
 * Every replica runs one. A pass reads the sealed head, the events after it, computes their links
 * and writes them with the new head only if the head is still the one it read (store.ts
 * sealAudit), so sealers racing on several replicas never fork the chain: the loser re-reads and
 * finds the work done. An append is one atomic step in the store (seq and event together), so the
 * events after the head are always contiguous; a missing one means someone removed it, and the
 * sealer stops there (quartermaster_audit_chain_broken = 1, an error log) instead of sealing
 * over the hole.
 */
import { describeCause } from '../errors.js';
import type { Logger } from '../logging.js';
import type { Metrics } from '../metrics.js';
import type { AuditChainHead, AuditCheckpointRecord, Store } from '../store/store.js';
import { CHAIN_GENESIS, chainLink } from './chain.js';
import type { CheckpointSigner } from './checkpoints.js';

/** Events linked per pass. */
export const SEAL_BATCH = 1000;

export interface SealerOptions {
  readonly intervalMs: number;
  readonly checkpointEvery: number;
  readonly checkpointSeconds: number;
}

export interface SealerDeps {
  readonly store: Pick<Store, 'getAuditChainHead' | 'sealAudit' | 'listAudit' | 'lastAuditSeq'>;
  readonly signer: CheckpointSigner;
  readonly logger: Logger;
  readonly metrics: Pick<Metrics, 'auditChainSealedSeq' | 'auditChainUnsealed' | 'auditChainBroken' | 'auditCheckpoints'>;
  readonly now: () => number;
}

export interface SealPass {
  /** Events linked by this pass. */
  readonly sealed: number;
  readonly checkpoint?: AuditCheckpointRecord;
  /** Another replica moved the head first; nothing was written. */
  readonly raced: boolean;
  /** The batch was full: more events wait. */
  readonly more: boolean;
  /** The log does not continue the chain at this seq. */
  readonly brokenAt?: number;
}

export interface AuditSealer {
  start(): void;
  /** Ends the loop after the pass in flight. */
  stop(): Promise<void>;
  /** One pass (tests, `GET /v1/audit/verify` before it walks). */
  sealOnce(): Promise<SealPass>;
}

export function createAuditSealer(deps: SealerDeps, options: SealerOptions): AuditSealer {
  const { store, signer, logger, metrics } = deps;
  let brokenAt: number | undefined;

  const checkpointDue = (head: AuditChainHead | null, lastSeq: number, now: number): boolean => {
    const since = head?.checkpointSeq ?? 0;
    if (lastSeq <= since) return false;
    return lastSeq - since >= options.checkpointEvery || now - (head?.checkpointAt ?? 0) >= options.checkpointSeconds * 1000;
  };

  const sealOnce = async (): Promise<SealPass> => {
    const head = await store.getAuditChainHead();
    const from = head?.seq ?? 0;
    const events = await store.listAudit({ afterSeq: from, limit: SEAL_BATCH });
    const links: { seq: number; hash: string }[] = [];
    let previous = head?.hash ?? CHAIN_GENESIS;
    let broken: number | undefined;
    for (const event of events) {
      const expected = from + links.length + 1;
      if (event.seq !== expected) {
        broken = expected;
        break;
      }
      previous = chainLink(previous, event);
      links.push({ seq: event.seq, hash: previous });
    }
    if (broken !== undefined) {
      metrics.auditChainBroken.set(1);
      if (brokenAt !== broken)
        logger.error({ seq: broken, sealedThrough: from }, 'audit log does not continue its chain: an event is missing; sealing stops');
      brokenAt = broken;
    } else if (brokenAt !== undefined) {
      brokenAt = undefined;
      metrics.auditChainBroken.set(0);
    }
    const now = deps.now();
    const lastSeq = links.at(-1)?.seq ?? from;
    const withCheckpoint = checkpointDue(head, lastSeq, now);
    const reportLag = async (sealedThrough: number): Promise<void> => {
      metrics.auditChainUnsealed.set(Math.max(0, (await store.lastAuditSeq()) - sealedThrough));
    };
    if (links.length === 0 && !withCheckpoint) {
      await reportLag(from);
      return { sealed: 0, raced: false, more: false, ...(broken === undefined ? {} : { brokenAt: broken }) };
    }
    const next: AuditChainHead = {
      seq: lastSeq,
      hash: previous,
      checkpointSeq: withCheckpoint ? lastSeq : (head?.checkpointSeq ?? 0),
      checkpointAt: withCheckpoint ? now : (head?.checkpointAt ?? 0),
    };
    const checkpoint = withCheckpoint ? { seq: lastSeq, jws: signer.sign({ seq: lastSeq, hash: previous, at: now }) } : undefined;
    const written = await store.sealAudit(head, links, next, checkpoint);
    if (!written) return { sealed: 0, raced: true, more: true };
    metrics.auditChainSealedSeq.set(lastSeq);
    if (checkpoint) metrics.auditCheckpoints.inc();
    await reportLag(lastSeq);
    return {
      sealed: links.length,
      raced: false,
      more: events.length === SEAL_BATCH && broken === undefined,
      ...(checkpoint ? { checkpoint } : {}),
      ...(broken === undefined ? {} : { brokenAt: broken }),
    };
  };

  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | null = null;
  let stopped = true;
  let failing = false;

  const tick = (): void => {
    running = (async () => {
      let again = false;
      try {
        const pass = await sealOnce();
        again = pass.more;
        if (failing) logger.info('audit sealing recovered');
        failing = false;
      } catch (err) {
        if (!failing) logger.warn({ err: describeCause(err) }, 'audit sealing failed; retrying');
        failing = true;
      }
      if (!stopped) {
        timer = setTimeout(tick, again ? 0 : options.intervalMs);
        timer.unref();
      }
    })();
  };

  return {
    start() {
      if (!stopped) return;
      stopped = false;
      tick();
    },
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      await running;
    },
    sealOnce,
  };
}
