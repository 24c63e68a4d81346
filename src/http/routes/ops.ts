/**
 * Liveness, readiness, Prometheus metrics and the OpenAPI document. Ready means: not shutting
 * down, the store answers, and it is known to hold the broker's data (store/integrity.ts: not
 * lost and unacknowledged, checked since the last reconnect). A volatile Redis that the config
 * accepted is ready, and says so.
 */
import { Router } from 'express';
import { checkReadiness } from '../../maintenance/readiness.js';
import type { HttpDeps } from '../deps.js';
import { buildOpenApi } from '../openapi.js';

export function opsRoutes(deps: HttpDeps, isShuttingDown: () => boolean): Router {
  const router = Router();
  const openApi = JSON.stringify(buildOpenApi());
  router.get('/openapi.json', (_req, res) => {
    res.type('application/json').send(openApi);
  });
  router.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  router.get('/readyz', async (_req, res) => {
    const readiness = await checkReadiness(deps, isShuttingDown());
    if (readiness.reason === 'shutting_down') {
      res.status(503).json({ status: 'shutting_down' });
      return;
    }
    res.status(readiness.ready ? 200 : 503).json({
      status: readiness.ready ? 'ready' : 'not_ready',
      ...(readiness.reason ? { reason: readiness.reason } : {}),
      store: readiness.store,
      ...(readiness.persistence ? { persistence: readiness.persistence } : {}),
      ...(readiness.lossDetectedAt === undefined ? {} : { loss_detected_at: new Date(readiness.lossDetectedAt).toISOString() }),
    });
  });
  // With its own listener (server.metricsListener), /metrics is not on the API's port at all.
  if (deps.config.server.metricsListener === undefined) {
    router.get('/metrics', async (_req, res) => {
      res.set('Content-Type', deps.metrics.registry.contentType).send(await deps.metrics.registry.metrics());
    });
  }
  return router;
}
