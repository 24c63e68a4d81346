/**
 * Token bucket bounding revocation calls per second per broker (revocation.maxPerSecond): a close
 * storm must not throttle the provider into refusing issuance for everyone else.
 */
export interface RateLimiter {
  /** How many calls may start now (0…max). */
  available(max: number): number;
  take(n: number): void;
  /** Milliseconds until one more call may start. */
  waitMs(): number;
}

export function createRateLimiter(perSecond: number, now: () => number): RateLimiter {
  if (perSecond <= 0) return { available: (max) => max, take: () => undefined, waitMs: () => 0 };
  let tokens = perSecond;
  let at = now();
  const refill = (): void => {
    const t = now();
    tokens = Math.min(perSecond, tokens + ((t - at) / 1000) * perSecond);
    at = t;
  };
  return {
    available(max) {
      refill();
      return Math.max(0, Math.min(max, Math.floor(tokens)));
    },
    take(n) {
      refill();
      tokens -= n;
    },
    waitMs() {
      refill();
      return tokens >= 1 ? 0 : Math.ceil(((1 - tokens) / perSecond) * 1000);
    },
  };
}
