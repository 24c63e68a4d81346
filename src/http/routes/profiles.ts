/** `GET /v1/profiles[?incident_id=…]`: what exists and what this agent may ask for (for that incident, by the policies too). */
import { Router } from 'express';
import { listProfilesFor } from '../../grants/list_profiles.js';
import { agentOf } from '../context.js';
import type { HttpDeps } from '../deps.js';
import { requireAgent } from '../steps/authenticate.js';
import { grantListQuery, parseWith } from '../validation.js';

export function profileRoutes(deps: HttpDeps): Router {
  const router = Router();
  router.get('/', requireAgent(deps.identity), async (req, res) => {
    const q = parseWith(grantListQuery, req.query, 'query');
    const offers = await listProfilesFor(deps, agentOf(res), q.incident_id);
    res.json({
      profiles: offers.map((p) => ({
        name: p.name,
        description: p.description,
        provider: p.provider,
        tier: p.tier,
        max_ttl_seconds: p.maxTtlSeconds,
        allowed: p.allowed,
        decided_by: p.decidedBy,
        approval_required: p.approvalRequired,
      })),
    });
  });
  return router;
}
