/** Liveness, readiness (the store answers) and Prometheus metrics. */
import { Router } from 'express';
import { describeCause } from '../../errors.js';
import type { HttpDeps } from '../deps.js';

export function opsRoutes(deps: HttpDeps, isShuttingDown: () => boolean): Router {
  const router = Router();
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
