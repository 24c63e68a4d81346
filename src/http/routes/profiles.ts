/** `GET /v1/profiles`: what exists and what this agent may ask for. */
import { Router } from 'express';
import { agentMayRequest } from '../../grants/steps/authorize.js';
import { agentOf } from '../context.js';
import type { HttpDeps } from '../deps.js';
import { requireAgent } from '../steps/authenticate.js';

export function profileRoutes(deps: HttpDeps): Router {
  const router = Router();
  router.get('/', requireAgent(deps.identity), (_req, res) => {
    const agent = agentOf(res);
    res.json({
      profiles: deps.catalog.profiles().map((p) => ({
        name: p.name,
        description: p.config.description,
        provider: p.provider.name,
        tier: p.config.tier,
        max_ttl_seconds: Math.min(p.config.maxTtl, p.provider.capabilities.maxTtlSeconds),
        allowed: agentMayRequest(p, agent.id),
      })),
    });
  });
  return router;
}
