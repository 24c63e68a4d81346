/**
 * Human approval of grants (src/approvals/, docs/approvals.md) through the running broker with
 * the shipped policies: a remediate-tier grant waits (202) for two distinct approvers
 * (`remediate-needs-approval`, @quorum 2); the same approver twice counts once; the agent's
 * sponsor may not approve; a role the rule does not name may not approve; an expired request and
 * one whose incident closed take no decision; a deny ends it; the credential is delivered exactly
 * once, also when two replicas on one Redis are polled at once, and a claim whose poll died is
 * taken over with the grant it left behind revoked. Each refusal follows the valid case.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { approvalKey } from '../../src/approvals/approval.js';
import { startTestBroker, type TestBroker } from '../support/broker_harness.js';
import { eventually } from '../support/eventually.js';
import { startRedisServer, type RedisServer } from '../support/redis_server.js';

const AGENT = 'spiffe://dev.local/agent/fixer';
const EVIDENCE = 'spiffe://dev.local/agent/evidence';
const profile = (tier: string) => ({
  provider: 'jwt',
  maxTtl: 900,
  defaultTtl: 600,
  tier,
  agents: ['spiffe://dev\\.local/agent/[a-z]+'],
  params: { audience: 'urn:tool', scope: tier },
});
const clock = { now: Date.now() };
let redis: RedisServer;
let qm: TestBroker;
let replica: TestBroker;
let incidents = 0;

beforeAll(async () => {
  redis = await startRedisServer();
  const options = {
    now: () => clock.now,
    store: { kind: 'redis', url: redis.url, keyPrefix: 'approvals:' },
    policy: { dir: 'config/policies' },
    profiles: { read: profile('read'), fix: profile('remediate') },
    approvals: { sponsorClaim: 'sponsor', defaultRule: { approvers: ['ir-lead'], quorum: 1, expiresSeconds: 600 } },
    operators: { permissions: { 'ir-lead': ['approvals.read', 'approvals.decide', 'incidents.read'], watcher: ['approvals.read'] } },
  } as const;
  qm = await startTestBroker(options);
  replica = await startTestBroker({ ...options, keyDir: qm.keyDir });
});
afterAll(async () => {
  await replica?.stop();
  await qm?.stop();
  await redis?.stop();
});

const lead = (name: string) => qm.operatorToken(`${name}@example.com`, ['ir-lead']);

async function openIncident(severity = 'sev1'): Promise<string> {
  const id = `INC-APR-${++incidents}`;
  const opened = await qm.request('POST', '/v1/incidents', { token: await qm.operatorToken(), body: { id, title: 'approvals', severity } });
  expect(opened.status).toBe(201);
  // Evidence before remediation: a read-tier grant in the incident first.
  const read = await qm.request('POST', '/v1/grants', {
    token: await qm.agentToken(EVIDENCE),
    body: { incident_id: id, profile: 'read', purpose: 'collect evidence' },
  });
  expect(read.status).toBe(201);
  return id;
}

const ask = async (incidentId: string, claims: Record<string, unknown> = {}) =>
  qm.request('POST', '/v1/grants', {
    token: await qm.agentToken(AGENT, 600, clock.now, claims),
    body: { incident_id: incidentId, profile: 'fix', purpose: 'rotate the leaked deploy key' },
  });

async function requested(incidentId: string, claims: Record<string, unknown> = {}): Promise<string> {
  const res = await ask(incidentId, claims);
  expect([res.status, res.body.approval?.state]).toEqual([202, 'pending']);
  expect(res.headers.get('location')).toBe(`/v1/approvals/${res.body.approval.id}`);
  return res.body.approval.id as string;
}

const decide = async (id: string, token: string, decision: 'approve' | 'deny' = 'approve', broker = qm) =>
  broker.request('POST', `/v1/approvals/${id}/decision`, { token, body: { decision, reason: `${decision}: the key leaked in INC` } });

const poll = async (id: string, broker = qm, agent = AGENT) =>
  broker.request('GET', `/v1/approvals/${id}`, { token: await broker.agentToken(agent, 600, clock.now) });

beforeEach(() => {
  clock.now = Date.now();
});

describe('a grant that needs approval', () => {
  it('waits for two distinct approvers, counts the same approver once, then is delivered once', async () => {
    const incident = await openIncident();
    const id = await requested(incident);
    expect((await poll(id)).body.approval).toMatchObject({ state: 'pending', approvals: 0, quorum: 2 });

    const first = await decide(id, await lead('alice'));
    expect([first.status, first.body.approval.state, first.body.approval.approvals]).toEqual([200, 'pending', 1]);
    const again = await decide(id, await lead('alice'));
    expect([again.status, again.body.error.code]).toEqual([409, 'ERR_APPROVAL_DUPLICATE']);
    expect((await poll(id)).body.approval).toMatchObject({ state: 'pending', approvals: 1 });

    const second = await decide(id, await lead('bob'));
    expect([second.status, second.body.approval.state, second.body.approval.approvals]).toEqual([200, 'approved', 2]);
    const collected = await poll(id);
    expect(collected.status).toBe(201);
    expect(collected.headers.get('cache-control')).toBe('no-store');
    expect(collected.body.credential.access_token).toEqual(expect.any(String));
    expect(collected.body.approval).toMatchObject({ state: 'issued', grant_id: collected.body.grant.id });
    const later = await poll(id);
    expect([later.status, later.body.approval.state, later.body.credential]).toEqual([200, 'issued', undefined]);

    const audit = await qm.request('GET', `/v1/audit?incident=${incident}`, { token: await qm.operatorToken() });
    const issued = audit.body.events.find(
      (e: { type: string; grantId?: string }) => e.type === 'grant.issued' && e.grantId === collected.body.grant.id,
    );
    expect(issued.data).toMatchObject({
      approvalId: id,
      accountable: ['alice@example.com', 'bob@example.com'],
      purpose: 'rotate the leaked deploy key',
    });
    expect(issued.data.decidedBy).toContain('policy:tier-remediate');
    const decided = audit.body.events.filter((e: { type: string }) => e.type === 'approval.decided').map((e: { actor: string }) => e.actor);
    expect(decided).toEqual(['alice@example.com', 'bob@example.com']);
  });

  it("refuses the agent's sponsor as its approver", async () => {
    const id = await requested(await openIncident(), { sponsor: 'carol@example.com' });
    expect((await decide(id, await lead('dave'))).status).toBe(200);
    const self = await decide(id, await lead('carol'));
    expect([self.status, self.body.error.code]).toEqual([403, 'ERR_APPROVAL_SELF']);
  });

  it('refuses an approver without a role the rule names, and one without the permission', async () => {
    const id = await requested(await openIncident());
    expect((await decide(id, await lead('erin'))).status).toBe(200);
    // Every permission (the operator role), but not a role the approval's rule names.
    const unnamed = await decide(id, await qm.operatorToken('olga@example.com', ['operator']));
    expect([unnamed.status, unnamed.body.error.code, unnamed.body.error.approvers]).toEqual([403, 'ERR_APPROVER_NOT_NAMED', ['ir-lead']]);
    const unpermitted = await decide(id, await qm.operatorToken('frank@example.com', ['watcher']));
    expect([unpermitted.status, unpermitted.body.error.code]).toEqual([403, 'ERR_FORBIDDEN']);
    const list = await qm.request('GET', '/v1/approvals', { token: await qm.operatorToken('frank@example.com', ['watcher']) });
    expect(list.body.approvals.map((a: { id: string }) => a.id)).toContain(id);
  });

  it('takes no decision once expired, and the agent is told it expired', async () => {
    const id = await requested(await openIncident());
    expect((await decide(id, await lead('gina'))).status).toBe(200);
    clock.now += 600_001;
    const late = await decide(id, await lead('hank'));
    expect([late.status, late.body.error.code, late.body.error.state]).toEqual([409, 'ERR_APPROVAL_CLOSED', 'expired']);
    expect((await poll(id)).body.approval.state).toBe('expired');
  });

  it('takes no decision once its incident closed, and is cancelled', async () => {
    const incident = await openIncident();
    const id = await requested(incident);
    expect((await decide(id, await lead('ivan'))).status).toBe(200);
    const closed = await qm.request('POST', `/v1/incidents/${incident}/close`, { token: await qm.operatorToken() });
    expect(closed.status).toBe(202);
    const late = await decide(id, await lead('judy'));
    expect([late.status, late.body.error.code]).toEqual([409, 'ERR_INCIDENT_CLOSED']);
    expect((await poll(id)).body.approval).toMatchObject({ state: 'cancelled', end_reason: 'incident_closed' });
  });

  it('ends at a deny, and the agent never gets a credential', async () => {
    const id = await requested(await openIncident());
    const denied = await decide(id, await lead('kim'), 'deny');
    expect([denied.status, denied.body.approval.state]).toEqual([200, 'denied']);
    expect(await poll(id)).toMatchObject({ status: 200, body: { approval: { state: 'denied' } } });
    const after = await decide(id, await lead('lee'));
    expect([after.status, after.body.error.code]).toEqual([409, 'ERR_APPROVAL_CLOSED']);
  });

  it('is announced by GET /v1/profiles: allowed, with approval required', async () => {
    const incident = await openIncident();
    const listed = await qm.request('GET', `/v1/profiles?incident_id=${incident}`, { token: await qm.agentToken(AGENT, 600, clock.now) });
    const byName = Object.fromEntries(listed.body.profiles.map((p: { name: string }) => [p.name, p]));
    expect(byName.read).toMatchObject({ allowed: true, approval_required: false });
    expect(byName.fix).toMatchObject({ allowed: true, approval_required: true });
    expect(byName.fix.decided_by).toContain('policy:tier-remediate');
  });

  it('is invisible to another agent', async () => {
    const id = await requested(await openIncident());
    expect((await poll(id)).status).toBe(200);
    const other = await poll(id, qm, 'spiffe://dev.local/agent/other');
    expect([other.status, other.body.error.code]).toEqual([404, 'ERR_APPROVAL_NOT_FOUND']);
  });
});

describe('delivery exactly once', () => {
  const approved = async (): Promise<string> => {
    const id = await requested(await openIncident());
    await decide(id, await lead('mia'));
    expect((await decide(id, await lead('ned'), 'approve', replica)).body.approval.state).toBe('approved');
    return id;
  };

  it('hands the credential to one of two polls at once on two replicas', async () => {
    const id = await approved();
    const polls = await Promise.all([poll(id, qm), poll(id, replica), poll(id, qm), poll(id, replica)]);
    const delivered = polls.filter((p) => p.status === 201);
    expect(delivered).toHaveLength(1);
    expect(polls.filter((p) => p.body.credential !== undefined)).toHaveLength(1);
    const settled = await eventually(async () => {
      const p = await poll(id, replica);
      return p.body.approval.state === 'issued' ? p : null;
    });
    expect(settled.body.approval.grant_id).toBe(delivered[0]?.body.grant.id);
  });

  it('lets the next poll take over a claim whose poll died, revoking the grant that poll left', async () => {
    const id = await approved();
    // A poll that claimed, created a grant, and died before it answered: the claim has lapsed.
    const leftBehind = await qm.request('POST', '/v1/grants', {
      token: await qm.agentToken(AGENT, 600, clock.now),
      body: { incident_id: (await poll(id)).body.approval.incident_id, profile: 'read', purpose: 'stand-in for the dead poll' },
    });
    expect(leftBehind.status).toBe(201);
    const store = qm.broker.store;
    const text = (await store.getRegister(approvalKey(id))) as string;
    const record = JSON.parse(text) as Record<string, unknown>;
    const stale = { ...record, state: 'issuing', issue: { grantId: leftBehind.body.grant.id, owner: 'dead-poll', until: clock.now - 1 } };
    expect(await store.compareAndSetRegister(approvalKey(id), text, JSON.stringify(stale))).toBe(true);

    const taken = await poll(id, replica);
    expect([taken.status, taken.body.credential?.access_token]).toEqual([201, expect.any(String)]);
    expect(taken.body.grant.id).not.toBe(leftBehind.body.grant.id);
    const old = await store.getGrant(leftBehind.body.grant.id);
    expect([old?.state === 'revoking' || old?.state === 'revoked', old?.revokeReason]).toEqual([true, 'undelivered']);
  });
});
