/** Agent grant endpoints: request (credential returned once), list and read own grants, release. */
import { Router } from 'express';
import { getOwnGrant } from '../../grants/get_grant.js';
import { issueGrant } from '../../grants/issue_grant.js';
import { listOwnGrants } from '../../grants/list_grants.js';
import { releaseGrant } from '../../grants/release_grant.js';
import { agentOf, originOf } from '../context.js';
import type { HttpDeps } from '../deps.js';
import { jsonBody } from '../middleware/json_body.js';
import { requireAgent } from '../steps/authenticate.js';
import { grantIdSchema, grantListQuery, grantRequestBody, parseWith } from '../validation.js';
import { toApprovalView } from '../views/approval_view.js';
import { toGrantView } from '../views/grant_view.js';
import type { Grant } from '../../model.js';

export function grantRoutes(deps: HttpDeps): Router {
  const router = Router();
  const agent = requireAgent(deps.identity);

  router.post('/', agent, jsonBody(deps.config.server.bodyLimitBytes), async (req, res) => {
    const body = parseWith(grantRequestBody, req.body, 'body');
    const outcome = await issueGrant(
      deps,
      agentOf(res),
      {
        incidentId: body.incident_id,
        profile: body.profile,
        purpose: body.purpose,
        ...(body.ttl_seconds === undefined ? {} : { ttlSeconds: body.ttl_seconds }),
      },
      originOf(res),
    );
    if (outcome.status === 'pending_approval') {
      // Named humans decide first; the agent collects the credential at the approval (approvals.ts).
      res
        .status(202)
        .location(`/v1/approvals/${outcome.approval.id}`)
        .json({ approval: toApprovalView(outcome.approval, deps.now(), 'agent') });
      return;
    }
    const location = `/v1/grants/${outcome.grant.id}`;
    // The credential leaves the broker exactly once, in this body; no intermediary may keep it.
    res
      .status(201)
      .set('Cache-Control', 'no-store')
      .location(location)
      .json({ grant: toGrantView(outcome.grant, deps.now()), credential: outcome.credential, ttl: ttlOf(body.ttl_seconds, outcome.grant) });
  });

  router.get('/', agent, async (req, res) => {
    const q = parseWith(grantListQuery, req.query, 'query');
    const grants = await listOwnGrants(deps, agentOf(res), q.incident_id);
    const now = deps.now();
    res.json({ grants: grants.map((g) => toGrantView(g, now)) });
  });

  router.get('/:id', agent, async (req, res) => {
    const id = parseWith(grantIdSchema, req.params.id, 'path');
    res.json({ grant: toGrantView(await getOwnGrant(deps, agentOf(res), id), deps.now()) });
  });

  router.delete('/:id', agent, async (req, res) => {
    const id = parseWith(grantIdSchema, req.params.id, 'path');
    const grant = await releaseGrant(deps, agentOf(res), id, originOf(res));
    res.status(202).json({ grant: toGrantView(grant, deps.now()) });
  });

  return router;
}

/**
 * The TTL as asked and as given, so an agent is never surprised: core raises a TTL below the
 * provider's minimum (AWS STS: 900 s) within the profile's maxTtl and caps one above the maximum,
 * and a provider may end the credential sooner (a role's shorter session limit).
 */
function ttlOf(requested: number | undefined, grant: Grant) {
  const lifetime = Math.max(0, Math.round((grant.expiresAt - grant.createdAt) / 1000));
  const adjusted =
    requested !== undefined && requested < grant.ttlSeconds
      ? 'raised_to_provider_minimum'
      : requested !== undefined && requested > grant.ttlSeconds
        ? 'capped_to_maximum'
        : lifetime < grant.ttlSeconds - 5
          ? 'shortened_by_provider'
          : undefined;
  return {
    ...(requested === undefined ? {} : { requested_seconds: requested }),
    granted_seconds: grant.ttlSeconds,
    lifetime_seconds: lifetime,
    ...(adjusted ? { adjusted } : {}),
  };
}
