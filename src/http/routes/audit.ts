/** Operator audit read: `GET /v1/audit?incident=&after=&limit=`. */
import { Router } from 'express';
import type { HttpDeps } from '../deps.js';
import { requirePermission } from '../steps/authenticate.js';
import { auditQuery, parseWith } from '../validation.js';

export function auditRoutes(deps: HttpDeps): Router {
  const router = Router();
  router.get('/', requirePermission(deps, 'audit.read'), async (req, res) => {
    const q = parseWith(auditQuery, req.query, 'query');
    const events = await deps.audit.list({
      limit: q.limit,
      ...(q.incident === undefined ? {} : { incidentId: q.incident }),
      ...(q.after === undefined ? {} : { afterSeq: q.after }),
    });
    const last = events.at(-1);
    res.json({
      events: events.map((e) => ({ ...e, at: new Date(e.at).toISOString() })),
      next_after: last ? last.seq : null,
    });
  });
  return router;
}
