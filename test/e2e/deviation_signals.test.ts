/**
 * Deviation signals in (POST /v1/signals) decided by the shipped Cedar policies
 * (config/policies/deviation.cedar): a signal signed by a configured source (Standard Webhooks,
 * signed here by the `standardwebhooks` package) or sent with an operator-issuer token granting
 * signals.send is resolved to its agent and grant, queued, and decided — medium revokes the agent's
 * grants in the incident, high everywhere, critical quarantines until a named operator lifts it,
 * low only audits. Unknown subjects get a clear error and an audit event; duplicates change
 * nothing; a shadow set's different outcome is reported, never enforced.
 */
import { mkdtempSync, writeFileSync, cpSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestBroker, type TestBroker } from '../support/broker_harness.js';
import { eventually } from '../support/eventually.js';

const SECRET = `whsec_${Buffer.from('a signal source secret, 32 bytes!').toString('base64')}`;
const ROGUE = 'spiffe://dev.local/agent/rogue';
const OTHER = 'spiffe://dev.local/agent/triage';
const dir = mkdtempSync(join(tmpdir(), 'qm-signals-'));
const secretFile = join(dir, 'siem-secret');
writeFileSync(secretFile, SECRET, { mode: 0o600 });

let qm: TestBroker;
let operator: string;
let incidents = 0;

beforeAll(async () => {
  qm = await startTestBroker({
    policy: { dir: 'config/policies', watch: false },
    operators: { permissions: { 'signal-source': ['signals.send'], auditor: ['audit.read'] } },
    deviation: { sources: [{ name: 'siem', secretFiles: [secretFile] }] },
  });
  operator = await qm.operatorToken();
});
afterAll(() => qm?.stop());

async function open(): Promise<string> {
  const id = `INC-SIG-${++incidents}`;
  const res = await qm.request('POST', '/v1/incidents', { token: operator, body: { id, title: 't', severity: 'sev2' } });
  expect(res.status).toBe(201);
  return id;
}
async function grant(agent: string, incident: string): Promise<{ id: string; token: string }> {
  const res = await qm.request('POST', '/v1/grants', {
    token: await qm.agentToken(agent),
    body: { incident_id: incident, profile: 'demo', purpose: 'triage' },
  });
  expect(res.status).toBe(201);
  return { id: res.body.grant.id, token: res.body.credential.access_token };
}
const stateOf = async (grantId: string) => (await qm.broker.store.getGrant(grantId))?.state;

let signals = 0;
/** A signal as a SIEM rule would post it, signed for the `siem` source unless told otherwise. */
function signal(fields: Record<string, unknown>): Record<string, unknown> {
  return { id: `siem-${++signals}`, kind: 'cloudtrail.unusual_api', severity: 'medium', ...fields };
}
async function sendSigned(body: Record<string, unknown>, secret = SECRET) {
  const payload = JSON.stringify(body);
  const msgId = `msg_${body.id as string}`;
  const headers = new Webhook(secret).sign(msgId, new Date(), payload);
  return qm.request('POST', '/v1/signals', {
    body: payload,
    headers: { 'webhook-id': msgId, 'webhook-timestamp': String(Math.floor(Date.now() / 1000)), 'webhook-signature': headers },
  });
}
const decided = async (signalId: string) =>
  eventually(async () => {
    const events = (await qm.request('GET', '/v1/audit?limit=500', { token: operator })).body.events as any[];
    return events.find((e) => e.type === 'deviation.decided' && e.data?.signalId === signalId) ?? null;
  });

describe('signals in', () => {
  it('revokes exactly the named credential’s agent’s grants of that incident on a medium signal', async () => {
    const [inc, elsewhere] = [await open(), await open()];
    const named = await grant(ROGUE, inc);
    const sibling = await grant(ROGUE, inc);
    const rogueElsewhere = await grant(ROGUE, elsewhere);
    const other = await grant(OTHER, inc);
    const sent = signal({ subject: { format: 'jti', id: named.id }, evidence: ['https://siem.example/search/42'] });
    const res = await sendSigned(sent);
    expect(res.status).toBe(202);
    expect(res.body).toEqual({
      status: 'accepted',
      signal: { id: sent.id, source: 'siem', agent: ROGUE, incident_id: inc, grant_id: named.id },
    });
    const event = await decided(sent.id as string);
    expect(event).toMatchObject({
      actor: 'signal:siem',
      incidentId: inc,
      grantId: named.id,
      reason: 'revoke_in_incident',
      data: {
        agent: ROGUE,
        source: 'siem',
        kind: 'cloudtrail.unusual_api',
        severity: 'medium',
        outcome: 'revoke_in_incident',
        decidedBy: ['deviation-revokes-in-incident'],
        revoked: 2,
        evidence: ['https://siem.example/search/42'],
      },
    });
    await eventually(async () => (await stateOf(named.id)) === 'revoked' && (await stateOf(sibling.id)) === 'revoked');
    expect((await qm.broker.store.getGrant(named.id))?.revokeReason).toBe('deviation');
    expect(await stateOf(rogueElsewhere.id)).toBe('active');
    expect(await stateOf(other.id)).toBe('active');
    // The post-incident report files it under the agent it was about.
    const report = (await qm.request('GET', `/v1/incidents/${inc}/report`, { token: operator })).body;
    const section = report.agents.find((a: { agent: string }) => a.agent === ROGUE);
    expect(section.deviations).toEqual([
      {
        at: Date.parse(event.at),
        type: 'deviation.decided',
        reason: 'revoke_in_incident',
        kind: 'cloudtrail.unusual_api',
        severity: 'medium',
        source: 'siem',
        decided_by: ['deviation-revokes-in-incident'],
        revoked: 2,
      },
    ]);
    expect(report.agents.find((a: { agent: string }) => a.agent === OTHER).deviations).toEqual([]);
    const markdown = (await qm.request('GET', `/v1/incidents/${inc}/report?format=markdown`, { token: operator })).text;
    expect(markdown).toContain(
      'cloudtrail.unusual\\_api, medium, from siem: revoke\\_in\\_incident (deviation\\-revokes\\-in\\-incident), 2 revoked',
    );
  });

  it('revokes the agent’s grants everywhere on a high signal, and only audits a low one', async () => {
    const agent = 'spiffe://dev.local/agent/everywhere';
    const [a, b] = [await open(), await open()];
    const first = await grant(agent, a);
    const second = await grant(agent, b);
    const low = signal({ severity: 'low', subject: { format: 'agent', id: agent } });
    expect((await sendSigned(low)).status).toBe(202);
    expect(await decided(low.id as string)).toMatchObject({ reason: 'none', data: { outcome: 'none', decidedBy: [], revoked: 0 } });
    expect([await stateOf(first.id), await stateOf(second.id)]).toEqual(['active', 'active']);

    const high = signal({ severity: 'high', subject: { format: 'agent', id: agent } });
    expect((await sendSigned(high)).status).toBe(202);
    expect(await decided(high.id as string)).toMatchObject({
      reason: 'revoke_everywhere',
      data: { decidedBy: ['deviation-high-revokes-everywhere'], revoked: 2 },
    });
    await eventually(async () => (await stateOf(first.id)) === 'revoked' && (await stateOf(second.id)) === 'revoked');
  });

  it('quarantines on a critical signal: ERR_AGENT_QUARANTINED until a named operator lifts it, the lift audited with the name', async () => {
    const agent = 'spiffe://dev.local/agent/quarantined';
    const inc = await open();
    const held = await grant(agent, inc);
    const critical = signal({ severity: 'critical', kind: 'edr.credential_dumping', subject: { format: 'grant_id', id: held.id } });
    expect((await sendSigned(critical)).status).toBe(202);
    expect(await decided(critical.id as string)).toMatchObject({
      reason: 'quarantine',
      data: { decidedBy: ['deviation-critical-quarantines'], revoked: 1 },
    });
    await eventually(async () => (await stateOf(held.id)) === 'revoked');
    const refused = await qm.request('POST', '/v1/grants', {
      token: await qm.agentToken(agent),
      body: { incident_id: inc, profile: 'demo', purpose: 'again' },
    });
    expect(refused.status).toBe(403);
    expect(refused.body.error.code).toBe('ERR_AGENT_QUARANTINED');
    const path = `/v1/agents/${encodeURIComponent(agent)}`;
    expect((await qm.request('GET', path, { token: operator })).body.quarantine).toMatchObject({ state: 'quarantined', by: 'signal:siem' });

    const bob = await qm.operatorToken('bob@example.com');
    const lifted = await qm.request('POST', `${path}/quarantine/lift`, { token: bob, body: { reason: 'reimaged the runner' } });
    expect(lifted.status).toBe(200);
    const events = (await qm.request('GET', '/v1/audit?limit=500', { token: operator })).body.events as any[];
    expect(events.find((e) => e.type === 'agent.quarantine_lifted' && e.data?.agent === agent)).toMatchObject({
      actor: 'bob@example.com',
      data: { reason: 'reimaged the runner' },
    });
    await grant(agent, inc);
  });

  it('takes a signal from an operator-issuer token with signals.send, named by its subject; refuses one without', async () => {
    const inc = await open();
    const held = await grant(ROGUE, inc);
    const body = signal({ subject: { format: 'jti', id: held.id } });
    const sender = await qm.operatorToken('svc-guardduty', ['signal-source']);
    const res = await qm.request('POST', '/v1/signals', { token: sender, body });
    expect(res.status).toBe(202);
    expect(res.body.signal.source).toBe('svc-guardduty');
    expect(await decided(body.id as string)).toMatchObject({ actor: 'signal:svc-guardduty', data: { source: 'svc-guardduty' } });
    // The same call with a token whose roles grant something else: 403, nothing queued.
    const auditor = await qm.operatorToken('carol', ['auditor']);
    const refused = await qm.request('POST', '/v1/signals', { token: auditor, body: signal({ subject: { format: 'jti', id: held.id } }) });
    expect(refused.status).toBe(403);
  });

  it('refuses unsigned, wrongly signed and stale signals, before reading them', async () => {
    const inc = await open();
    const held = await grant(OTHER, inc);
    const valid = signal({ severity: 'low', subject: { format: 'jti', id: held.id } });
    expect((await sendSigned(valid)).status).toBe(202);
    const unsigned = await qm.request('POST', '/v1/signals', { body: signal({ subject: { format: 'jti', id: held.id } }) });
    expect(unsigned.status).toBe(401);
    expect(unsigned.body.error.code).toBe('ERR_UNAUTHENTICATED');
    const other = `whsec_${Buffer.from('somebody else entirely, 32 bytes').toString('base64')}`;
    const forged = await sendSigned(signal({ subject: { format: 'jti', id: held.id } }), other);
    expect(forged.status).toBe(401);
    expect(forged.body.error.code).toBe('ERR_WEBHOOK_SIGNATURE');
    const payload = JSON.stringify(signal({ subject: { format: 'jti', id: held.id } }));
    const old = new Date(Date.now() - 3600_000);
    const stale = await qm.request('POST', '/v1/signals', {
      body: payload,
      headers: {
        'webhook-id': 'msg_old',
        'webhook-timestamp': String(Math.floor(old.getTime() / 1000)),
        'webhook-signature': new Webhook(SECRET).sign('msg_old', old, payload),
      },
    });
    expect(stale.status).toBe(401);
    expect(await stateOf(held.id)).toBe('active');
  });

  it('answers a credential the broker never issued with ERR_SIGNAL_SUBJECT_UNKNOWN and audits it', async () => {
    const inc = await open();
    const held = await grant(OTHER, inc);
    // The valid case: the jti of a real grant resolves.
    expect((await sendSigned(signal({ severity: 'low', subject: { format: 'jti', id: held.id } }))).status).toBe(202);
    const unknown = signal({ subject: { format: 'jti', id: 'grt_AAAAAAAAAAAAAAAAAAAAAA' } });
    const res = await sendSigned(unknown);
    expect(res.status).toBe(404);
    expect(res.body.error.code).toBe('ERR_SIGNAL_SUBJECT_UNKNOWN');
    const events = (await qm.request('GET', '/v1/audit?limit=500', { token: operator })).body.events as any[];
    expect(events.find((e) => e.type === 'deviation.signal_unresolved' && e.data?.signalId === unknown.id)).toMatchObject({
      actor: 'signal:siem',
      reason: 'ERR_SIGNAL_SUBJECT_UNKNOWN',
      data: { source: 'siem', subjectFormat: 'jti', subject: 'grt_AAAAAAAAAAAAAAAAAAAAAA' },
    });
    // A format nobody declares (this broker has no AWS provider) is a 400 naming the ones it knows.
    const format = await sendSigned(signal({ subject: { format: 'aws_access_key_id', id: 'ASIAEXAMPLE' } }));
    expect(format.status).toBe(400);
    expect(format.body.error.formats).toEqual(['agent', 'grant_id', 'jti']);
    // The named incident must be the credential's.
    const mismatch = await sendSigned(signal({ subject: { format: 'jti', id: held.id }, incident_id: 'INC-ELSEWHERE' }));
    expect(mismatch.status).toBe(422);
    expect(mismatch.body.error.code).toBe('ERR_SIGNAL_MISMATCH');
    expect(await stateOf(held.id)).toBe('active');
  });

  it('applies a signal sent twice once: the second is a 200 duplicate', async () => {
    const inc = await open();
    const held = await grant(ROGUE, inc);
    const body = signal({ subject: { format: 'jti', id: held.id } });
    expect((await sendSigned(body)).status).toBe(202);
    const again = await sendSigned(body);
    expect(again.status).toBe(200);
    expect(again.body.status).toBe('duplicate');
    await decided(body.id as string);
    const events = (await qm.request('GET', '/v1/audit?limit=500', { token: operator })).body.events as any[];
    expect(events.filter((e) => e.type === 'deviation.decided' && e.data?.signalId === body.id)).toHaveLength(1);
  });

  it('refuses a malformed signal with the field named, and queues nothing', async () => {
    const inc = await open();
    const held = await grant(OTHER, inc);
    for (const [field, value] of [
      ['severity', 'urgent'],
      ['kind', 'Has Spaces'],
      ['subject', { format: 'jti' }],
      ['evidence', ['ok', 'bad\u0007bell']],
      ['extra', 1],
    ] as const) {
      const res = await sendSigned({ ...signal({ subject: { format: 'jti', id: held.id } }), [field]: value });
      expect(res.status, field).toBe(400);
      expect(res.body.error.code, field).toBe('ERR_VALIDATION');
    }
    expect(await stateOf(held.id)).toBe('active');
  });
});

describe('signals under a shadow set', () => {
  let shadowed: TestBroker;
  beforeAll(async () => {
    // The shadow set quarantines on high instead of revoking everywhere.
    const shadowDir = mkdtempSync(join(tmpdir(), 'qm-shadow-'));
    cpSync('config/policies', shadowDir, { recursive: true });
    writeFileSync(
      join(shadowDir, 'deviation.cedar'),
      '@id("shadow-high-quarantines")\npermit (principal, action == Quartermaster::Action::"quarantine", resource)\nwhen { resource.severity == "high" };\n',
    );
    shadowed = await startTestBroker({
      policy: { dir: 'config/policies', shadowDir, watch: false },
      deviation: { sources: [{ name: 'siem', secretFiles: [secretFile] }] },
    });
  });
  afterAll(() => shadowed?.stop());

  it('enforces the enforced set’s outcome and reports the shadow set’s', async () => {
    const op = await shadowed.operatorToken();
    expect(
      (await shadowed.request('POST', '/v1/incidents', { token: op, body: { id: 'INC-SH', title: 't', severity: 'sev2' } })).status,
    ).toBe(201);
    const body = { id: 'shadow-1', kind: 'edr.alert', severity: 'high', subject: { format: 'agent', id: ROGUE } };
    const sent = await shadowed.request('POST', '/v1/signals', { token: op, body });
    expect(sent.status).toBe(202);
    const event = await eventually(async () => {
      const events = (await shadowed.request('GET', '/v1/audit?limit=100', { token: op })).body.events as any[];
      return events.find((e) => e.type === 'deviation.decided') ?? null;
    });
    expect(event).toMatchObject({ reason: 'revoke_everywhere', data: { shadowOutcome: 'quarantine' } });
    expect((await shadowed.request('GET', `/v1/agents/${encodeURIComponent(ROGUE)}`, { token: op })).body.quarantine.state).toBe('none');
    const metrics = (await shadowed.request('GET', '/metrics')).text;
    expect(metrics).toMatch(/quartermaster_policy_shadow_differences_total\{enforced="revoke_everywhere",shadow="quarantine"\} 1/u);
  });
});
