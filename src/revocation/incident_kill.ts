/**
 * The kill at close: as an incident's close is recorded, every provider that can end a whole
 * incident from its own records (sdk.ts Provider.killIncident: Vault's recorded parent tokens,
 * AWS STS's recorded roles) is asked to, at once, beside the revocation queue. The credentials are
 * then dead one provider call after the close, not after the worker has woken, claimed its first
 * batch and read each grant of it (docs/performance.md, S4 time to dead).
 *
 * An accelerator, never the guarantee: the queue still revokes every grant with receipts (the
 * close enqueued them before this runs), whether the kill ran, failed or this process died during
 * it. So a kill is not retried, and a failure is only logged and counted. Any replica closing an
 * incident kills it; the providers make a repeat cheap.
 */
import { toBrokerError } from '../errors.js';
import type { Catalog } from '../catalog/catalog.js';
import type { Logger } from '../logging.js';
import type { Metrics } from '../metrics.js';

export interface IncidentKill {
  /**
   * Starts the kill of the incident by every provider that has one; never throws, never waits.
   * The promise settles (never rejects) once this incident's kills have: the close gives them a
   * head start on its own event loop (incidents/close_incident.ts).
   */
  begin(incidentId: string, closedAt: number): Promise<void>;
  /** Resolves once every kill begun has settled (shutdown, tests). */
  settled(): Promise<void>;
}

interface KillDeps {
  readonly catalog: Pick<Catalog, 'providers' | 'killIncident'>;
  readonly metrics: Pick<Metrics, 'incidentKillSeconds'>;
  readonly logger: Logger;
  readonly now: () => number;
}

export function createIncidentKill(deps: KillDeps): IncidentKill {
  const inFlight = new Set<Promise<void>>();
  const observe = (provider: string, outcome: 'killed' | 'nothing' | 'failed', closedAt: number): void =>
    deps.metrics.incidentKillSeconds.observe({ provider, outcome }, Math.max(0, deps.now() - closedAt) / 1000);

  return {
    begin(incidentId, closedAt) {
      const kills: Array<Promise<void>> = [];
      for (const provider of deps.catalog.providers()) {
        if (!provider.killIncident || !provider.capabilities.incidentRevocation) continue;
        const kill = deps.catalog.killIncident(provider, { incidentId }).then(
          (killed) => {
            observe(provider.name, killed ? 'killed' : 'nothing', closedAt);
            if (killed) deps.logger.info({ provider: provider.name, incidentId }, 'incident killed upstream at close');
          },
          (err: unknown) => {
            observe(provider.name, 'failed', closedAt);
            const error = toBrokerError(err);
            deps.logger.warn(
              { provider: provider.name, incidentId, code: error.code, detail: error.detail },
              'kill at close failed; the revocation queue revokes every grant of the incident',
            );
          },
        );
        const tracked = kill.finally(() => inFlight.delete(tracked));
        inFlight.add(tracked);
        kills.push(tracked);
      }
      return Promise.all(kills).then(() => undefined);
    },
    async settled() {
      await Promise.all([...inFlight]);
    },
  };
}
