/**
 * Notices when the data behind the store vanished (store_meta.ts says why that matters) and keeps
 * the broker from acting on an emptied store until a named operator acknowledges it.
 *
 * Each broker remembers the marker it found at boot (the first broker on a new store writes it).
 * The marker is checked every `intervalMs` and whenever the connection comes back; while the
 * connection is down, and until that check has answered, the store counts as unverified. A marker
 * that is gone or replaced means the data was lost: the broker records the loss in the store, so
 * every replica — and a broker that restarts into the emptied store — refuses too. A broker that
 * restarts into a wiped store before anyone noticed writes a new marker; the replicas that knew
 * the old one see it replaced and record the loss, and the restarted one sees the loss on its next
 * check. Only if every broker restarts along with the wipe is it unseen: the boot persistence check
 * (main.ts) is the guard for that.
 *
 * An acknowledgement writes a new marker naming the loss and the markers it replaces; brokers
 * that knew any of them adopt it on their next check.
 */
import { randomBytes } from 'node:crypto';
import type { StoreLogger } from './redis_connection.js';
import type { StoreLoss, StoreMarker, StoreMeta } from './store_meta.js';

export type IntegrityState = 'ok' | 'unverified' | 'lost';

export interface StoreIntegrity {
  state(): IntegrityState;
  /** The recorded loss while the state is `lost`. */
  loss(): StoreLoss | null;
  /** Reads or creates the marker, then checks periodically and on every reconnect. */
  start(): Promise<void>;
  /** One check now; resolves to the state after it. */
  check(): Promise<IntegrityState>;
  /** Acknowledges the recorded loss; null when none is recorded. */
  acknowledge(by: string, reason: string): Promise<StoreLoss | null>;
  stop(): void;
}

export interface IntegrityOptions {
  readonly logger: StoreLogger;
  readonly now: () => number;
  readonly intervalMs: number;
  /** Told every change of state (metrics, readiness). */
  readonly onStateChange?: (state: IntegrityState, loss: StoreLoss | null) => void;
}

const newId = (): string => randomBytes(12).toString('base64url');
const ACKNOWLEDGE_ATTEMPTS = 3;

export function createStoreIntegrity(meta: StoreMeta, options: IntegrityOptions): StoreIntegrity {
  const { logger, now } = options;
  let state: IntegrityState = 'unverified';
  let expected: StoreMarker | null = null;
  let recorded: StoreLoss | null = null;
  let timer: NodeJS.Timeout | null = null;
  let running: Promise<IntegrityState> | null = null;

  const become = (next: IntegrityState, loss: StoreLoss | null): void => {
    const changed = next !== state || loss?.id !== recorded?.id;
    state = next;
    recorded = loss;
    if (changed) options.onStateChange?.(next, loss);
  };

  const lost = (loss: StoreLoss): void => {
    if (state !== 'lost' || recorded?.id !== loss.id) {
      logger.error(
        { lossId: loss.id, detectedAt: new Date(loss.detectedAt).toISOString(), missingMarker: loss.missing, foundMarker: loss.found },
        'store data loss: the store marker is gone or replaced, so incidents, grants and close tombstones were lost (Redis restarted without persistence, was flushed, or failed over to a replica without the data); ' +
          'every request is refused until an operator acknowledges: quartermaster store acknowledge-loss --by <name> --reason <text>, or POST /v1/store/acknowledge-loss',
      );
    }
    become('lost', loss);
  };

  const adopt = (marker: StoreMarker): void => {
    if (state === 'lost')
      logger.warn(
        { markerId: marker.id, acknowledgedBy: marker.acknowledgedBy, lossId: marker.acknowledges },
        'store data loss acknowledged; serving again',
      );
    expected = marker;
    become('ok', null);
  };

  /** Whether `marker` is the one this broker knows, or an acknowledgement that replaced it. */
  const continues = (marker: StoreMarker): boolean =>
    marker.id === expected?.id ||
    (expected !== null && (marker.replaces ?? []).includes(expected.id)) ||
    (recorded !== null && marker.acknowledges === recorded.id);

  const runCheck = async (): Promise<IntegrityState> => {
    const { marker, loss } = await meta.read();
    if (loss) {
      lost(loss);
    } else if (expected === null && recorded === null) {
      // First check of this broker: adopt what is there, or start a new store's marker.
      adopt(marker ?? (await meta.createMarker({ id: newId(), createdAt: now() })));
    } else if (marker && continues(marker)) {
      adopt(marker);
    } else {
      lost(await meta.recordLoss({ id: newId(), detectedAt: now(), missing: expected?.id ?? null, found: marker?.id ?? null }));
    }
    return state;
  };

  const check = (): Promise<IntegrityState> => {
    // One check at a time; callers arriving meanwhile share its answer.
    running ??= runCheck().finally(() => {
      running = null;
    });
    return running;
  };

  const checkQuietly = (): void => {
    check().catch((err: unknown) => logger.warn({ err: (err as Error).name }, 'store integrity check failed; will retry'));
  };

  return {
    state: () => state,
    loss: () => recorded,
    async start() {
      meta.onConnectionChange((up) => {
        if (!up) {
          // Until the marker is read again, the store behind the new connection is unknown.
          if (state === 'ok') become('unverified', null);
          return;
        }
        checkQuietly();
      });
      await check();
      timer = setInterval(checkQuietly, options.intervalMs);
      timer.unref();
    },
    check,
    async acknowledge(by, reason) {
      // The loss read and the one acknowledged must be the same record; a loss recorded in between
      // (another wipe) is read again rather than acknowledged unseen.
      for (let attempt = 0; attempt < ACKNOWLEDGE_ATTEMPTS; attempt++) {
        const { loss } = await meta.read();
        if (!loss) return null;
        const replaces = [loss.missing, loss.found].filter((id): id is string => id !== null);
        const marker: StoreMarker = { id: newId(), createdAt: now(), acknowledges: loss.id, replaces, acknowledgedBy: by, reason };
        if (await meta.acknowledgeLoss(loss.id, marker)) {
          recorded = loss;
          adopt(marker);
          return loss;
        }
      }
      throw new Error('store loss records kept changing during the acknowledgement; try again');
    },
    stop() {
      if (timer) clearInterval(timer);
      timer = null;
    },
  };
}
