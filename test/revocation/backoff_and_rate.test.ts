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
});
