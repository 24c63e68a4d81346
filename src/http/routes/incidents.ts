/** Operator incident endpoints: open, read (with grants and revocation report), update, close. */
import { Router } from 'express';
import { closeIncident } from '../../incidents/close_incident.js';
import { buildIncidentReport } from '../../incidents/incident_report.js';
import { endMajorMode, startMajorMode } from '../../incidents/major_mode.js';
import { reportMarkdown } from '../../incidents/report_markdown.js';
import { toReportView } from '../views/report_view.js';
import { listIncidents } from '../../incidents/list_incidents.js';
import { openIncident } from '../../incidents/open_incident.js';
import { readIncident, readoutOf } from '../../incidents/read_incident.js';
import { updateIncident } from '../../incidents/update_incident.js';
import { operatorActor } from '../context.js';
import type { HttpDeps } from '../deps.js';
import { jsonBody } from '../middleware/json_body.js';
import { requirePermission } from '../steps/authenticate.js';
import {
  incidentListQuery,
  incidentIdSchema,
  incidentReadQuery,
  majorModeBody,
  openIncidentBody,
  parseWith,
  reasonBody,
  reportQuery,
  updateIncidentBody,
} from '../validation.js';
import { toIncidentReportView, toIncidentView } from '../views/incident_view.js';

export function incidentRoutes(deps: HttpDeps): Router {
  const router = Router();

  router.post('/', requirePermission(deps, 'incidents.open'), jsonBody(deps.config.server.bodyLimitBytes), async (req, res) => {
    const body = parseWith(openIncidentBody, req.body, 'body');
    const { agents, ...fields } = body;
    const incident = await openIncident(deps, {
      ...fields,
      ...(agents === undefined ? {} : { agents }),
      source: 'api',
      actor: operatorActor(res),
    });
    res
      .status(201)
      .location(`/v1/incidents/${encodeURIComponent(incident.id)}`)
      .json({ incident: toIncidentView(incident) });
  });

  router.get('/', requirePermission(deps, 'incidents.read'), async (req, res) => {
    const query = parseWith(incidentListQuery, req.query, 'query');
    const listed = await listIncidents(deps, { limit: query.limit, ...(query.status === undefined ? {} : { status: query.status }) });
    res.json({ incidents: listed.map((s) => ({ ...toIncidentView(s.incident), live_grants: s.liveGrants })) });
  });

  router.get('/:id', requirePermission(deps, 'incidents.read'), async (req, res) => {
    const id = parseWith(incidentIdSchema, req.params.id, 'path');
    const query = parseWith(incidentReadQuery, req.query, 'query');
    res.json(toIncidentReportView(await readIncident(deps, id), { grants: query.grants === 'true' }));
  });

  router.patch('/:id', requirePermission(deps, 'incidents.update'), jsonBody(deps.config.server.bodyLimitBytes), async (req, res) => {
    const id = parseWith(incidentIdSchema, req.params.id, 'path');
    const body = parseWith(updateIncidentBody, req.body, 'body');
    const patch = {
      ...(body.title === undefined ? {} : { title: body.title }),
      ...(body.severity === undefined ? {} : { severity: body.severity }),
      ...(body.agents === undefined ? {} : { agents: body.agents }),
    };
    res.json({ incident: toIncidentView(await updateIncident(deps, id, patch, operatorActor(res))) });
  });

  router.post('/:id/close', requirePermission(deps, 'incidents.close'), async (req, res) => {
    const id = parseWith(incidentIdSchema, req.params.id, 'path');
    const result = await closeIncident(deps, id, operatorActor(res));
    // The report is rendered after the kill at close has had its head start (close_incident.ts).
    await result.killHeadStart;
    res
      .status(result.closedNow ? 202 : 200)
      .json({ ...toIncidentReportView(await readoutOf(deps, result.incident)), grants_to_revoke: result.revoking.length });
  });

  // The post-incident report (docs/approvals.md "The report"): JSON, or Markdown for the review.
  router.get('/:id/report', requirePermission(deps, 'incidents.read'), async (req, res) => {
    const id = parseWith(incidentIdSchema, req.params.id, 'path');
    const q = parseWith(reportQuery, req.query, 'query');
    const report = await buildIncidentReport(deps, id);
    if (q.format === 'markdown') {
      res.type('text/markdown; charset=utf-8').send(reportMarkdown(report));
      return;
    }
    res.json(toReportView(report));
  });

  // Break-glass (docs/approvals.md): major-incident mode with a reason and an expiry, or its end.
  router.post('/:id/major', requirePermission(deps, 'incidents.major'), jsonBody(deps.config.server.bodyLimitBytes), async (req, res) => {
    const id = parseWith(incidentIdSchema, req.params.id, 'path');
    const body = parseWith(majorModeBody, req.body, 'body');
    const incident = await startMajorMode(deps, id, { reason: body.reason, durationSeconds: body.duration_seconds }, operatorActor(res));
    res.json({ incident: toIncidentView(incident) });
  });

  router.post(
    '/:id/major/end',
    requirePermission(deps, 'incidents.major'),
    jsonBody(deps.config.server.bodyLimitBytes),
    async (req, res) => {
      const id = parseWith(incidentIdSchema, req.params.id, 'path');
      const body = parseWith(reasonBody, req.body, 'body');
      const ended = await endMajorMode(deps, id, operatorActor(res), body.reason);
      res.json({ incident: toIncidentView(ended.incident), grants_revoking: ended.revoking.length });
    },
  );

  return router;
}
