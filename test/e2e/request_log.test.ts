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
  const opened = await qm.request('POST', '/v1/incidents', {
    token: await qm.operatorToken('alice@example.com'),
    body: { id: 'INC-LOG', title: 't', severity: 'sev3' },
  });
  expect(opened.status).toBe(201);
  const opLines = linesOf(String(opened.headers.get('x-request-id')));
  expect(opLines).toEqual([expect.objectContaining({ msg: 'request', operator: 'alice@example.com', status: 201 })]);

  const granted = await qm.request('POST', '/v1/grants', {
    token: await qm.agentToken(AGENT),
    body: { incident_id: 'INC-LOG', profile: 'demo', purpose: 'p' },
  });
  expect(granted.status).toBe(201);
  const lines = linesOf(String(granted.headers.get('x-request-id')));
  expect(lines.find((l) => l.msg === 'request')).toMatchObject({ agent: AGENT, route: '/v1/grants', status: 201 });
  expect(lines.every((l) => l.agent === AGENT)).toBe(true);
});

it("keeps its own request id on a refusal before authentication, the client's beside it, and no subject", async () => {
  const refused = await qm.request('POST', '/v1/grants', {
    body: { incident_id: 'INC-LOG', profile: 'demo', purpose: 'p' },
    headers: { 'x-request-id': 'test-request-0001' },
  });
  expect(refused.status).toBe(401);
  // The broker's id, never the client's: a chosen id could collide with another request's.
  const ours = String(refused.headers.get('x-request-id'));
  expect(ours).toMatch(/^[0-9a-f-]{36}$/u);
  const lines = linesOf(ours);
  expect(lines.every((l) => l.clientRequestId === 'test-request-0001')).toBe(true);
  expect(lines.map((l) => l.msg)).toEqual(['request refused', 'request']);
  // Both lines name the route pattern (the refusal used to be logged with the router's "/").
  expect(lines.map((l) => l.route)).toEqual(['/v1/grants', '/v1/grants']);
  expect(lines.some((l) => 'agent' in l || 'operator' in l)).toBe(false);
});

it("records in the audit who asked through which request: the token fingerprint, the broker's request id and the client's", async () => {
  const operator = await qm.operatorToken('alice@example.com');
  const opened = await qm.request('POST', '/v1/incidents', {
    token: operator,
    body: { id: 'INC-AUDIT-ORIGIN', title: 't', severity: 'sev3' },
  });
  const granted = await qm.request('POST', '/v1/grants', {
    token: await qm.agentToken(AGENT),
    body: { incident_id: 'INC-AUDIT-ORIGIN', profile: 'demo', purpose: 'p' },
    headers: { 'x-request-id': 'client-id-42' },
  });
  expect([opened.status, granted.status]).toEqual([201, 201]);
  const audit = await qm.request('GET', '/v1/audit?incident=INC-AUDIT-ORIGIN', { token: operator });
  const [openedEvent, issuedEvent] = audit.body.events as Array<{ type: string; data: Record<string, unknown> }>;
  expect(openedEvent).toMatchObject({
    type: 'incident.opened',
    data: { requestId: opened.headers.get('x-request-id'), tokenFingerprint: expect.any(String) },
  });
  expect(openedEvent?.data).not.toHaveProperty('clientRequestId');
  expect(issuedEvent).toMatchObject({
    type: 'grant.issued',
    data: { requestId: granted.headers.get('x-request-id'), clientRequestId: 'client-id-42', tokenFingerprint: expect.any(String) },
  });
  expect(issuedEvent?.data.tokenFingerprint).not.toBe(openedEvent?.data.tokenFingerprint);
});
