/**
 * Applies a queued signal (docs/deviation.md "Outcomes"): the policy set decides the outcome
 * (policy/signal_policy.ts) — none, revoke the agent's grants in the signal's incident, revoke
 * them everywhere, or quarantine the agent (agents/quarantine.ts: everything revoked, nothing new
 * until a named operator lifts it) — and the outcome is audited as one `deviation.decided` event
 * naming the signal, its source and the deciding policies. Revoked grants go the durable
 * revocation path (reason `deviation`), whose SETs tell the receivers.
 *
 * Applying is idempotent: a signal the worker applies again (its broker died before finishing it)
 * revokes nothing twice and is audited once (the event's dedupe key is the signal's).
 */
import { quarantineAgent, isQuarantined, quarantineOf } from '../agents/quarantine.js';
import type { DomainDeps } from '../domain.js';
import { isLive, SEVERITIES, type Incident } from '../model.js';
import type { SignalDecision, SignalOutcome } from '../policy/signal_policy.js';
import { agentEntityOf, type Signal } from './signal.js';

export interface AppliedSignal {
  readonly outcome: SignalOutcome;
  readonly decidedBy: readonly string[];
  /** Grants queued for revocation by this outcome. */
  readonly revoked: number;
}

const severityRank = (incident: Incident): number => SEVERITIES.indexOf(incident.severity) + 1;

export async function applySignal(deps: DomainDeps, signal: Signal): Promise<AppliedSignal> {
  const at = deps.now();
  const [quarantine, incident] = await Promise.all([
    quarantineOf(deps.store, signal.agent),
    signal.incidentId === undefined ? Promise.resolve(null) : deps.store.getIncident(signal.incidentId),
  ]);
  const decision: SignalDecision = deps.policy?.decideSignal
    ? deps.policy.decideSignal({
        agent: agentEntityOf(deps.config, signal.agent),
        signal: { id: signal.id, kind: signal.kind, severity: signal.severity, source: signal.source, detector: signal.detector },
        ...(incident === null
          ? {}
          : {
              incident: {
                id: incident.id,
                severity: severityRank(incident),
                status: incident.status,
                source: incident.source,
                major: incident.major !== undefined && incident.major.endsAt > at,
                tiersGranted: incident.tiersGranted ?? [],
              },
            }),
        quarantined: isQuarantined(quarantine),
        hour: new Date(at).getUTCHours(),
      })
    : { outcome: 'none', policyIds: [], errors: [], declared: false };
  if (decision.errors.length > 0)
    deps.logger.warn({ signal: signal.id, source: signal.source, errors: decision.errors }, 'policies failed deciding a signal');

  let revoked = 0;
  const actor = `${signal.detector ? '' : 'signal:'}${signal.source}`;
  if (decision.outcome === 'quarantine') {
    const reason = `deviation signal ${signal.kind} (${signal.severity}) from ${signal.source}, decided by ${decision.policyIds.join(', ')}`;
    revoked = (await quarantineAgent(deps, signal.agent, reason, actor)).revoking.length;
  } else if (decision.outcome === 'revoke_everywhere' || (decision.outcome === 'revoke_in_incident' && signal.incidentId !== undefined)) {
    const scope =
      decision.outcome === 'revoke_in_incident' && signal.incidentId !== undefined ? { incidentId: signal.incidentId } : undefined;
    // One store call per grant, all at once: an agent holding many grants loses them together.
    const live = (await deps.store.listGrantsByAgent(signal.agent, scope)).filter(isLive);
    const after = await Promise.all(live.map((grant) => deps.store.requestRevocation(grant.id, 'deviation', at)));
    revoked = after.filter((g) => g?.state === 'revoking' && g.revokeReason === 'deviation').length;
    if (revoked > 0) deps.nudgeRevocation();
  }

  deps.metrics.deviationOutcomes.inc({ outcome: decision.outcome, detector: String(signal.detector) });
  await deps.audit.record(
    {
      at,
      type: 'deviation.decided',
      actor,
      ...(signal.incidentId === undefined ? {} : { incidentId: signal.incidentId }),
      ...(signal.grantId === undefined ? {} : { grantId: signal.grantId }),
      reason: decision.outcome,
      data: {
        agent: signal.agent,
        signalId: signal.id,
        source: signal.source,
        kind: signal.kind,
        severity: signal.severity,
        subjectFormat: signal.subject.format,
        detector: signal.detector,
        outcome: decision.outcome,
        decidedBy: decision.policyIds,
        revoked,
        evidence: signal.evidence,
        ...(signal.summary === undefined ? {} : { summary: signal.summary }),
        ...(decision.declared ? {} : { undecided: deps.policy ? 'the policy schema declares no outcome actions' : 'no policy set' }),
        ...(decision.shadowOutcome === undefined ? {} : { shadowOutcome: decision.shadowOutcome }),
        ...(decision.outcome === 'revoke_in_incident' && signal.incidentId === undefined
          ? { note: 'the signal concerns no incident' }
          : {}),
      },
    },
    { dedupeKey: `deviation:${signal.source}:${signal.id}` },
  );
  deps.logger.info(
    { signal: signal.id, source: signal.source, kind: signal.kind, agent: signal.agent, outcome: decision.outcome, revoked },
    'deviation signal decided',
  );
  return { outcome: decision.outcome, decidedBy: decision.policyIds, revoked };
}
