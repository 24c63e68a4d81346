/**
 * Each operator endpoint asks for its own permission (src/identity/permissions.ts), mapped from the
 * operator issuer's roles claim: a role that may read the audit log cannot close an incident, a
 * role that may close one cannot read the audit log, and a refusal changes nothing.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PERMISSIONS, type Permission } from '../../src/identity/permissions.js';
import { startTestBroker, type TestBroker } from '../support/broker_harness.js';

let qm: TestBroker;
let admin: string;

beforeAll(async () => {
  qm = await startTestBroker({
    operators: {
      permissions: {
        auditor: ['audit.read', 'incidents.read'],
        closer: ['incidents.close'],
        ...Object.fromEntries(PERMISSIONS.map((p) => [`only:${p}`, [p]])),
      },
    },
  });
  admin = await qm.operatorToken('admin@example.com', ['operator']);
});
afterAll(() => qm.stop());

let incidents = 0;
async function openIncident(): Promise<string> {
  const id = `INC-PERM-${++incidents}`;
  const opened = await qm.request('POST', '/v1/incidents', { token: admin, body: { id, title: 'permission test', severity: 'sev2' } });
  expect(opened.status).toBe(201);
  return id;
}

/** One call per permission, on a fresh incident where it needs one; the status it answers when allowed. */
const calls: Record<Permission, { run: (token: string) => Promise<{ status: number; body: any }>; allowed: number }> = {
  'incidents.read': { run: async (token) => qm.request('GET', `/v1/incidents/${await openIncident()}`, { token }), allowed: 200 },
  'incidents.open': {
    run: (token) =>
      qm.request('POST', '/v1/incidents', { token, body: { id: `INC-PERM-OPEN-${++incidents}`, title: 't', severity: 'sev3' } }),
    allowed: 201,
  },
  'incidents.update': {
    run: async (token) => qm.request('PATCH', `/v1/incidents/${await openIncident()}`, { token, body: { severity: 'sev1' } }),
    allowed: 200,
  },
  'incidents.close': { run: async (token) => qm.request('POST', `/v1/incidents/${await openIncident()}/close`, { token }), allowed: 202 },
  'audit.read': { run: (token) => qm.request('GET', '/v1/audit', { token }), allowed: 200 },
  introspect: { run: (token) => qm.request('POST', '/oauth2/introspect', { token, form: { token: 'not-a-token' } }), allowed: 200 },
  // The memory store has no loss to acknowledge: allowed, the flow itself answers 409.
  'store.acknowledge': {
    run: (token) => qm.request('POST', '/v1/store/acknowledge-loss', { token, body: { reason: 'test' } }),
    allowed: 409,
  },
  // This broker's only provider (jwt) has no emergency deny: allowed, the flow itself answers 400.
  'providers.emergency': {
    run: (token) => qm.request('POST', '/v1/providers/jwt/emergency-deny', { token, body: { target: 'x', reason: 'test' } }),
    allowed: 400,
  },
  'agents.quarantine': {
    run: (token) =>
      qm.request('POST', `/v1/agents/${encodeURIComponent(`spiffe://dev.local/agent/perm-${++incidents}`)}/quarantine`, {
        token,
        body: { reason: 'test' },
      }),
    allowed: 201,
  },
  'approvals.read': { run: (token) => qm.request('GET', '/v1/approvals', { token }), allowed: 200 },
  // No such approval: allowed, the flow itself answers 404.
  'approvals.decide': {
    run: (token) =>
      qm.request('POST', `/v1/approvals/apr_${'a'.repeat(22)}/decision`, { token, body: { decision: 'approve', reason: 'test' } }),
    allowed: 404,
  },
  'signals.send': {
    run: (token) =>
      qm.request('POST', '/v1/signals', {
        token,
        body: {
          id: `perm-${++incidents}`,
          kind: 'test.signal',
          severity: 'low',
          subject: { format: 'agent', id: 'spiffe://dev.local/agent/perm' },
        },
      }),
    allowed: 202,
  },
  'incidents.major': {
    run: async (token) =>
      qm.request('POST', `/v1/incidents/${await openIncident()}/major`, { token, body: { reason: 'test', duration_seconds: 60 } }),
    allowed: 200,
  },
};

describe('operator permissions over HTTP', () => {
  for (const permission of PERMISSIONS) {
    it(`${permission}: allowed with it (and with the operator role), refused 403 with every other single permission`, async () => {
      const call = calls[permission];
      expect((await call.run(admin)).status).toBe(call.allowed);
      expect((await call.run(await qm.operatorToken('one@example.com', [`only:${permission}`]))).status).toBe(call.allowed);
      for (const other of PERMISSIONS.filter((p) => p !== permission)) {
        const refused = await call.run(await qm.operatorToken('other@example.com', [`only:${other}`]));
        expect([other, refused.status, refused.body?.error?.code]).toEqual([other, 403, 'ERR_FORBIDDEN']);
        expect(refused.body.error.message).toBe(`the ${permission} permission is required`);
      }
    });
  }

  it('lets an auditor read the audit log and incidents but not close one; a closer close but not read the audit log', async () => {
    const auditor = await qm.operatorToken('auditor@example.com', ['auditor']);
    const closer = await qm.operatorToken('closer@example.com', ['closer']);
    const id = await openIncident();
    expect((await qm.request('GET', '/v1/audit', { token: auditor })).status).toBe(200);
    expect((await qm.request('GET', `/v1/incidents/${id}`, { token: auditor })).status).toBe(200);
    expect((await qm.request('POST', `/v1/incidents/${id}/close`, { token: auditor })).status).toBe(403);
    // The refused close changed nothing.
    expect((await qm.request('GET', `/v1/incidents/${id}`, { token: auditor })).body.incident.status).toBe('open');
    expect((await qm.request('GET', '/v1/audit', { token: closer })).status).toBe(403);
    expect((await qm.request('GET', `/v1/incidents/${id}`, { token: closer })).status).toBe(403);
    expect((await qm.request('POST', `/v1/incidents/${id}/close`, { token: closer })).status).toBe(202);
    expect((await qm.request('GET', `/v1/incidents/${id}`, { token: auditor })).body.incident.status).toBe('closed');
  });
});
