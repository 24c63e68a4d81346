/**
 * Liveness, readiness, Prometheus metrics and the OpenAPI document. Ready means: not shutting
 * down, the store answers, and it is known to hold the broker's data (store/integrity.ts: not
 * lost and unacknowledged, checked since the last reconnect). A volatile Redis that the config
 * accepted is ready, and says so.
 */
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
  const { integrity, persistence } = deps.storeHealth;
  const described = persistence === null ? {} : { persistence: persistence.durable ? 'durable' : 'volatile' };
  router.get('/readyz', async (_req, res) => {
    if (isShuttingDown()) {
      res.status(503).json({ status: 'shutting_down' });
      return;
    }
    const store = { store: deps.store.kind, ...described };
    try {
      await deps.store.ping();
    } catch (err) {
      deps.logger.warn({ err: describeCause(err) }, 'readiness: store unreachable');
      res.status(503).json({ status: 'not_ready', reason: 'store_unreachable', ...store });
      return;
    }
    const state = integrity.state();
    if (state === 'ok') {
      res.json({ status: 'ready', ...store });
      return;
    }
    const loss = integrity.loss();
    res.status(503).json({
      status: 'not_ready',
      reason: state === 'lost' ? 'store_data_lost' : 'store_unverified',
      ...store,
      ...(loss ? { loss_detected_at: new Date(loss.detectedAt).toISOString() } : {}),
    });
  });
  router.get('/metrics', async (_req, res) => {
    res.set('Content-Type', deps.metrics.registry.contentType).send(await deps.metrics.registry.metrics());
  });
  return router;
}
