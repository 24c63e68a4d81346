/**
 * Step: the grant's TTL is min(requested or the profile default, profile maxTtl, provider max),
 * never below the provider's minimum (AWS STS: 900 s). Core clamps; providers never decide this.
 */
import type { GrantContext } from '../grant_context.js';

export function resolveTtl(ctx: Pick<GrantContext, 'profile' | 'request'>): number {
  const { profile } = ctx;
  const requestedSeconds = ctx.request.ttlSeconds;
  const { maxTtl, defaultTtl } = profile.config;
  const { minTtlSeconds, maxTtlSeconds } = profile.provider.capabilities;
  const wanted = requestedSeconds ?? defaultTtl ?? maxTtl;
  const ceiling = Math.min(maxTtl, maxTtlSeconds);
  return Math.max(Math.min(wanted, ceiling), Math.min(minTtlSeconds, ceiling));
}
