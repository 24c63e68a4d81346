/**
 * Applies one incident event from a webhook (docs/incidents.md "Event mapping") to the ledger.
 * Deliveries come out of order and more than once, so what an event does depends on what the
 * broker already knows of that source incident — kept in a register per source incident (store
 * compareAndSetRegister, so replicas applying events of one incident at once never lose one):
 *
 *  - the incident's current **epoch** and whether it is open or closed, with the source times of
 *    the epoch's opening and close and of the last severity or title change;
 *  - closed is terminal for an epoch: nothing reopens it but a `reopened` event that happened
 *    after the close, which starts a new epoch (a new broker incident, `<base>:r<n>`), whose
 *    grants are new; a stale update (older than the close) changes nothing;
 *  - a `resolved` that happened before the epoch opened belongs to an older epoch: ignored;
 *  - a close the broker hears of first (resolved before triggered) writes the tombstone at once,
 *    so the late `triggered` finds the incident closed.
 *
 * Webhooks are signals, not authority: no event issues anything. Applying is idempotent: the
 * register is decided first, then the ledger is brought to it (create, update, close — each
 * idempotent), so a processor that died between the two is finished by the redelivery.
 */
import type { DomainDeps } from '../domain.js';
import { closeIncident } from '../incidents/close_incident.js';
import type { Incident, Severity } from '../model.js';
import type { Store } from '../store/store.js';
import type { IncidentEvent, WebhookSourceName } from './sources/event.js';

/** What the broker knows of one source incident. */
export interface SourceIncidentState {
  readonly epoch: number;
  readonly incidentId: string;
  readonly status: 'open' | 'closed';
  /** Source times (ms): the epoch's opening (or the first event heard of it), its close, its last change. */
  readonly openedAt: number;
  readonly closedAt?: number;
  readonly changedAt?: number;
}

export type ApplyOutcome = 'opened' | 'updated' | 'closed' | 'reopened' | 'unchanged' | 'stale';

/** The broker's id of a source incident's epoch: `pagerduty:Q1ABC` first, `pagerduty:Q1ABC:r2` after a reopen. */
export const epochIncidentId = (source: WebhookSourceName, sourceIncidentId: string, epoch: number): string =>
  epoch === 1 ? `${source}:${sourceIncidentId}` : `${source}:${sourceIncidentId}:r${epoch}`;

export const registerKey = (source: WebhookSourceName, sourceIncidentId: string): string => `webhook:${source}:${sourceIncidentId}`;

const EPOCH_ID = /^(pagerduty|incidentio|generic):(.+?)(?::r\d+)?$/u;

/** The store's incident-records namespace of open webhook incidents (the reconciler visits them, source_checks.ts). */
export const OPEN_WEBHOOK_INCIDENTS = 'webhook-open';

/** The source incident a broker incident is an epoch of; null for an incident no webhook source made. */
export function sourceIncidentOf(
  incident: Pick<Incident, 'id' | 'source'>,
): { source: WebhookSourceName; sourceIncidentId: string } | null {
  const match = EPOCH_ID.exec(incident.id);
  if (!match || match[1] !== incident.source) return null;
  return { source: match[1] as WebhookSourceName, sourceIncidentId: match[2] as string };
}

/**
 * The id of the current epoch of the source incident `incident` is an epoch of, or null when it
 * came from no webhook source (or the register is gone). For a closed epoch whose source
 * incident was reopened, that is the newer epoch.
 */
export async function currentEpochOf(store: Pick<Store, 'getRegister'>, incident: Pick<Incident, 'id' | 'source'>): Promise<string | null> {
  const of = sourceIncidentOf(incident);
  if (of === null) return null;
  const raw = await store.getRegister(registerKey(of.source, of.sourceIncidentId));
  return raw === null ? null : (JSON.parse(raw) as SourceIncidentState).incidentId;
}

/** The next state for `event` given what is known; `outcome` says what the event meant. */
export function decide(state: SourceIncidentState | null, event: IncidentEvent): { state: SourceIncidentState; outcome: ApplyOutcome } {
  const at = event.occurredAt;
  const first = (status: 'open' | 'closed'): SourceIncidentState => ({
    epoch: 1,
    incidentId: epochIncidentId(event.source, event.sourceIncidentId, 1),
    status,
    openedAt: at,
    ...(status === 'closed' ? { closedAt: at } : { changedAt: at }),
  });
  if (state === null)
    return event.kind === 'resolved' ? { state: first('closed'), outcome: 'closed' } : { state: first('open'), outcome: 'opened' };
  if (state.status === 'closed') {
    if (event.kind === 'reopened' && at > (state.closedAt ?? state.openedAt)) {
      const epoch = state.epoch + 1;
      return {
        state: {
          epoch,
          incidentId: epochIncidentId(event.source, event.sourceIncidentId, epoch),
          status: 'open',
          openedAt: at,
          changedAt: at,
        },
        outcome: 'reopened',
      };
    }
    return { state, outcome: event.kind === 'resolved' ? 'unchanged' : 'stale' };
  }
  // Open.
  if (event.kind === 'resolved') {
    if (at < state.openedAt) return { state, outcome: 'stale' };
    return { state: { ...state, status: 'closed', closedAt: at }, outcome: 'closed' };
  }
  if (event.kind === 'reopened' || event.kind === 'triggered') return { state, outcome: 'unchanged' };
  if (at < (state.changedAt ?? state.openedAt)) return { state, outcome: 'stale' };
  return { state: { ...state, changedAt: at }, outcome: 'updated' };
}

export interface ApplyContext {
  readonly deliveryId: string;
  readonly defaultSeverity: Severity;
}

/** Applies `event`: decides the register's next state (compare-and-set, retried on a concurrent change), then brings the ledger to it. */
export async function applyIncidentEvent(deps: DomainDeps, event: IncidentEvent, ctx: ApplyContext): Promise<ApplyOutcome> {
  const key = registerKey(event.source, event.sourceIncidentId);
  for (let attempt = 0; ; attempt++) {
    const raw = await deps.store.getRegister(key);
    const current = raw === null ? null : (JSON.parse(raw) as SourceIncidentState);
    const { state, outcome } = decide(current, event);
    if (state !== current) {
      const written = await deps.store.compareAndSetRegister(key, raw, JSON.stringify(state));
      if (!written) {
        if (attempt >= 20) throw new Error(`source incident ${key} kept changing under this delivery`);
        continue;
      }
    }
    await bringLedgerTo(deps, state, event, outcome, ctx);
    return outcome;
  }
}

/** The longest title an operator may give an incident (http/validation.ts); a vendor's is cut to it. */
const TITLE_MAX = 500;

/** A vendor's title as an incident title: no control characters, at most TITLE_MAX characters. */
function titleOf(event: IncidentEvent): string {
  const clean = (event.title ?? '').replace(/\p{Cc}/gu, ' ').trim();
  const title = clean === '' ? `${event.source} incident ${event.sourceIncidentId}` : clean;
  return [...title].slice(0, TITLE_MAX).join('');
}

/** Every step idempotent: a redelivery after a crash anywhere here finishes the job. */
async function bringLedgerTo(
  deps: DomainDeps,
  state: SourceIncidentState,
  event: IncidentEvent,
  outcome: ApplyOutcome,
  ctx: ApplyContext,
): Promise<void> {
  const actor = `webhook:${event.source}`;
  const provenance = {
    deliveryId: ctx.deliveryId,
    sourceIncidentId: event.sourceIncidentId,
    epoch: state.epoch,
    ...(event.eventId ? { eventId: event.eventId } : {}),
  };
  const now = deps.now();
  const incident: Incident = {
    id: state.incidentId,
    source: event.source,
    title: titleOf(event),
    severity: event.severity ?? ctx.defaultSeverity,
    // An epoch first heard of as closed (resolved before triggered) is written as a tombstone at
    // once: the late trigger finds it closed, and nothing can be issued for it in between.
    status: state.status,
    openedAt: now,
    openedBy: actor,
    ...(state.status === 'closed' ? { closedAt: now, closedBy: actor } : {}),
  };
  const { created } = await deps.store.createIncident(incident);
  if (created) {
    await deps.audit.record(
      {
        at: now,
        type: 'incident.opened',
        actor,
        incidentId: incident.id,
        data: { severity: incident.severity, source: incident.source, ...(event.url ? { url: event.url } : {}), ...provenance },
      },
      { dedupeKey: `incident.opened:${incident.id}` },
    );
  }
  if (state.status === 'closed') {
    await closeIncident(deps, state.incidentId, { id: actor, origin: { requestId: ctx.deliveryId } });
    await deps.store.removeIncidentRecords(OPEN_WEBHOOK_INCIDENTS, state.incidentId, [event.sourceIncidentId]);
    return;
  }
  // Listed for the reconciler (source_checks.ts) while open.
  await deps.store.addIncidentRecord(OPEN_WEBHOOK_INCIDENTS, state.incidentId, event.sourceIncidentId);
  if (outcome === 'updated' && (event.severity !== undefined || event.title !== undefined)) {
    const before = await deps.store.getIncident(state.incidentId);
    const title = event.title === undefined ? undefined : titleOf(event);
    const patch = {
      ...(event.severity !== undefined && event.severity !== before?.severity ? { severity: event.severity } : {}),
      ...(title !== undefined && title !== before?.title ? { title } : {}),
    };
    if (Object.keys(patch).length === 0) return;
    const result = await deps.store.updateIncident(state.incidentId, patch);
    if (result?.updated) {
      await deps.audit.record({
        at: now,
        type: 'incident.updated',
        actor,
        incidentId: state.incidentId,
        data: {
          ...(patch.severity ? { severity: patch.severity, previousSeverity: before?.severity ?? '' } : {}),
          ...(patch.title ? { titleChanged: true } : {}),
          ...(event.sourceStatus ? { sourceStatus: event.sourceStatus } : {}),
          ...provenance,
        },
      });
    }
  }
}
