/**
 * Break-glass and the post-incident report (docs/approvals.md), through the running broker with
 * the shipped policies:
 *  - major-incident mode lets policy allow containment of a sev5 (tier-contain-major); the grant is
 *    marked, the mode ends by itself at its expiry (the worker's sweep), its grant is revoked, and
 *    the report lists the window with that grant;
 *  - one incident end to end: evidence, a destructive (remediate) grant approved by two named
 *    humans, the close; the report names the approvers, the purpose, the policy and the
 *    revocation time, in JSON and in Markdown, with what an agent or operator wrote escaped.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startTestBroker, type TestBroker } from '../support/broker_harness.js';
import { eventually } from '../support/eventually.js';

const AGENT = 'spiffe://dev.local/agent/responder';
const clock = { now: Date.now() };
const profile = (tier: string) => ({
  provider: 'jwt',
  maxTtl: 900,
  defaultTtl: 600,
  tier,
  agents: ['spiffe://dev\\.local/agent/[a-z]+'],
  params: { audience: 'urn:tool', scope: tier },
});
let qm: TestBroker;
let operator: string;

beforeAll(async () => {
  qm = await startTestBroker({
    now: () => clock.now,
    policy: { dir: 'config/policies' },
    profiles: { read: profile('read'), contain: profile('contain'), fix: profile('remediate') },
    retention: { sweepSeconds: 1 },
    approvals: { defaultRule: { approvers: ['operator'] } },
  });
  operator = await qm.operatorToken();
});
afterAll(() => qm?.stop());
beforeEach(() => {
  clock.now = Date.now();
});

const open = async (id: string, severity: string, title = 't') =>
  expect((await qm.request('POST', '/v1/incidents', { token: operator, body: { id, title, severity } })).status).toBe(201);
const ask = async (incidentId: string, profileName: string, purpose = 'p') =>
  qm.request('POST', '/v1/grants', {
    token: await qm.agentToken(AGENT, 600, clock.now),
    body: { incident_id: incidentId, profile: profileName, purpose },
  });

describe('break-glass', () => {
  it('lets policy allow more while it lasts, ends by itself, revokes its grants and reports them', async () => {
    await open('INC-BG', 'sev5');
    const before = await ask('INC-BG', 'contain');
    expect([before.status, before.body.error.decided_by]).toEqual([403, ['policy:no-permit']]);

    const started = await qm.request('POST', '/v1/incidents/INC-BG/major', {
      token: operator,
      body: { reason: 'customer data at risk', duration_seconds: 60 },
    });
    expect([started.status, started.body.incident.major.reason]).toEqual([200, 'customer data at risk']);
    const during = await ask('INC-BG', 'contain', 'isolate the host');
    expect(during.status).toBe(201);
    const audit = await qm.request('GET', '/v1/audit?incident=INC-BG', { token: operator });
    const issued = audit.body.events.find((e: { type: string }) => e.type === 'grant.issued');
    expect(issued.data).toMatchObject({ underMajor: true, decidedBy: expect.arrayContaining(['policy:tier-contain-major']) });

    clock.now += 61_000;
    const grant = await eventually(async () => {
      const g = await qm.broker.store.getGrant(during.body.grant.id);
      return g?.state === 'revoked' ? g : null;
    });
    expect(grant.revokeReason).toBe('break_glass_ended');
    const incident = await qm.request('GET', '/v1/incidents/INC-BG', { token: operator });
    expect(incident.body.incident.major).toBeUndefined();
    const after = await ask('INC-BG', 'contain');
    expect([after.status, after.body.error.decided_by]).toEqual([403, ['policy:no-permit']]);

    const report = await qm.request('GET', '/v1/incidents/INC-BG/report', { token: operator });
    expect(report.status).toBe(200);
    expect(report.body.break_glass).toEqual([
      expect.objectContaining({
        reason: 'customer data at risk',
        started_by: 'alice@example.com',
        ended_by: 'quartermaster',
        grants: [during.body.grant.id],
      }),
    ]);
    const granted = report.body.agents[0].grants[0];
    expect(granted).toMatchObject({
      grant_id: during.body.grant.id,
      under_major: true,
      state: 'revoked',
      revoke_reason: 'break_glass_ended',
    });
  });

  it('refuses a mode longer than breakGlass.maxSeconds, and an end when none is on', async () => {
    await open('INC-BG2', 'sev4');
    const ok = await qm.request('POST', '/v1/incidents/INC-BG2/major', {
      token: operator,
      body: { reason: 'r', duration_seconds: 14_400 },
    });
    expect(ok.status).toBe(200);
    const ended = await qm.request('POST', '/v1/incidents/INC-BG2/major/end', { token: operator, body: { reason: 'contained' } });
    expect([ended.status, ended.body.incident.major]).toEqual([200, undefined]);
    const again = await qm.request('POST', '/v1/incidents/INC-BG2/major/end', { token: operator, body: { reason: 'contained' } });
    expect([again.status, again.body.error.code]).toEqual([409, 'ERR_MAJOR_NOT_ACTIVE']);
    const long = await qm.request('POST', '/v1/incidents/INC-BG2/major', {
      token: operator,
      body: { reason: 'r', duration_seconds: 14_401 },
    });
    expect([long.status, long.body.error.code]).toEqual([400, 'ERR_VALIDATION']);
  });
});

describe('one incident, end to end', () => {
  it('reports the approvers, the purpose, the policy and the revocation time of an approved destructive grant', async () => {
    await open('INC-E2E', 'sev1', 'Leaked key <script>alert(1)</script> | ops');
    expect((await ask('INC-E2E', 'read', 'collect the access logs')).status).toBe(201);
    const pending = await ask('INC-E2E', 'fix', 'rotate the leaked deploy key');
    expect(pending.status).toBe(202);
    const id = pending.body.approval.id as string;
    for (const name of ['alice', 'bob']) {
      const token = await qm.operatorToken(`${name}@example.com`);
      const decided = await qm.request('POST', `/v1/approvals/${id}/decision`, {
        token,
        body: { decision: 'approve', reason: `${name}: key confirmed leaked` },
      });
      expect(decided.status).toBe(200);
    }
    const collected = await qm.request('GET', `/v1/approvals/${id}`, { token: await qm.agentToken(AGENT, 600, clock.now) });
    expect(collected.status).toBe(201);
    const grantId = collected.body.grant.id as string;

    const closed = await qm.request('POST', '/v1/incidents/INC-E2E/close', { token: operator });
    expect(closed.status).toBe(202);
    const report = await eventually(async () => {
      const r = await qm.request('GET', '/v1/incidents/INC-E2E/report', { token: operator });
      return r.body.revocation?.outstanding === 0 && r.body.revocation.close_to_all_revoked_ms !== null ? r.body : null;
    });
    const agent = report.agents.find((a: { agent: string }) => a.agent === AGENT);
    const fix = agent.grants.find((g: { grant_id: string }) => g.grant_id === grantId);
    expect(fix).toMatchObject({
      profile: 'fix',
      purpose: 'rotate the leaked deploy key',
      accountable: ['alice@example.com', 'bob@example.com'],
      approval_id: id,
      state: 'revoked',
      revoke_reason: 'incident_closed',
      revocation_ms: expect.any(Number),
    });
    expect(fix.decided_by).toContain('policy:tier-remediate');
    expect(agent.approvals).toEqual([
      expect.objectContaining({
        approval_id: id,
        outcome: 'approved',
        decisions: [
          expect.objectContaining({ by: 'alice@example.com', decision: 'approve', reason: 'alice: key confirmed leaked' }),
          expect.objectContaining({ by: 'bob@example.com', decision: 'approve' }),
        ],
      }),
    ]);
    const read = agent.grants.find((g: { profile: string }) => g.profile === 'read');
    expect(read.accountable).toEqual(['alice@example.com']);

    const md = await qm.request('GET', '/v1/incidents/INC-E2E/report?format=markdown', { token: operator });
    expect(md.headers.get('content-type')).toMatch(/^text\/markdown/u);
    expect(md.text).toContain('bob@example.com');
    expect(md.text).toContain('rotate the leaked deploy key');
    expect(md.text).toContain('policy:tier\\-remediate');
    expect(md.text).toMatch(/\| \d+ ms \(incident\\_closed/u);
    expect(md.text).not.toContain('<script>');
    expect(md.text).toContain('\\<script\\>');
    // The title's pipe is escaped: it cannot break a table.
    expect(md.text).toContain('\\| ops');
    expect(md.text).not.toMatch(/[^\\]\| ops/u);
  });
});
