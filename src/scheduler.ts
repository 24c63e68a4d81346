/**
 * A provider's timers (sdk.ts Scheduler): unref'd, so a pending renewal never keeps the process
 * alive, and all cancelled at once when the provider closes (catalog.ts), so nothing a provider
 * scheduled fires against a closed client.
 */
import type { Scheduler } from './sdk.js';

export interface ClosableScheduler extends Scheduler {
  /** Cancels every timer still pending; later `set` calls schedule nothing. */
  close(): void;
  /** Timers pending now (tests, diagnostics). */
  pending(): number;
}

export function createScheduler(): ClosableScheduler {
  const timers = new Set<NodeJS.Timeout>();
  let closed = false;
  return {
    set(fn, delayMs) {
      if (closed) return undefined;
      const timer = setTimeout(() => {
        timers.delete(timer);
        fn();
      }, delayMs);
      timer.unref();
      timers.add(timer);
      return timer;
    },
    clear(handle) {
      if (handle === undefined) return;
      clearTimeout(handle as NodeJS.Timeout);
      timers.delete(handle as NodeJS.Timeout);
    },
    close() {
      closed = true;
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
    },
    pending: () => timers.size,
  };
}
