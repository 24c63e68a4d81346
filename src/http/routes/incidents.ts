/** Operator incident endpoints: open, read (with grants and revocation report), close. */
import { Router } from 'express';
import { incidentNotFound } from '../../errors.js';
import { toGrantView } from '../../grants/grant_view.js';
import { closeIncident } from '../../incidents/close_incident.js';
import { openIncident } from '../../incidents/open_incident.js';
import { buildRevocationReport } from '../../incidents/revocation_report.js';
import type { Grant, Incident } from '../../model.js';
import { operatorOf } from '../context.js';
import type { HttpDeps } from '../deps.js';
import { jsonBody } from '../middleware/json_body.js';
import { requireOperator } from '../steps/authenticate.js';
import { incidentIdSchema, incidentReadQuery, openIncidentBody, parseWith } from '../validation.js';

export function incidentRoutes(deps: HttpDeps): Router {
  const router = Router();
  const operator = requireOperator(deps.identity);

  router.post('/', operator, jsonBody(deps.config.server.bodyLimitBytes), async (req, res) => {
    const body = parseWith(openIncidentBody, req.body, 'body');
    const incident = await openIncident(deps, { ...body, source: 'api', actor: operatorOf(res).subject });
    res.status(201).location(`/v1/incidents/${encodeURIComponent(incident.id)}`).json({ incident: toIncidentView(incident) });
  });

  router.get('/:id', operator, async (req, res) => {
    const id = parseWith(incidentIdSchema, req.params.id, 'path');
    const query = parseWith(incidentReadQuery, req.query, 'query');
    const incident = await deps.store.getIncident(id);
    if (!incident) throw incidentNotFound();
    const grants = await deps.store.listGrantsByIncident(id);
    // grants=false: the report alone; a dashboard polling a close of thousands of grants need not
    // have them all rendered (docs/performance.md, S4).
    res.json(incidentWithReport(incident, grants, deps.now(), query.grants === 'true'));
  });

  router.post('/:id/close', operator, async (req, res) => {
    const id = parseWith(incidentIdSchema, req.params.id, 'path');
    const result = await closeIncident(deps, id, operatorOf(res).subject);
    const grants = await deps.store.listGrantsByIncident(id);
    res.status(result.closedNow ? 202 : 200).json(incidentWithReport(result.incident, grants, deps.now()));
  });

  return router;
}

function incidentWithReport(incident: Incident, grants: readonly Grant[], now: number, withGrants = true) {
  const report = buildRevocationReport(incident, grants, now);
  const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
  return {
    incident: toIncidentView(incident),
    ...(withGrants ? { grants: grants.map((g) => toGrantView(g, now)) } : {}),
    revocation: {
      total: report.total,
      by_state: report.byState,
      confirmed: report.confirmed,
      unconfirmed: report.unconfirmed,
      outstanding: report.outstanding,
      first_revoked_at: iso(report.firstRevokedAt),
      last_revoked_at: iso(report.lastRevokedAt),
      close_to_all_revoked_ms: report.closeToAllRevokedMs,
    },
  };
}

export function toIncidentView(incident: Incident) {
  return {
    id: incident.id,
    source: incident.source,
    title: incident.title,
    severity: incident.severity,
    status: incident.status,
    opened_at: new Date(incident.openedAt).toISOString(),
    opened_by: incident.openedBy,
    ...(incident.closedAt !== undefined ? { closed_at: new Date(incident.closedAt).toISOString() } : {}),
    ...(incident.closedBy !== undefined ? { closed_by: incident.closedBy } : {}),
  };
}
