/**
 * A deviation signal (docs/deviation.md): something a detection system or one of the broker's own
 * detectors saw an agent do outside its task. Signals are queued durably in the store's delivery
 * queue (the webhook inbox, source `signal:<source>`), deduplicated per source and id, and applied
 * by any replica's worker (apply_signal.ts): the policy decides the outcome.
 */
import type { DomainDeps } from '../domain.js';
import type { SignalSeverity } from '../model.js';
import type { Config } from '../config/schema.js';
import { parseSpiffeId } from '../identity/spiffe_id.js';
import type { SignalPolicyRequest } from '../policy/signal_policy.js';

export const SIGNAL_QUEUE_PREFIX = 'signal:';
/** The source of the broker's own detectors' signals. */
export const DETECTOR_SOURCE = 'quartermaster';

/** How a signal names what it is about: an agent, a grant, or a credential by a provider's subject format. */
export interface SignalSubject {
  /** `agent`, `grant_id`, `jti`, or a provider's format (`aws_access_key_id`, `vault_accessor`). */
  readonly format: string;
  readonly id: string;
}

export interface Signal {
  /** The sender's id for it: with the source, what makes it one signal however often it is sent. */
  readonly id: string;
  /** A configured source's name, an operator's subject, or `quartermaster` (a detector). */
  readonly source: string;
  readonly kind: string;
  readonly severity: SignalSeverity;
  readonly subject: SignalSubject;
  /** What the subject resolved to when the signal was received. */
  readonly agent: string;
  readonly incidentId?: string;
  readonly grantId?: string;
  readonly summary?: string;
  /** References to the evidence (URLs, SIEM event ids): never the evidence itself. */
  readonly evidence: readonly string[];
  readonly observedAt?: number;
  readonly receivedAt: number;
  readonly detector: boolean;
}

/**
 * Queues the signal; durable once it resolves. A signal its source sent before (same id within
 * `deviation.dedupeSeconds`) is a duplicate and changes nothing.
 */
export async function raiseSignal(
  deps: Pick<DomainDeps, 'store' | 'config' | 'nudgeRevocation'>,
  signal: Signal,
): Promise<'recorded' | 'duplicate'> {
  const recorded = await deps.store.recordDelivery(
    {
      source: `${SIGNAL_QUEUE_PREFIX}${signal.source}`,
      deliveryId: signal.id,
      receivedAt: signal.receivedAt,
      event: { ...signal, subject: { ...signal.subject }, evidence: [...signal.evidence] },
    },
    { dedupeMs: deps.config.deviation.dedupeSeconds * 1000, now: signal.receivedAt },
  );
  if (recorded === 'recorded') deps.nudgeRevocation();
  return recorded;
}

/** The agent as the policy's Agent entity, from its id alone (a signal carries no token). */
export function agentEntityOf(config: Pick<Config, 'identity'>, agentId: string): SignalPolicyRequest['agent'] {
  const spiffe = parseSpiffeId(agentId);
  if (spiffe) {
    const pinned = config.identity.agents.spiffe.find((t) => t.trustDomain === spiffe.trustDomain)?.issuer;
    return {
      id: agentId,
      kind: 'spiffe',
      trustDomain: spiffe.trustDomain,
      path: spiffe.path,
      issuer: pinned ?? `spiffe://${spiffe.trustDomain}`,
    };
  }
  const hash = agentId.indexOf('#');
  const issuer = hash === -1 ? agentId : agentId.slice(0, hash);
  const configured = config.identity.agents.oidc.find((o) => o.issuer === issuer);
  let host = configured?.name ?? '';
  try {
    host = new URL(issuer).host || host;
  } catch {
    // An issuer that is no URL: its configured name stands for its trust domain, as for tokens.
  }
  return { id: agentId, kind: 'oidc', trustDomain: host, path: hash === -1 ? '' : agentId.slice(hash + 1), issuer };
}
