/**
 * Break-glass (docs/approvals.md "Break-glass"): an operator puts an incident in major-incident
 * mode with a reason and an expiry (at most `breakGlass.maxSeconds`). Policies see it as
 * `context.incident.major` and may allow more under it; every grant issued under it is marked
 * (its audit event's `underMajor`, and the incident's `major-grants` records), and listed in the
 * post-incident report. The mode ends by itself at its expiry — the worker's sweep ends it on
 * whichever replica comes first, once — or by an operator; then its grants are revoked
 * (`breakGlass.onEnd: revoke`, the default) or kept to their own TTL.
 */
import { BrokerError, incidentClosed, incidentNotFound } from '../errors.js';
import type { DomainDeps } from '../domain.js';
import { actorOf, provenanceOf, type ActorRef, type Incident, type MajorMode } from '../model.js';

/** Incident records: incidents in major-incident mode (value: the mode's end), for the sweep. */
export const MAJOR_INCIDENTS = 'major';
/** Incident records: the grants issued under major-incident mode. */
export const MAJOR_GRANTS = 'major-grants';

export const isMajor = (incident: Pick<Incident, 'major'>, now: number): boolean =>
  incident.major !== undefined && incident.major.endsAt > now;

export async function startMajorMode(
  deps: Pick<DomainDeps, 'store' | 'audit' | 'now' | 'config'>,
  incidentId: string,
  input: { readonly reason: string; readonly durationSeconds: number },
  by: ActorRef,
): Promise<Incident> {
  const actor = actorOf(by);
  const max = deps.config.breakGlass.maxSeconds;
  if (input.durationSeconds > max) {
    throw new BrokerError('ERR_VALIDATION', 400, `major-incident mode lasts at most breakGlass.maxSeconds (${max} s)`);
  }
  const now = deps.now();
  const major: MajorMode = { startedAt: now, endsAt: now + input.durationSeconds * 1000, by: actor.id, reason: input.reason };
  // Listed first: a mode the sweep cannot find would never end by itself.
  await deps.store.addIncidentRecord(MAJOR_INCIDENTS, incidentId, 'on');
  const result = await deps.store.updateIncident(incidentId, { major });
  if (result === null) throw incidentNotFound();
  if (!result.updated) throw incidentClosed();
  await deps.audit.record({
    at: now,
    type: 'incident.major_started',
    actor: actor.id,
    incidentId,
    reason: input.reason,
    data: { endsAt: new Date(major.endsAt).toISOString(), durationSeconds: input.durationSeconds, ...provenanceOf(actor) },
  });
  return result.incident;
}

export interface MajorEnd {
  readonly incident: Incident;
  /** Grants issued under the mode that are now being revoked (breakGlass.onEnd: revoke). */
  readonly revoking: readonly string[];
}

/**
 * Ends the mode (an operator, or the sweep at its expiry): only the mode that was read, so a mode
 * an operator extended meanwhile goes on. Audited once per mode.
 */
export async function endMajorMode(
  deps: Pick<DomainDeps, 'store' | 'audit' | 'now' | 'config' | 'nudgeRevocation'>,
  incidentId: string,
  by: ActorRef,
  reason: string,
): Promise<MajorEnd> {
  const actor = actorOf(by);
  const incident = await deps.store.getIncident(incidentId);
  if (incident === null) throw incidentNotFound();
  const mode = incident.major;
  if (mode === undefined) throw new BrokerError('ERR_MAJOR_NOT_ACTIVE', 409, 'the incident is not in major-incident mode');
  const now = deps.now();
  const updated = incident.status === 'open' ? await deps.store.updateIncident(incidentId, { endMajorEndingAt: mode.endsAt }) : null;
  const after = updated?.incident ?? incident;
  if (after.major !== undefined && after.major.endsAt !== mode.endsAt) {
    // Extended meanwhile: that mode goes on.
    return { incident: after, revoking: [] };
  }
  const [grants] = await deps.store.listIncidentRecords(MAJOR_GRANTS, incidentId);
  const underMode = grants?.values ?? [];
  const revoking: string[] = [];
  if (deps.config.breakGlass.onEnd === 'revoke') {
    for (const grantId of underMode) {
      const grant = await deps.store.requestRevocation(grantId, 'break_glass_ended', now);
      if (grant?.state === 'revoking') revoking.push(grantId);
    }
    if (revoking.length > 0) deps.nudgeRevocation();
  }
  await deps.audit.record(
    {
      at: now,
      type: 'incident.major_ended',
      actor: actor.id,
      incidentId,
      reason,
      data: {
        startedAt: new Date(mode.startedAt).toISOString(),
        endsAt: new Date(mode.endsAt).toISOString(),
        startedBy: mode.by,
        grantsUnderMode: underMode.length,
        grantsRevoked: revoking.length,
        onEnd: deps.config.breakGlass.onEnd,
        ...provenanceOf(actor),
      },
    },
    { dedupeKey: `incident.major_ended:${incidentId}:${mode.startedAt}` },
  );
  await deps.store.removeIncidentRecords(MAJOR_INCIDENTS, incidentId, ['on']);
  return { incident: after, revoking };
}

/** Ends every mode past its expiry (the worker's sweep; any replica, idempotent). Returns how many it ended. */
export async function sweepMajorModes(deps: Pick<DomainDeps, 'store' | 'audit' | 'now' | 'config' | 'nudgeRevocation'>): Promise<number> {
  const now = deps.now();
  let ended = 0;
  for (const set of await deps.store.listIncidentRecords(MAJOR_INCIDENTS)) {
    const incident = await deps.store.getIncident(set.incidentId);
    if (incident?.major === undefined) {
      await deps.store.removeIncidentRecords(MAJOR_INCIDENTS, set.incidentId, set.values);
      continue;
    }
    if (incident.major.endsAt > now && incident.status === 'open') continue;
    await endMajorMode(deps, set.incidentId, 'quartermaster', incident.status === 'open' ? 'expired' : 'incident_closed');
    ended += 1;
  }
  return ended;
}

/** Marks a grant issued under major-incident mode, for its end and the report. */
export async function noteMajorGrant(deps: Pick<DomainDeps, 'store'>, incidentId: string, grantId: string): Promise<void> {
  await deps.store.addIncidentRecord(MAJOR_GRANTS, incidentId, grantId);
}
