/**
 * The audit chain as the broker runs it (docs/audit.md): the checkpoint key, the sealer, and the
 * reads the HTTP routes serve (verify, export, checkpoints), bound to the store. Built by
 * compose.ts when `audit.chain.enabled`.
 */
import { join } from 'node:path';
import type { Config } from '../config/schema.js';
import type { Logger } from '../logging.js';
import type { Metrics } from '../metrics.js';
import type { AuditCheckpointRecord, Store } from '../store/store.js';
import { loadCheckpointSigner, type PublicCheckpointKey } from './checkpoints.js';
import { createAuditSealer, type AuditSealer } from './sealer.js';
import { exportLines, verifyStoredChain, type StoredChainVerdict } from './verify.js';

export interface AuditChain {
  readonly sealer: AuditSealer;
  /** The keys checkpoints verify with, the active one first. */
  readonly publicKeys: readonly PublicCheckpointKey[];
  verify(): Promise<StoredChainVerdict>;
  exportLines(afterSeq: number): AsyncGenerator<string>;
  checkpoints(afterSeq: number, limit: number): Promise<AuditCheckpointRecord[]>;
}

export async function createAuditChain(
  config: Config,
  deps: { readonly store: Store; readonly metrics: Metrics; readonly logger: Logger; readonly now: () => number },
): Promise<AuditChain | null> {
  const chain = config.audit.chain;
  if (!chain.enabled) return null;
  const devMode = config.mode === 'development';
  // The schema requires keyFile outside development; there it defaults beside the dev issuer's keys.
  const keyFile = chain.keyFile ?? join(config.devIssuer?.keyDir ?? 'var/dev', 'audit-checkpoint.jwk');
  const signer = await loadCheckpointSigner({
    keyFile,
    previousPublicKeyFiles: chain.previousPublicKeyFiles,
    generateIfMissing: devMode && chain.keyFile === undefined,
    strictPermissions: !devMode,
    logger: deps.logger,
  });
  const sealer = createAuditSealer(
    { store: deps.store, signer, logger: deps.logger, metrics: deps.metrics, now: deps.now },
    { intervalMs: chain.sealIntervalMs, checkpointEvery: chain.checkpointEvery, checkpointSeconds: chain.checkpointSeconds },
  );
  deps.logger.info({ kid: signer.kid, keyFile }, 'audit chain on');
  return {
    sealer,
    publicKeys: signer.publicKeys,
    verify: () => verifyStoredChain(deps.store, signer.publicKeys),
    exportLines: (afterSeq) => exportLines(deps.store, afterSeq),
    checkpoints: (afterSeq, limit) => deps.store.listAuditCheckpoints(afterSeq, limit),
  };
}
