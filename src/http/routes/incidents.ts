/** Operator incident endpoints: open, read (with grants and revocation report), update, close. */
import { Router } from 'express';
import { closeIncident } from '../../incidents/close_incident.js';
import { openIncident } from '../../incidents/open_incident.js';
import { readIncident, readoutOf } from '../../incidents/read_incident.js';
import { updateIncident } from '../../incidents/update_incident.js';
import { operatorActor } from '../context.js';
import type { HttpDeps } from '../deps.js';
import { jsonBody } from '../middleware/json_body.js';
import { requirePermission } from '../steps/authenticate.js';
import { incidentIdSchema, incidentReadQuery, openIncidentBody, parseWith, updateIncidentBody } from '../validation.js';
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
    res.status(result.closedNow ? 202 : 200).json(toIncidentReportView(await readoutOf(deps, result.incident)));
  });

  return router;
}
