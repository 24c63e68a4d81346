/** The worker's report of failing passes (src/revocation/failure_log.ts), on a clock the test moves. */
import { describe, expect, it } from 'vitest';
import { incidentNotFound, storeUnavailable } from '../../src/errors.js';
import { createFailureLog, REMINDER_MS } from '../../src/revocation/failure_log.js';

function capture() {
  const lines: Array<{ level: string; msg: string; obj: Record<string, unknown> }> = [];
  const at = (level: string) => (obj: object, msg?: string) => {
    lines.push({ level, msg: msg ?? '', obj: obj as Record<string, unknown> });
  };
  return { lines, logger: { error: at('error'), warn: at('warn') } };
}

describe('worker failure log', () => {
  it('logs nothing while passes succeed', () => {
    const { lines, logger } = capture();
    const log = createFailureLog(logger, () => 0);
    log.succeeded();
    log.succeeded();
    expect(lines).toEqual([]);
  });

  it('logs the first failure with the store cause, then nothing until a reminder is due, then the recovery once', () => {
    let now = 1_000;
    const { lines, logger } = capture();
    const log = createFailureLog(logger, () => now);
    const down = storeUnavailable(new Error('Connection is closed.'));
    for (let i = 0; i < 150; i++) {
      // 30 s of passes at 200 ms
      log.failed(down);
      now += 200;
    }
    expect(lines).toEqual([
      { level: 'error', msg: 'revocation worker pass failed; retrying', obj: { cause: 'Error: Connection is closed.' } },
    ]);
    now = 1_000 + REMINDER_MS;
    log.failed(down);
    expect(lines[1]).toEqual({
      level: 'error',
      msg: 'revocation worker still failing; retrying',
      obj: { cause: 'Error: Connection is closed.', failedPasses: 151, failingForMs: REMINDER_MS },
    });
    log.succeeded();
    log.succeeded();
    expect(lines.slice(2)).toEqual([
      { level: 'warn', msg: 'revocation worker recovered', obj: { failedPasses: 151, failedForMs: REMINDER_MS } },
    ]);
  });

  it('logs at once when the cause changes', () => {
    const { lines, logger } = capture();
    const log = createFailureLog(logger, () => 5);
    log.failed(storeUnavailable(new Error('Connection is closed.')));
    log.failed(storeUnavailable(new Error('Connection is closed.')));
    log.failed(new TypeError('boom'));
    expect(lines.map((l) => l.obj.cause)).toEqual(['Error: Connection is closed.', 'TypeError: boom']);
  });

  it('reminds at most every REMINDER_MS, counted from the last line, on a wall clock', () => {
    let now = 1_800_000_000_000;
    const start = now;
    const { lines, logger } = capture();
    const log = createFailureLog(logger, () => now);
    const down = storeUnavailable(new Error('Connection is closed.'));
    log.failed(down);
    now = start + REMINDER_MS - 1;
    log.failed(down);
    expect(lines).toHaveLength(1);
    now = start + REMINDER_MS;
    log.failed(down);
    expect(lines).toHaveLength(2);
    now = start + 2 * REMINDER_MS - 1;
    log.failed(down);
    expect(lines).toHaveLength(2);
    now = start + 2 * REMINDER_MS;
    log.failed(down);
    expect(lines.map((l) => l.obj)).toEqual([
      { cause: 'Error: Connection is closed.' },
      { cause: 'Error: Connection is closed.', failedPasses: 3, failingForMs: REMINDER_MS },
      { cause: 'Error: Connection is closed.', failedPasses: 5, failingForMs: 2 * REMINDER_MS },
    ]);
  });

  it('after a changed cause, stays quiet while the new cause repeats', () => {
    let now = 5;
    const { lines, logger } = capture();
    const log = createFailureLog(logger, () => now);
    log.failed(storeUnavailable(new Error('Connection is closed.')));
    now += 1000;
    log.failed(new TypeError('boom'));
    now += 1000;
    log.failed(new TypeError('boom'));
    log.failed(new TypeError('boom'));
    expect(lines.map((l) => l.obj)).toEqual([
      { cause: 'Error: Connection is closed.' },
      { cause: 'TypeError: boom', failedPasses: 2, failingForMs: 1000 },
    ]);
  });

  it('names a broker error without a detail by the error itself', () => {
    const { lines, logger } = capture();
    createFailureLog(logger, () => 5).failed(incidentNotFound());
    expect(lines.map((l) => l.obj.cause)).toEqual(['BrokerError(ERR_INCIDENT_NOT_FOUND): incident not found']);
  });

  it('starts over after a recovery: the next failure is a first failure, counted from one', () => {
    let now = 1_000;
    const { lines, logger } = capture();
    const log = createFailureLog(logger, () => now);
    const down = storeUnavailable(new Error('Connection is closed.'));
    log.failed(down);
    log.failed(down);
    now += 500;
    log.succeeded();
    now += 10_000;
    log.failed(down);
    now += 700;
    log.succeeded();
    expect(lines).toEqual([
      { level: 'error', msg: 'revocation worker pass failed; retrying', obj: { cause: 'Error: Connection is closed.' } },
      { level: 'warn', msg: 'revocation worker recovered', obj: { failedPasses: 2, failedForMs: 500 } },
      { level: 'error', msg: 'revocation worker pass failed; retrying', obj: { cause: 'Error: Connection is closed.' } },
      { level: 'warn', msg: 'revocation worker recovered', obj: { failedPasses: 1, failedForMs: 700 } },
    ]);
  });
});
