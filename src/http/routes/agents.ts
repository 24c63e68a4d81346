/**
 * Operator kill switches for one agent (agents/quarantine.ts): `POST /v1/agents/{agent}/quarantine`
 * revokes every grant of the agent and refuses it new ones; `POST /v1/agents/{agent}/quarantine/lift`
 * ends that, both with a reason and the operator's name in the audit; `GET /v1/agents/{agent}`
 * shows the quarantine and the agent's grants. `{agent}` is the agent id, percent-encoded.
 */
import { Router } from 'express';
import { liftQuarantine, quarantineAgent, readAgent, type QuarantineRecord } from '../../agents/quarantine.js';
import { operatorActor } from '../context.js';
import type { HttpDeps } from '../deps.js';
import { jsonBody } from '../middleware/json_body.js';
import { requirePermission } from '../steps/authenticate.js';
import { agentIdSchema, parseWith, reasonBody } from '../validation.js';
import { toGrantView } from '../views/grant_view.js';

const iso = (ms: number): string => new Date(ms).toISOString();
const quarantineView = (q: QuarantineRecord | null) =>
  q === null
    ? { state: 'none' }
    : {
        state: q.state,
        agent: q.agent,
        at: iso(q.at),
        by: q.by,
        reason: q.reason,
        ...(q.since === undefined ? {} : { since: iso(q.since) }),
      };

export function agentRoutes(deps: HttpDeps): Router {
  const router = Router();
  const body = jsonBody(deps.config.server.bodyLimitBytes);

  router.get('/:agent', requirePermission(deps, 'incidents.read'), async (req, res) => {
    const agent = parseWith(agentIdSchema, req.params.agent, 'path');
    const { quarantine, grants } = await readAgent(deps, agent);
    const now = deps.now();
    res.json({ agent, quarantine: quarantineView(quarantine), grants: grants.map((g) => toGrantView(g, now)) });
  });

  router.post('/:agent/quarantine', requirePermission(deps, 'agents.quarantine'), body, async (req, res) => {
    const agent = parseWith(agentIdSchema, req.params.agent, 'path');
    const { reason } = parseWith(reasonBody, req.body, 'body');
    const outcome = await quarantineAgent(deps, agent, reason, operatorActor(res));
    res
      .status(outcome.quarantinedNow ? 201 : 200)
      .json({ quarantine: quarantineView(outcome.quarantine), grants_to_revoke: outcome.revoking.length });
  });

  router.post('/:agent/quarantine/lift', requirePermission(deps, 'agents.quarantine'), body, async (req, res) => {
    const agent = parseWith(agentIdSchema, req.params.agent, 'path');
    const { reason } = parseWith(reasonBody, req.body, 'body');
    res.json({ quarantine: quarantineView(await liftQuarantine(deps, agent, reason, operatorActor(res))) });
  });
  return router;
}
