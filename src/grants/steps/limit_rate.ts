/**
 * Step: a grant request spends a token from the agent's bucket and from its source's (the SPIFFE
 * trust domain or OIDC issuer), shared by every replica through the store (limits.grantRequests).
 * It runs first, before anything reads the incident or the profile, so a flood costs one store
 * call per request and learns nothing. Refusals are counted, not audited one by one: a flood must
 * not turn into a flood of audit writes.
 */
import { BrokerError } from '../../errors.js';
import type { DomainDeps } from '../../domain.js';
import type { GrantContext } from '../grant_context.js';

export class RateLimited extends BrokerError {
  constructor(
    readonly bucket: 'agent' | 'source',
    retryAfterMs: number,
  ) {
    const seconds = Math.max(1, Math.ceil(retryAfterMs / 1000));
    super('ERR_RATE_LIMITED', 429, 'too many grant requests; retry later', {
      detail: `the ${bucket} bucket of limits.grantRequests is empty for ${retryAfterMs} ms`,
      headers: { 'Retry-After': String(seconds) },
    });
  }
}

export async function limitRate(deps: Pick<DomainDeps, 'config' | 'store' | 'now'>, ctx: Pick<GrantContext, 'agent'>): Promise<void> {
  const { perAgent, perSource } = deps.config.limits.grantRequests;
  const now = deps.now();
  const buckets: Array<['agent' | 'source', string, { perSecond: number; burst: number }]> = [
    ['agent', `grant-requests:agent:${ctx.agent.id}`, perAgent],
    ['source', `grant-requests:source:${ctx.agent.issuerName}`, perSource],
  ];
  for (const [kind, name, limit] of buckets) {
    if (limit.perSecond === 0) continue;
    const waitMs = await deps.store.takeToken(name, limit.burst, limit.perSecond, now);
    if (waitMs > 0) throw new RateLimited(kind, waitMs);
  }
}
