/**
 * The Cedar policy set in the grant pipeline (policy.dir: config/policies, the shipped policies):
 * each decision names its policies in the 403 body and the audit; tiers follow the incident's
 * severity; remediation needs an evidence (read) grant in the incident first; TTL caps per tier;
 * a quarantined agent is refused by its policy.
 */
import { copyFileSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestBroker, type TestBroker } from '../support/broker_harness.js';

const AGENT = 'spiffe://dev.local/agent/triage';
let qm: TestBroker;
const profile = (tier: string, maxTtl = 1800) => ({
  provider: 'jwt',
  maxTtl,
  defaultTtl: 300,
  tier,
  agents: ['spiffe://dev\\.local/agent/[a-z]+'],
  params: { audience: 'urn:tool', scope: 'x' },
});

beforeAll(async () => {
  qm = await startTestBroker({
    policy: { dir: 'config/policies' },
    profiles: { read: profile('read'), contain: profile('contain', 3600), remediate: profile('remediate') },
  });
});
afterAll(() => qm?.stop());

const open = async (id: string, severity: string) =>
  expect((await qm.request('POST', '/v1/incidents', { token: await qm.operatorToken(), body: { id, title: 't', severity } })).status).toBe(
    201,
  );
const ask = async (incidentId: string, profileName: string, agent = AGENT, ttl?: number) =>
  qm.request('POST', '/v1/grants', {
    token: await qm.agentToken(agent),
    body: { incident_id: incidentId, profile: profileName, purpose: 'p', ...(ttl ? { ttl_seconds: ttl } : {}) },
  });

describe('policy in the grant pipeline', () => {
  it('allows a read for any open incident and names the permitting policy in the audit', async () => {
    await open('INC-P1', 'sev5');
    expect((await ask('INC-P1', 'read')).status).toBe(201);
    const audit = await qm.request('GET', '/v1/audit?incident=INC-P1', { token: await qm.operatorToken() });
    const issued = audit.body.events.find((e: { type: string }) => e.type === 'grant.issued');
    expect(issued.data.decidedBy).toEqual(['profiles.read.agents', 'policy:tier-read']);
  });

  it('refuses containment below sev3 with the policy ids in the 403 and nothing more', async () => {
    await open('INC-P2', 'sev4');
    const refused = await ask('INC-P2', 'contain');
    expect([refused.status, refused.body]).toEqual([
      403,
      { error: { code: 'ERR_POLICY_DENIED', message: 'the request is not allowed by policy', decided_by: ['policy:no-permit'] } },
    ]);
    await open('INC-P3', 'sev3');
    expect((await ask('INC-P3', 'contain')).status).toBe(201);
  });

  it('caps a contain-tier TTL at 30 minutes', async () => {
    await open('INC-P4', 'sev2');
    expect((await ask('INC-P4', 'contain', AGENT, 1800)).status).toBe(201);
    const refused = await ask('INC-P4', 'contain', AGENT, 1801);
    expect([refused.status, refused.body.error.decided_by]).toEqual([403, ['policy:ttl-cap-contain']]);
  });

  it('allows remediation only once an evidence (read) grant exists in the incident', async () => {
    await open('INC-P5', 'sev1');
    const before = await ask('INC-P5', 'remediate');
    expect([before.status, before.body.error.decided_by]).toEqual([403, ['policy:no-permit']]);
    expect((await ask('INC-P5', 'read', 'spiffe://dev.local/agent/evidence')).status).toBe(201);
    // Allowed now, once two named humans approve it (remediate-needs-approval: test/e2e/approvals.test.ts).
    const waiting = await ask('INC-P5', 'remediate');
    expect([waiting.status, waiting.body.approval?.state, waiting.body.approval?.quorum]).toEqual([202, 'pending', 2]);
    const incident = await qm.request('GET', '/v1/incidents/INC-P5', { token: await qm.operatorToken() });
    expect(incident.status).toBe(200);
  });

  it('answers GET /v1/profiles for an incident from the same evaluation a grant request gets', async () => {
    await open('INC-P7', 'sev4');
    const token = await qm.agentToken(AGENT);
    const offers = async (query = '') =>
      Object.fromEntries(
        (
          (await qm.request('GET', `/v1/profiles${query}`, { token })).body.profiles as Array<{
            name: string;
            allowed: boolean;
            decided_by: string[];
          }>
        ).map((p) => [p.name, [p.allowed, p.decided_by]]),
      );
    expect(await offers('?incident_id=INC-P7')).toEqual({
      read: [true, ['profiles.read.agents', 'policy:tier-read']],
      contain: [false, ['policy:no-permit']],
      remediate: [false, ['policy:no-permit']],
    });
    // Without an incident only the profile patterns can answer.
    expect(await offers()).toEqual({
      read: [true, ['profiles.read.agents']],
      contain: [true, ['profiles.contain.agents']],
      remediate: [true, ['profiles.remediate.agents']],
    });
    expect((await ask('INC-P7', 'contain')).status).toBe(403);
  });

  it('refuses to start on a policy set that does not load, naming file, line and reason', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'qm-bad-policies-'));
    copyFileSync('config/policies/schema.cedarschema', join(dir, 'schema.cedarschema'));
    writeFileSync(join(dir, 'broken.cedar'), '@id("broken")\npermit (principal, action, resource)\nwhen { resource.tier == };\n');
    await expect(startTestBroker({ policy: { dir } })).rejects.toThrow(/broken\.cedar:3: unexpected token/u);
  });

  it('refuses a quarantined agent by its policy', async () => {
    await open('INC-P6', 'sev2');
    const agent = 'spiffe://dev.local/agent/suspect';
    expect((await ask('INC-P6', 'read', agent)).status).toBe(201);
    const path = `/v1/agents/${encodeURIComponent(agent)}/quarantine`;
    expect((await qm.request('POST', path, { token: await qm.operatorToken(), body: { reason: 'test' } })).status).toBe(201);
    const refused = await ask('INC-P6', 'read', agent);
    expect([refused.status, refused.body.error.code, refused.body.error.decided_by]).toEqual([
      403,
      'ERR_AGENT_QUARANTINED',
      ['policy:quarantined-agents-get-nothing'],
    ]);
  });
});
