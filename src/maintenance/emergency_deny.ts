/**
 * The emergency brake (docs/providers/aws_sts.md "Emergency"): a named operator stops every
 * credential of a provider target issued before now — for AWS STS every session of one role,
 * the broker's and anyone else's — when per-incident revocation cannot keep up (the role's
 * revocation policy is full) or is not enough. Called the same way by HTTP
 * (POST /v1/providers/:name/emergency-deny) and the CLI (`quartermaster provider emergency-deny`).
 * Audited with who asked and why, before and whatever the outcome.
 */
import type { DomainDeps } from '../domain.js';
import { BrokerError } from '../errors.js';
import { actorOf, provenanceOf, type ActorRef } from '../model.js';
import type { EmergencyDenyResult } from '../sdk.js';

export async function emergencyDeny(
  deps: Pick<DomainDeps, 'catalog' | 'audit' | 'now' | 'logger'>,
  by: ActorRef,
  request: { readonly provider: string; readonly target: string; readonly reason: string },
): Promise<EmergencyDenyResult> {
  const provider = deps.catalog.provider(request.provider);
  if (!provider) throw new BrokerError('ERR_VALIDATION', 400, `provider ${request.provider} is not configured`);
  const actor = actorOf(by);
  const base = { actor: actor.id, type: 'provider.emergency_deny', reason: request.reason } as const;
  const data = { provider: request.provider, target: request.target, ...provenanceOf(actor) };
  try {
    const result = await deps.catalog.emergencyDeny(provider, request.target);
    await deps.audit.record({
      ...base,
      at: deps.now(),
      data: { ...data, outcome: 'denied', deniedBefore: result.deniedBefore, until: result.until },
    });
    deps.logger.warn({ provider: request.provider, target: request.target, by: actor.id }, 'emergency deny written');
    return result;
  } catch (err) {
    const code = err instanceof BrokerError ? err.code : 'ERR_INTERNAL';
    await deps.audit.recordRefusal({ ...base, at: deps.now(), data: { ...data, outcome: 'failed', code } });
    throw err;
  }
}
