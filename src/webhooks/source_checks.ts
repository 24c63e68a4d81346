/**
 * Asking the incident tool itself (docs/incidents.md "Source checks and the reconciler"), for
 * sources with an `api` (PagerDuty, incident.io; source_api.ts):
 *
 *  - **before issuing** a grant for one of their incidents, the incident must be open at its
 *    source too (answers cached `cacheSeconds` per incident, in process). An incident the source
 *    has closed (or no longer knows) is closed here and the grant refused 409 ERR_INCIDENT_CLOSED;
 *    when the source cannot be asked, the grant is refused 503 ERR_SOURCE_UNCONFIRMED: fail closed.
 *  - **the reconciler**: every `reconcileSeconds`, one replica at a time (a store lock) re-checks
 *    every open incident of those sources against its source and closes those the source has
 *    closed, so a close webhook that never arrived still revokes. Open webhook incidents are
 *    listed in the store's incident records (namespace `webhook-open`, apply_event.ts).
 */
import type { Config } from '../config/schema.js';
import type { DomainDeps } from '../domain.js';
import { BrokerError, describeCause, incidentClosed } from '../errors.js';
import { closeIncident } from '../incidents/close_incident.js';
import { createLocks } from '../locks.js';
import type { Incident } from '../model.js';
import { readSecretText } from '../secret_files.js';
import type { Store } from '../store/store.js';
import { OPEN_WEBHOOK_INCIDENTS, sourceIncidentOf } from './apply_event.js';
import {
  createIncidentIoApi,
  createPagerDutyApi,
  SourceApiError,
  type IncidentSourceApi,
  type SourceIncidentStatus,
} from './source_api.js';

export const sourceUnconfirmed = (detail: string): BrokerError =>
  new BrokerError('ERR_SOURCE_UNCONFIRMED', 503, "the incident's source could not confirm it is open; try again", { detail });

export interface SourceChecks {
  /** Throws 409 when the source has closed the incident (closing it here too), 503 when it cannot tell. */
  beforeIssue(deps: DomainDeps, incident: Incident): Promise<void>;
  /** One reconciliation pass if one is due and no other replica runs it; returns how many incidents it closed. */
  reconcileIfDue(deps: DomainDeps): Promise<number>;
}

type ApiSource = 'pagerduty' | 'incidentio';

export async function createSourceChecks(
  config: Pick<Config, 'webhooks' | 'mode'>,
  deps: {
    readonly store: Pick<Store, 'acquireLock' | 'renewLock' | 'releaseLock'>;
    readonly logger: DomainDeps['logger'];
    readonly now: () => number;
  },
): Promise<SourceChecks | null> {
  const apis = new Map<
    ApiSource,
    { readonly api: IncidentSourceApi; readonly checkBeforeIssue: boolean; readonly cacheMs: number; readonly timeoutMs: number }
  >();
  for (const source of ['pagerduty', 'incidentio'] as const) {
    const cfg = config.webhooks[source]?.api;
    if (!cfg) continue;
    const token = await readSecretText(cfg.tokenFile, {
      setting: `webhooks.${source}.api.tokenFile`,
      strictPermissions: config.mode !== 'development',
    });
    const options = { token, timeoutMs: cfg.timeoutMs, ...(cfg.baseUrl ? { baseUrl: cfg.baseUrl } : {}) };
    apis.set(source, {
      api: source === 'pagerduty' ? createPagerDutyApi(options) : createIncidentIoApi(options),
      checkBeforeIssue: cfg.checkBeforeIssue,
      cacheMs: cfg.cacheSeconds * 1000,
      timeoutMs: cfg.timeoutMs,
    });
  }
  if (apis.size === 0) return null;
  const { now, logger } = deps;
  const locks = createLocks({ store: deps.store, now, logger, namespace: 'webhooks' });
  const cache = new Map<string, { readonly at: number; readonly status: SourceIncidentStatus }>();
  const intervalMs = config.webhooks.reconcileSeconds * 1000;
  let nextReconcileAt = now() + intervalMs;

  const apiOf = (incident: Incident) => {
    const of = sourceIncidentOf(incident);
    if (of === null || (of.source !== 'pagerduty' && of.source !== 'incidentio')) return null;
    const entry = apis.get(of.source);
    return entry ? { ...entry, source: of.source, sourceIncidentId: of.sourceIncidentId } : null;
  };
  const closeHere = (domain: DomainDeps, incident: Incident, source: string) =>
    closeIncident(domain, incident.id, { id: `reconciler:${source}`, origin: { requestId: `source-check:${incident.id}` } });

  const reconcile = async (domain: DomainDeps): Promise<number> => {
    let closed = 0;
    for (const { incidentId, values } of await domain.store.listIncidentRecords(OPEN_WEBHOOK_INCIDENTS)) {
      const incident = await domain.store.getIncident(incidentId);
      if (incident === null || incident.status === 'closed') {
        await domain.store.removeIncidentRecords(OPEN_WEBHOOK_INCIDENTS, incidentId, values);
        continue;
      }
      const target = apiOf(incident);
      if (target === null) continue;
      let status: SourceIncidentStatus;
      try {
        status = await target.api.status(target.sourceIncidentId, AbortSignal.timeout(target.timeoutMs));
      } catch (err) {
        logger.warn(
          { incidentId, source: target.source, failure: err instanceof SourceApiError ? err.reason : describeCause(err) },
          'reconciler: source not asked; next pass retries',
        );
        continue;
      }
      if (status.state === 'open') continue;
      logger.warn(
        { incidentId, source: target.source, sourceState: status.state },
        'reconciler: closed at its source without a close webhook; closing',
      );
      await closeHere(domain, incident, target.source);
      await domain.store.removeIncidentRecords(OPEN_WEBHOOK_INCIDENTS, incidentId, values);
      domain.metrics.webhookEvents.inc({ source: target.source, outcome: 'reconciled' });
      closed += 1;
    }
    return closed;
  };

  return {
    async beforeIssue(domain, incident) {
      const target = apiOf(incident);
      if (target === null || !target.checkBeforeIssue) return;
      const key = `${target.source}:${target.sourceIncidentId}`;
      const hit = cache.get(key);
      let status: SourceIncidentStatus;
      if (hit && now() - hit.at < target.cacheMs) status = hit.status;
      else {
        try {
          status = await target.api.status(target.sourceIncidentId, AbortSignal.timeout(target.timeoutMs));
        } catch (err) {
          throw sourceUnconfirmed(err instanceof SourceApiError ? err.message : describeCause(err));
        }
        if (cache.size >= 10_000) cache.clear();
        cache.set(key, { at: now(), status });
      }
      if (status.state === 'open') return;
      // The source says it is over, so it is over here: a close webhook was lost or is late.
      await closeHere(domain, incident, target.source);
      throw incidentClosed();
    },

    async reconcileIfDue(domain) {
      if (intervalMs === 0 || now() < nextReconcileAt) return 0;
      nextReconcileAt = now() + intervalMs;
      return locks
        .withLock('reconciler', () => reconcile(domain), { waitMs: 0 })
        .catch((err: unknown) => {
          // Another replica reconciling (the lock), or the store away: the next pass tries again.
          logger.debug({ err: describeCause(err) }, 'reconciler: pass skipped');
          return 0;
        });
    },
  };
}
