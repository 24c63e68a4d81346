/**
 * The store's knowledge of itself, apart from the ledger: how durable its backing service is, and
 * an identity marker that lets every broker notice when the data behind the store vanished.
 *
 * Why: a Redis without persistence that restarts comes back empty — every incident, grant and
 * close tombstone gone — and answers as if nothing happened. A closed incident could then be
 * opened again and issued for. Every broker remembers the marker it found (or wrote, on a new
 * store); when the marker is gone or replaced, the data was lost, and the broker records the loss
 * in the store (so every replica, and every broker that restarts, refuses too) until an operator
 * acknowledges it (integrity.ts).
 */

export interface StorePersistence {
  /** True when an acknowledged write survives a restart of the backing service. */
  readonly durable: boolean;
  /** What was found, for logs and readiness: `appendonly yes, appendfsync everysec`. */
  readonly detail: string;
}

export interface StoreMarker {
  readonly id: string;
  readonly createdAt: number;
  /** Set on a marker written by an acknowledgement: the loss it acknowledges. */
  readonly acknowledges?: string;
  /** Markers this one replaces (those the loss found missing or foreign). */
  readonly replaces?: readonly string[];
  readonly acknowledgedBy?: string;
  readonly reason?: string;
}

export interface StoreLoss {
  readonly id: string;
  readonly detectedAt: number;
  /** The marker a broker expected; null when it booted into a recorded loss. */
  readonly missing: string | null;
  /** The marker found instead (another broker wrote one on the emptied store), or null. */
  readonly found: string | null;
}

export interface StoreMeta {
  persistence(): Promise<StorePersistence>;
  /** One read of both records. */
  read(): Promise<{ readonly marker: StoreMarker | null; readonly loss: StoreLoss | null }>;
  /** Writes the marker unless one exists; returns the stored one either way. */
  createMarker(marker: StoreMarker): Promise<StoreMarker>;
  /** Records the loss unless one is recorded; returns the stored one either way. */
  recordLoss(loss: StoreLoss): Promise<StoreLoss>;
  /** Atomically: if the recorded loss is `lossId`, remove it and write `marker`. False otherwise. */
  acknowledgeLoss(lossId: string, marker: StoreMarker): Promise<boolean>;
  /** Called with false when the connection to the backing service drops, true when it is back. */
  onConnectionChange(listener: (up: boolean) => void): void;
}
