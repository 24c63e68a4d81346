/** Operator store maintenance: `POST /v1/store/acknowledge-loss` (store/integrity.ts). */
import { Router } from 'express';
import { acknowledgeStoreLoss } from '../../maintenance/acknowledge_store_loss.js';
import { operatorActor } from '../context.js';
import type { HttpDeps } from '../deps.js';
import { jsonBody } from '../middleware/json_body.js';
import { requirePermission } from '../steps/authenticate.js';
import { acknowledgeLossBody, parseWith } from '../validation.js';

export function storeRoutes(deps: HttpDeps): Router {
  const router = Router();
  router.post(
    '/acknowledge-loss',
    requirePermission(deps, 'store.acknowledge'),
    jsonBody(deps.config.server.bodyLimitBytes),
    async (req, res) => {
      const body = parseWith(acknowledgeLossBody, req.body, 'body');
      const actor = operatorActor(res);
      const loss = await acknowledgeStoreLoss(
        { integrity: deps.storeHealth.integrity, audit: deps.audit, now: deps.now },
        actor,
        body.reason,
      );
      res.json({
        acknowledged: { loss_id: loss.id, detected_at: new Date(loss.detectedAt).toISOString(), by: actor.id, reason: body.reason },
      });
    },
  );
  return router;
}
