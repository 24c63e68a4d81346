/**
 * The per-request log: every line of a request carries its request id, and after authentication
 * the subject (agent or operator). The logger is built lazily, so this pins what laziness must keep.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startTestBroker, type TestBroker } from '../support/broker_harness.js';

const AGENT = 'spiffe://dev.local/agent/triage';
let qm: TestBroker;
beforeAll(async () => {
  qm = await startTestBroker({ logLevel: 'info' });
});
afterAll(async () => qm.stop());

const linesOf = (requestId: string): Array<Record<string, unknown>> =>
  qm.logs.lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.reqId === requestId);

it('tags the access line with the request id and the authenticated agent', async () => {
  const opened = await qm.request('POST', '/v1/incidents', { token: await qm.operatorToken('alice@example.com'), body: { id: 'INC-LOG', title: 't', severity: 'sev3' } });
  expect(opened.status).toBe(201);
  const opLines = linesOf(String(opened.headers.get('x-request-id')));
  expect(opLines).toEqual([expect.objectContaining({ msg: 'request', operator: 'alice@example.com', status: 201 })]);

  const granted = await qm.request('POST', '/v1/grants', { token: await qm.agentToken(AGENT), body: { incident_id: 'INC-LOG', profile: 'demo', purpose: 'p' } });
  expect(granted.status).toBe(201);
  const lines = linesOf(String(granted.headers.get('x-request-id')));
  expect(lines.find((l) => l.msg === 'request')).toMatchObject({ agent: AGENT, route: '/v1/grants', status: 201 });
  expect(lines.every((l) => l.agent === AGENT)).toBe(true);
});

it('keeps the request id on a refusal before authentication, with no subject', async () => {
  const refused = await qm.request('POST', '/v1/grants', { body: { incident_id: 'INC-LOG', profile: 'demo', purpose: 'p' }, headers: { 'x-request-id': 'test-request-0001' } });
  expect(refused.status).toBe(401);
  expect(refused.headers.get('x-request-id')).toBe('test-request-0001');
  const lines = linesOf('test-request-0001');
  expect(lines.map((l) => l.msg)).toEqual(['request refused', 'request']);
  // Both lines name the route pattern (the refusal used to be logged with the router's "/").
  expect(lines.map((l) => l.route)).toEqual(['/v1/grants', '/v1/grants']);
  expect(lines.some((l) => 'agent' in l || 'operator' in l)).toBe(false);
});
