/** Operator provider actions: `POST /v1/providers/:name/emergency-deny` (maintenance/emergency_deny.ts). */
import { Router } from 'express';
import { emergencyDeny } from '../../maintenance/emergency_deny.js';
import { operatorActor } from '../context.js';
import type { HttpDeps } from '../deps.js';
import { jsonBody } from '../middleware/json_body.js';
import { requirePermission } from '../steps/authenticate.js';
import { emergencyDenyBody, parseWith, providerNameSchema } from '../validation.js';

export function providerRoutes(deps: HttpDeps): Router {
  const router = Router();
  router.post(
    '/:name/emergency-deny',
    requirePermission(deps, 'providers.emergency'),
    jsonBody(deps.config.server.bodyLimitBytes),
    async (req, res) => {
      const provider = parseWith(providerNameSchema, req.params.name, 'path');
      const body = parseWith(emergencyDenyBody, req.body, 'body');
      const actor = operatorActor(res);
      const denied = await emergencyDeny(deps, actor, { provider, target: body.target, reason: body.reason });
      res.json({
        denied: {
          provider,
          target: denied.target,
          denied_before: new Date(denied.deniedBefore).toISOString(),
          until: new Date(denied.until).toISOString(),
          by: actor.id,
          reason: body.reason,
        },
      });
    },
  );
  return router;
}
