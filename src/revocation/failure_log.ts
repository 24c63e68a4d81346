/**
 * How the worker reports passes that keep failing. It retries every pollIntervalMs, so during a
 * Redis outage one line per pass would be five error lines a second, each without a cause. The
 * log gets the first failure with its cause, a reminder at most every REMINDER_MS (or at once when
 * the cause changes), and one line when a pass succeeds again.
 */
import { describeCause, isBrokerError } from '../errors.js';
import type { Logger } from '../logging.js';

export const REMINDER_MS = 30_000;

export interface FailureLog {
  failed(err: unknown): void;
  succeeded(): void;
}

/** The operator-facing cause: a BrokerError's detail (the store's own error), else the error itself. */
const causeOf = (err: unknown): string => (isBrokerError(err) && err.detail !== undefined ? err.detail : describeCause(err));

export function createFailureLog(logger: Pick<Logger, 'error' | 'warn'>, now: () => number): FailureLog {
  let since: number | null = null;
  let failures = 0;
  let lastCause = '';
  let lastLogAt = 0;
  return {
    failed(err) {
      const cause = causeOf(err);
      const at = now();
      failures += 1;
      if (since === null) {
        since = at;
        lastLogAt = at;
        lastCause = cause;
        logger.error({ cause }, 'revocation worker pass failed; retrying');
        return;
      }
      if (cause !== lastCause || at - lastLogAt >= REMINDER_MS) {
        lastLogAt = at;
        lastCause = cause;
        logger.error({ cause, failedPasses: failures, failingForMs: at - since }, 'revocation worker still failing; retrying');
      }
    },
    succeeded() {
      if (since === null) return;
      logger.warn({ failedPasses: failures, failedForMs: now() - since }, 'revocation worker recovered');
      since = null;
      failures = 0;
    },
  };
}
