/**
 * Lanes for work nobody is waiting on (the sdk's BackgroundLanes): revocation receipts run here,
 * grant requests never do. The HTTP layer marks each request in flight as foreground work; while
 * any is, and for `lingerMs` after the last one ended, at most `whileServing` background calls run
 * at once and the rest queue in order; after that the queue drains and background calls run
 * unbounded (their provider's own limit applies). The linger keeps the lanes narrow across the
 * short gaps of a stream of requests: without it, every gap let a full width of receipts out,
 * and the next request queued behind all of them. No call waits in the queue longer than
 * `maxWaitMs`: past that it runs anyway, so a slow upstream under steady traffic still confirms a
 * batch well within the catalog's call deadline instead of timing out and starting over.
 *
 * Why: a broker serves requests and revokes on one event loop. During a close of 1000 Vault grants
 * every step of a grant request that waits on I/O queued behind up to 16 ready receipt callbacks,
 * and issuing slowed 5–8× (docs/performance.md, S5). Receipts confirm after the fact what the one
 * per-incident revoke already revoked (and back up whatever outlived it), so they are the work
 * that can wait a little; narrowed lanes still make progress.
 */
import type { BackgroundLanes } from './sdk.js';

export interface ForegroundLanes extends BackgroundLanes {
  /** Marks one unit of foreground work (a request) begun; call the returned function once it ends. */
  enterForeground(): () => void;
  /** Foreground work in flight now, and background calls running and queued (tests). */
  state(): { readonly foreground: number; readonly running: number; readonly queued: number };
}

/** How long the lanes stay narrow after the last request ended. */
const DEFAULT_LINGER_MS = 50;
/** The longest a background call waits for a lane before it runs anyway. */
const DEFAULT_MAX_WAIT_MS = 250;

export function createBackgroundLanes(
  whileServing: number,
  lingerMs = DEFAULT_LINGER_MS,
  maxWaitMs = DEFAULT_MAX_WAIT_MS,
): ForegroundLanes {
  if (!Number.isInteger(whileServing) || whileServing < 1)
    throw new Error(`background lanes while serving must be a positive integer, got ${whileServing}`);
  let foreground = 0;
  let running = 0;
  /** Date.now() until which the lanes stay narrow after the last request ended. */
  let narrowUntil = -Infinity;
  let widen: NodeJS.Timeout | undefined;
  /** Waiting calls in order; each starts when a lane frees up or its maxWaitMs is over. */
  const queue: Array<{ start: () => void; timer: NodeJS.Timeout }> = [];

  const capacity = (): number => (foreground > 0 || Date.now() < narrowUntil ? whileServing : Infinity);
  const pump = (): void => {
    while (queue.length > 0 && running < capacity()) {
      const next = queue.shift() as (typeof queue)[number];
      clearTimeout(next.timer);
      running += 1;
      next.start();
    }
  };
  /** Widens once the linger is over (later requests may have moved it on), if work is waiting. */
  const scheduleWiden = (): void => {
    if (widen !== undefined) return;
    widen = setTimeout(
      () => {
        widen = undefined;
        if (foreground === 0 && Date.now() < narrowUntil) scheduleWiden();
        else pump();
      },
      Math.max(0, narrowUntil - Date.now()),
    );
    // Not unref'd: during shutdown, with the server closed, this timer may be the only thing that
    // lets queued receipts of the batch in flight go on, and the worker waits for that batch.
  };

  return {
    async run<T>(work: () => Promise<T>): Promise<T> {
      if (running < capacity() && queue.length === 0) {
        running += 1;
      } else {
        await new Promise<void>((resolve) => {
          const entry = {
            start: resolve,
            // Waited long enough: run beside the narrowed lanes rather than not at all.
            timer: setTimeout(() => {
              const at = queue.indexOf(entry);
              if (at === -1) return;
              queue.splice(at, 1);
              running += 1;
              resolve();
            }, maxWaitMs),
          };
          queue.push(entry);
        });
      }
      try {
        return await work();
      } finally {
        running -= 1;
        pump();
      }
    },
    enterForeground() {
      foreground += 1;
      let left = false;
      return () => {
        if (left) return;
        left = true;
        foreground -= 1;
        if (foreground === 0) {
          narrowUntil = Date.now() + lingerMs;
          scheduleWiden();
        }
        pump();
      };
    },
    state: () => ({ foreground, running, queued: queue.length }),
  };
}
