/**
 * The kill at close with the STS + IAM fake (revocation/incident_kill.ts): issue records each role
 * an incident's sessions use, so the close itself writes the incident's Deny on every one of them
 * before the revocation queue has claimed a job; the queue then finds the entries written and
 * makes no second write. Sessions of another incident on the same role keep working.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { IssuedCredential } from '../../src/sdk.js';
import { startAwsFake, type AwsFake } from '../fakes/aws/server.js';
import { awsProfileConfig, credentialWorks, REGION, useBrokerAwsEnv } from '../providers/aws_sts_fixture.js';
import { startTestBroker, type TestBroker } from '../support/broker_harness.js';
import { eventually } from '../support/eventually.js';

const AGENT = 'spiffe://dev.local/agent/triage';
let fake: AwsFake;
let qm: TestBroker;
let restoreEnv: () => void;

beforeAll(async () => {
  fake = await startAwsFake();
  restoreEnv = useBrokerAwsEnv(fake);
  const read = fake.createRole('ir-readonly', { maxSessionDuration: 3600 }).arn;
  const triage = fake.createRole('ir-triage', { maxSessionDuration: 3600 }).arn;
  qm = await startTestBroker({
    runWorker: false,
    profiles: { 'aws-read': awsProfileConfig(read), 'aws-triage': awsProfileConfig(triage) },
    providers: { aws_sts: { region: REGION, stsEndpoint: fake.url, iamEndpoint: fake.url, maxAttempts: 3, requestTimeoutMs: 2000 } },
  });
});
afterAll(async () => {
  await qm?.stop();
  restoreEnv?.();
  expect(fake?.unexpected ?? []).toEqual([]);
  await fake?.stop();
});

async function open(id: string): Promise<void> {
  const res = await qm.request('POST', '/v1/incidents', { token: await qm.operatorToken(), body: { id, title: 't', severity: 'sev2' } });
  expect(res.status).toBe(201);
}
async function grant(incidentId: string, profileName: string): Promise<IssuedCredential> {
  const res = await qm.request('POST', '/v1/grants', {
    token: await qm.agentToken(AGENT),
    body: { incident_id: incidentId, profile: profileName, purpose: 'read CloudTrail' },
  });
  expect(res.status, res.text).toBe(201);
  return { credential: res.body.credential, handle: {}, expiresAt: 0, secretFields: [] };
}
const puts = () => fake.calls.filter((c) => c.action === 'PutRolePolicy' && c.outcome === 'ok').length;

it('denies the incident on every role it used at close, with no worker running; the queue then writes nothing more', async () => {
  await open('INC-K');
  await open('INC-K-OTHER');
  const onRead = await grant('INC-K', 'aws-read');
  const onReadToo = await grant('INC-K', 'aws-read');
  const onTriage = await grant('INC-K', 'aws-triage');
  const other = await grant('INC-K-OTHER', 'aws-read');
  for (const c of [onRead, onReadToo]) expect(await credentialWorks(fake, c, 'ir-readonly')).toBe(true);
  expect(await credentialWorks(fake, onTriage, 'ir-triage')).toBe(true);

  const close = await qm.request('POST', '/v1/incidents/INC-K/close', { token: await qm.operatorToken() });
  expect(close.status).toBe(202);
  // One write per role, from the kill: no job has been claimed, every grant is still revoking.
  await eventually(async () => puts() === 2);
  for (const c of [onRead, onReadToo]) expect(await credentialWorks(fake, c, 'ir-readonly')).not.toBe(true);
  expect(await credentialWorks(fake, onTriage, 'ir-triage')).not.toBe(true);
  expect(await credentialWorks(fake, other, 'ir-readonly')).toBe(true);
  const waiting = await qm.request('GET', '/v1/incidents/INC-K', { token: await qm.operatorToken() });
  expect(waiting.body.revocation.by_state.revoking).toBe(3);
  const metrics = (await qm.request('GET', '/metrics')).text;
  expect(metrics).toContain('quartermaster_incident_kill_seconds_count{provider="aws_sts",outcome="killed"} 1');

  expect(await qm.broker.worker.runOnce()).toBe(3);
  const done = await qm.request('GET', '/v1/incidents/INC-K', { token: await qm.operatorToken() });
  expect(done.body.revocation).toMatchObject({ total: 3, outstanding: 0, denied_pending_propagation: 3 });
  expect(puts()).toBe(2);
  expect(await credentialWorks(fake, other, 'ir-readonly')).toBe(true);
});
