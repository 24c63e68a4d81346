/** Liveness, readiness (the store answers), Prometheus metrics and the OpenAPI document. */
import { Router } from 'express';
import { describeCause } from '../../errors.js';
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
    if (isShuttingDown()) {
      res.status(503).json({ status: 'shutting_down' });
      return;
    }
    try {
      await deps.store.ping();
      res.json({ status: 'ready', store: deps.store.kind });
    } catch (err) {
      deps.logger.warn({ err: describeCause(err) }, 'readiness: store unreachable');
      res.status(503).json({ status: 'not_ready', store: deps.store.kind });
    }
  });
  router.get('/metrics', async (_req, res) => {
    res.set('Content-Type', deps.metrics.registry.contentType).send(await deps.metrics.registry.metrics());
  });
  return router;
}
