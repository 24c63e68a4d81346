/**
 * Approvals (docs/approvals.md): `GET /v1/approvals?status=&incident_id=` (approvals.read) lists
 * what waits; `GET /v1/approvals/:id` is the agent collecting its approval (200 with the state
 * while it waits, optionally long-polled with `?wait=`; 201 with the credential once, when it is
 * approved) or an operator reading it (approvals.read); `POST /v1/approvals/:id/decision`
 * (approvals.decide) records one human's approve or deny with a reason.
 */
import { randomUUID } from 'node:crypto';
import { Router } from 'express';
import { collectApproval } from '../../approvals/collect_approval.js';
import { decideApproval } from '../../approvals/decide_approval.js';
import { getApproval, listApprovals } from '../../approvals/list_approvals.js';
import { provenanceOf } from '../../model.js';
import { callerOf, operatorActor, operatorOf, originOf } from '../context.js';
import type { HttpDeps } from '../deps.js';
import { jsonBody } from '../middleware/json_body.js';
import { requireAgentOrPermission, requirePermission } from '../steps/authenticate.js';
import { approvalDecisionBody, approvalIdSchema, approvalListQuery, approvalPollQuery, parseWith } from '../validation.js';
import { toApprovalView } from '../views/approval_view.js';
import { toGrantView } from '../views/grant_view.js';

export function approvalRoutes(deps: HttpDeps): Router {
  const router = Router();

  router.get('/', requirePermission(deps, 'approvals.read'), async (req, res) => {
    const q = parseWith(approvalListQuery, req.query, 'query');
    const approvals = await listApprovals(deps, {
      status: q.status,
      ...(q.incident_id === undefined ? {} : { incidentId: q.incident_id }),
    });
    const now = deps.now();
    res.json({ approvals: approvals.map((a) => toApprovalView(a, now, 'operator')) });
  });

  router.get('/:id', requireAgentOrPermission(deps, 'approvals.read'), async (req, res) => {
    const id = parseWith(approvalIdSchema, req.params.id, 'path');
    const q = parseWith(approvalPollQuery, req.query, 'query');
    const caller = callerOf(res);
    if (caller.kind === 'operator') {
      res.json({ approval: toApprovalView(await getApproval(deps, id), deps.now(), 'operator') });
      return;
    }
    const outcome = await collectApproval(deps, caller.agent, id, {
      waitMs: Math.min(q.wait, deps.config.approvals.maxWaitSeconds) * 1000,
      origin: originOf(res),
      owner: randomUUID(),
    });
    const approval = toApprovalView(outcome.approval, deps.now(), 'agent');
    if (outcome.status !== 'issued') {
      res.json({ approval });
      return;
    }
    // The credential leaves the broker exactly once, in this body; no intermediary may keep it.
    const { grant, credential } = outcome.issued;
    res
      .status(201)
      .set('Cache-Control', 'no-store')
      .location(`/v1/grants/${grant.id}`)
      .json({ approval, grant: toGrantView(grant, deps.now()), credential });
  });

  router.post(
    '/:id/decision',
    requirePermission(deps, 'approvals.decide'),
    jsonBody(deps.config.server.bodyLimitBytes),
    async (req, res) => {
      const id = parseWith(approvalIdSchema, req.params.id, 'path');
      const body = parseWith(approvalDecisionBody, req.body, 'body');
      const approval = await decideApproval(deps, operatorOf(res), id, body, provenanceOf(operatorActor(res)));
      res.json({ approval: toApprovalView(approval, deps.now(), 'operator') });
    },
  );
  return router;
}
