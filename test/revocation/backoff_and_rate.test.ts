import { describe, expect, it } from 'vitest';
import { backoffDelayMs } from '../../src/revocation/backoff.js';
import { createRateLimiter } from '../../src/revocation/rate_limiter.js';

describe('revocation backoff', () => {
  it('doubles per attempt between half and full delay, capped at the maximum', () => {
    expect(backoffDelayMs(1, 1000, 60_000, () => 1)).toBe(1000);
    expect(backoffDelayMs(1, 1000, 60_000, () => 0)).toBe(500);
    expect(backoffDelayMs(3, 1000, 60_000, () => 1)).toBe(4000);
    expect(backoffDelayMs(30, 1000, 60_000, () => 1)).toBe(60_000);
    expect(backoffDelayMs(10_000, 1000, 60_000, () => 0)).toBe(30_000);
  });

  it('spreads the delay evenly between half and all of it', () => {
    expect(backoffDelayMs(2, 1000, 60_000, () => 0.5)).toBe(1500);
    expect(backoffDelayMs(2, 1000, 60_000, () => 0.25)).toBe(1250);
  });

  it('waits the initial delay before the first attempt and for nonsense attempt numbers', () => {
    expect(backoffDelayMs(0, 1000, 60_000, () => 1)).toBe(1000);
    expect(backoffDelayMs(-5, 1000, 60_000, () => 1)).toBe(1000);
  });
});

describe('revocation rate limiter', () => {
  it('is unlimited at 0 per second', () => {
    const limiter = createRateLimiter(0, () => 0);
    expect(limiter.available(500)).toBe(500);
    expect(limiter.waitMs()).toBe(0);
  });

  it('allows a burst of one second, then refills at the configured rate', () => {
    let now = 0;
    const limiter = createRateLimiter(10, () => now);
    expect(limiter.available(64)).toBe(10);
    limiter.take(10);
    expect(limiter.available(64)).toBe(0);
    expect(limiter.waitMs()).toBe(100);
    now += 500;
    expect(limiter.available(64)).toBe(5);
    now += 10_000;
    expect(limiter.available(64)).toBe(10);
  });

  it('refills continuously: a fraction of a call is not yet a call, and two refills add up to the time elapsed, no more', () => {
    let now = 0;
    const limiter = createRateLimiter(10, () => now);
    limiter.take(10);
    now = 250;
    expect(limiter.available(64)).toBe(2); // 2.5 tokens
    expect(limiter.waitMs()).toBe(0);
    limiter.take(2);
    expect(limiter.waitMs()).toBe(50); // 0.5 token short of one call at 10 a second
    now = 500;
    expect(limiter.available(64)).toBe(3); // 0.5 + 2.5
    expect(limiter.available(2)).toBe(2);
  });

  it('never offers a negative number of calls, and counts a call taken beyond the budget against the next ones', () => {
    let now = 0;
    const limiter = createRateLimiter(10, () => now);
    limiter.take(15);
    expect(limiter.available(64)).toBe(0);
    expect(limiter.waitMs()).toBe(600); // 5 owed plus one
    now = 600;
    expect(limiter.available(64)).toBe(1);
  });
});
