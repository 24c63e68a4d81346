/** `GET /v1/profiles`: what exists and what this agent may ask for. */
import { Router } from 'express';
import { listProfilesFor } from '../../grants/list_profiles.js';
import { agentOf } from '../context.js';
import type { HttpDeps } from '../deps.js';
import { requireAgent } from '../steps/authenticate.js';

export function profileRoutes(deps: HttpDeps): Router {
  const router = Router();
  router.get('/', requireAgent(deps.identity), (_req, res) => {
    res.json({
      profiles: listProfilesFor(deps, agentOf(res)).map((p) => ({
        name: p.name,
        description: p.description,
        provider: p.provider,
        tier: p.tier,
        max_ttl_seconds: p.maxTtlSeconds,
        allowed: p.allowed,
      })),
    });
  });
  return router;
}
