/**
 * Step: the grant's TTL is min(requested or the profile default, profile maxTtl, provider max),
 * never below the provider's minimum (AWS STS: 900 s). Core clamps; providers never decide this.
 */
import type { ProfileEntry } from '../../catalog/catalog.js';

export function resolveTtl(profile: ProfileEntry, requestedSeconds: number | undefined): number {
  const { maxTtl, defaultTtl } = profile.config;
  const { minTtlSeconds, maxTtlSeconds } = profile.provider.capabilities;
  const wanted = requestedSeconds ?? defaultTtl ?? maxTtl;
  const ceiling = Math.min(maxTtl, maxTtlSeconds);
  return Math.max(Math.min(wanted, ceiling), Math.min(minTtlSeconds, ceiling));
}
