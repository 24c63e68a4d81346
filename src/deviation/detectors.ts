/**
 * The broker's own deviation detectors (docs/deviation.md "Detectors"). Each counts its events in
 * a store window (Store.countInWindow), so every replica counts into the same one, and fires once
 * per window — a signal from source `quartermaster` — when the count reaches its threshold:
 *
 *  - `repeated_denials`: grant requests the policy (or a profile's or incident's agents) denied, per agent;
 *  - `out_of_scope_profile`: requests for a profile the agent may not have in the incident — a
 *    profile whose agents it is not among, an incident it is not assigned to, a profile that does
 *    not exist — per agent and incident;
 *  - `request_rate`: grant requests, allowed or not, per agent;
 *  - `revoked_token_use`: introspections of a broker-signed token whose grant was revoked or
 *    released (not one that merely expired), per grant: whoever presents it kept a dead credential;
 *  - `request_after_close`: grant requests for an incident that has closed, per agent and incident.
 *
 * Detection never delays or changes the answer of the request it watches: it runs after it, its
 * failures are logged and counted, and the signal it raises is decided by the policy like any other.
 * Grant requests, the one event of every request, are counted in this process and added to the
 * store window in one call per agent every FLUSH_MS (the store sees them at most that late), so
 * the request-rate detector costs a grant request no store call of its own.
 */
import { createHash } from 'node:crypto';
import type { DomainDeps } from '../domain.js';
import type { BrokerError } from '../errors.js';
import { describeCause } from '../errors.js';
import type { Grant } from '../model.js';
import { DETECTOR_SOURCE, raiseSignal, type Signal } from './signal.js';

export const DETECTOR_KINDS = {
  repeatedDenials: 'repeated_denials',
  outOfScopeProfiles: 'out_of_scope_profile',
  requestRate: 'request_rate',
  revokedTokenUse: 'revoked_token_use',
  requestsAfterClose: 'request_after_close',
} as const;
export type DetectorName = keyof typeof DETECTOR_KINDS;

export interface Detectors {
  /** A grant request arrived (before it is decided). */
  requested(agentId: string): void;
  /** A grant request was refused with `error`. */
  refused(agentId: string, request: { readonly incidentId: string; readonly profile: string }, error: BrokerError): void;
  /** An introspection verified a broker-signed token whose grant is no longer active. */
  introspectedDead(grant: Grant): void;
  /** Counts what waits to be flushed, and resolves when every detection started so far has finished (tests, shutdown). */
  settled(): Promise<void>;
}

/** How often this replica adds the grant requests it counted to the store windows. */
export const FLUSH_MS = 250;

/** The codes that mean the profile is outside what the incident allows this agent. */
const OUT_OF_SCOPE_RULES = /^(profiles\.[^.]+\.agents|incident\.agents)$/u;

const digest = (text: string): string => createHash('sha256').update(text).digest('base64url').slice(0, 22);

export function createDetectors(deps: DomainDeps): Detectors {
  const cfg = deps.config.deviation.detectors;
  const running = new Set<Promise<void>>();

  /** Counts one event for `name` on `key`; at the threshold, raises the detector's signal once per window. */
  async function count(
    name: DetectorName,
    key: string,
    about: Pick<Signal, 'agent' | 'subject'> & Partial<Signal>,
    summary: string,
    by = 1,
  ): Promise<void> {
    const detector = cfg[name];
    const windowMs = detector.windowSeconds * 1000;
    const now = deps.now();
    const seen = await deps.store.countInWindow(`deviation:${name}:${key}`, windowMs, now, by);
    if (seen < detector.threshold) return;
    // One signal per window: the first replica past the threshold raises it.
    const window = Math.floor(now / windowMs);
    if (!(await deps.store.claimOnce(`deviation:${name}:${key}:fired`, now + windowMs, now))) return;
    const signal: Signal = {
      id: `${DETECTOR_KINDS[name]}-${digest(`${key}\n${window}`)}`,
      source: DETECTOR_SOURCE,
      kind: DETECTOR_KINDS[name],
      severity: detector.severity,
      evidence: [],
      receivedAt: now,
      detector: true,
      summary: `${summary}: ${Math.floor(seen)} in ${detector.windowSeconds}s (threshold ${detector.threshold})`,
      ...about,
    };
    deps.metrics.deviationDetections.inc({ detector: DETECTOR_KINDS[name] });
    await raiseSignal(deps, signal);
  }

  function detect(name: DetectorName, work: () => Promise<void>): void {
    if (!cfg[name].enabled) return;
    const run = work().catch((err: unknown) => {
      deps.metrics.deviationDetections.inc({ detector: `${DETECTOR_KINDS[name]}_failed` });
      deps.logger.warn({ detector: DETECTOR_KINDS[name], err: describeCause(err) }, 'deviation detector could not count');
    });
    running.add(run);
    void run.finally(() => running.delete(run));
  }

  const agentSubject = (agentId: string) => ({ format: 'agent', id: agentId });
  /** Grant requests counted here since the last flush, by agent. */
  let requests = new Map<string, number>();
  let flushTimer: NodeJS.Timeout | null = null;
  const flush = (): void => {
    if (flushTimer) clearTimeout(flushTimer);
    flushTimer = null;
    const batch = requests;
    requests = new Map();
    for (const [agentId, n] of batch)
      detect('requestRate', () => count('requestRate', agentId, { agent: agentId, subject: agentSubject(agentId) }, 'grant requests', n));
  };
  return {
    requested(agentId) {
      if (!cfg.requestRate.enabled) return;
      requests.set(agentId, (requests.get(agentId) ?? 0) + 1);
      if (flushTimer === null) {
        flushTimer = setTimeout(flush, FLUSH_MS);
        flushTimer.unref();
      }
    },
    refused(agentId, request, error) {
      const incident = { incidentId: request.incidentId };
      const about = { agent: agentId, subject: agentSubject(agentId) };
      if (error.code === 'ERR_POLICY_DENIED')
        detect('repeatedDenials', () => count('repeatedDenials', agentId, about, 'grant requests denied by policy'));
      const decidedBy = (error.publicFields?.decided_by ?? []) as readonly string[];
      const outOfScope =
        error.code === 'ERR_PROFILE_NOT_FOUND' ||
        (error.code === 'ERR_POLICY_DENIED' && decidedBy.some((id) => OUT_OF_SCOPE_RULES.test(id)));
      if (outOfScope)
        detect('outOfScopeProfiles', () =>
          count(
            'outOfScopeProfiles',
            JSON.stringify([agentId, request.incidentId]),
            // The incident it asked about, whether or not it exists: revoking in a missing one revokes nothing.
            { ...about, ...incident },
            `requests for profiles outside what incident ${request.incidentId} allows the agent (last: ${request.profile})`,
          ),
        );
      if (error.code === 'ERR_INCIDENT_CLOSED')
        detect('requestsAfterClose', () =>
          count(
            'requestsAfterClose',
            JSON.stringify([agentId, request.incidentId]),
            { ...about, ...incident },
            `grant requests after incident ${request.incidentId} closed`,
          ),
        );
    },
    introspectedDead(grant) {
      if (grant.state !== 'revoking' && grant.state !== 'revoked') return;
      detect('revokedTokenUse', () =>
        count(
          'revokedTokenUse',
          grant.id,
          { agent: grant.agent, incidentId: grant.incidentId, grantId: grant.id, subject: { format: 'grant_id', id: grant.id } },
          `a token of grant ${grant.id} (${grant.revokeReason ?? 'revoked'}) presented after its revocation`,
        ),
      );
    },
    async settled() {
      flush();
      while (running.size > 0) await Promise.all([...running]);
    },
  };
}
