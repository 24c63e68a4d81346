/**
 * /openapi.json describes exactly the routes Express serves: the route list is read from the
 * app's own router stack and compared both ways. The request schemas in it are generated from the
 * zod schemas the routes validate with; the walkthrough's bodies and queries fit them.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Express } from 'express';
import { startTestBroker, type TestBroker } from '../support/broker_harness.js';

let qm: TestBroker;
beforeAll(async () => {
  qm = await startTestBroker();
});
afterAll(async () => qm.stop());

interface Layer {
  route?: { path: string; methods: Record<string, boolean> };
  handle: { stack?: Layer[] };
  rawPath?: unknown;
}

/** "METHOD /path" of every route in the app, with Express `:id` written as OpenAPI `{id}`. */
function expressRoutes(app: Express): string[] {
  const out: string[] = [];
  const walk = (stack: Layer[], prefix: string): void => {
    for (const layer of stack) {
      if (layer.route) {
        const path = `${prefix}${layer.route.path === '/' && prefix !== '' ? '' : layer.route.path}`.replace(/:([A-Za-z_]+)/gu, '{$1}');
        for (const [method, on] of Object.entries(layer.route.methods))
          if (on && method !== '_all') out.push(`${method.toUpperCase()} ${path}`);
      } else if (layer.handle.stack) {
        walk(layer.handle.stack, `${prefix}${typeof layer.rawPath === 'string' && layer.rawPath !== '/' ? layer.rawPath : ''}`);
      }
    }
  };
  walk((app as unknown as { router: { stack: Layer[] } }).router.stack, '');
  return out.sort();
}

it('is served without authentication as an OpenAPI 3.1 document', async () => {
  const res = await qm.request('GET', '/openapi.json');
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^application\/json/u);
  expect(res.body).toMatchObject({ openapi: '3.1.0', info: { title: 'Quartermaster' } });
});

it('lists every route the app serves, and no other', async () => {
  const doc = (await qm.request('GET', '/openapi.json')).body as { paths: Record<string, Record<string, unknown>> };
  const documented = Object.entries(doc.paths)
    .flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`))
    .sort();
  // The server's request listener is the Express app itself.
  const served = expressRoutes(qm.broker.server.listeners('request')[0] as Express);
  expect(served).toContain('POST /v1/grants');
  expect(served).toContain('GET /v1/incidents/{id}');
  expect(documented).toEqual(served);
  expect(served.length).toBe(39);
});

it('marks which token each operation needs, and that ops endpoints need none', async () => {
  const doc = (await qm.request('GET', '/openapi.json')).body as { paths: Record<string, Record<string, { security: unknown[] }>> };
  expect(doc.paths['/v1/grants']!.post!.security).toEqual([{ agentToken: [] }]);
  expect(doc.paths['/v1/incidents/{id}/close']!.post!.security).toEqual([{ operatorToken: [] }]);
  expect(doc.paths['/healthz']!.get!.security).toEqual([]);
  // Each documented protection holds: without a token the broker answers 401.
  expect((await qm.request('POST', '/v1/incidents/INC-1/close')).status).toBe(401);
  expect((await qm.request('GET', '/v1/grants?incident_id=INC-1')).status).toBe(401);
});

it('carries the request schemas the routes validate with', async () => {
  const doc = (await qm.request('GET', '/openapi.json')).body as { paths: Record<string, Record<string, any>> };
  const grantBody = doc.paths['/v1/grants']!.post.requestBody.content['application/json'].schema;
  expect(grantBody).toMatchObject({
    type: 'object',
    required: expect.arrayContaining(['incident_id', 'profile', 'purpose']),
    additionalProperties: false,
  });
  expect(Object.keys(grantBody.properties).sort()).toEqual(['incident_id', 'profile', 'purpose', 'ttl_seconds']);
  const incidentBody = doc.paths['/v1/incidents']!.post.requestBody.content['application/json'].schema;
  expect(incidentBody.properties.severity).toMatchObject({ enum: ['sev1', 'sev2', 'sev3', 'sev4', 'sev5'] });
  const auditParams = doc.paths['/v1/audit']!.get.parameters.map(
    (p: { name: string; in: string; required: boolean }) => `${p.in}:${p.name}:${p.required}`,
  );
  expect(auditParams.sort()).toEqual(['query:after:false', 'query:incident:false', 'query:limit:false']);
  expect(doc.paths['/v1/grants']!.get.parameters).toEqual([expect.objectContaining({ name: 'incident_id', in: 'query', required: false })]);
});
