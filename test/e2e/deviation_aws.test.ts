/**
 * A detection rule names an AWS AccessKeyId (CloudTrail's userIdentity.accessKeyId): two brokers on
 * one Redis, the STS + IAM fake, the shipped deviation policies. The signal, sent to the broker that
 * did not issue the credential, revokes exactly that agent's grants of that incident — AWS (the
 * fake) refuses them — while another agent's grant in the same incident and the same agent's grant
 * in another incident keep working.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { IssuedCredential } from '../../src/sdk.js';
import { startAwsFake, type AwsFake } from '../fakes/aws/server.js';
import { awsProfileConfig, credentialWorks, REGION, useBrokerAwsEnv } from '../providers/aws_sts_fixture.js';
import { startTestBroker, type TestBroker } from '../support/broker_harness.js';
import { eventually } from '../support/eventually.js';
import { startRedisServer, type RedisServer } from '../support/redis_server.js';

const ROGUE = 'spiffe://dev.local/agent/enricher';
const OTHER = 'spiffe://dev.local/agent/triage';
let fake: AwsFake;
let redis: RedisServer;
let brokers: TestBroker[] = [];

beforeAll(async () => {
  fake = await startAwsFake();
  useBrokerAwsEnv(fake);
  const roleArn = fake.createRole('ir-readonly', { maxSessionDuration: 3600 }).arn;
  redis = await startRedisServer();
  const start = (keyDir?: string) =>
    startTestBroker({
      store: { kind: 'redis', url: redis.url, keyPrefix: 'qm-dev-aws:' },
      ...(keyDir ? { keyDir } : {}),
      policy: { dir: 'config/policies', watch: false },
      operators: { permissions: { 'signal-source': ['signals.send'] } },
      profiles: {
        'aws-read': awsProfileConfig(roleArn),
      },
      providers: { aws_sts: { region: REGION, stsEndpoint: fake.url, iamEndpoint: fake.url, maxAttempts: 3, requestTimeoutMs: 2000 } },
    });
  const first = await start();
  brokers = [first, await start(first.keyDir)];
});
afterAll(async () => {
  await Promise.all(brokers.map((b) => b.stop()));
  await redis?.stop();
  expect(fake?.unexpected ?? []).toEqual([]);
  await fake?.stop();
});

async function open(broker: TestBroker, id: string): Promise<void> {
  const res = await broker.request('POST', '/v1/incidents', {
    token: await broker.operatorToken(),
    body: { id, title: 't', severity: 'sev2' },
  });
  expect(res.status).toBe(201);
}
async function grant(
  broker: TestBroker,
  agent: string,
  incidentId: string,
): Promise<{ id: string; keyId: string; issued: IssuedCredential }> {
  const res = await broker.request('POST', '/v1/grants', {
    token: await broker.agentToken(agent),
    body: { incident_id: incidentId, profile: 'aws-read', purpose: 'enrich alerts' },
  });
  expect(res.status).toBe(201);
  return {
    id: res.body.grant.id,
    keyId: res.body.credential.AccessKeyId,
    issued: { credential: res.body.credential, handle: {}, expiresAt: 0, secretFields: [] },
  };
}
const works = (g: { issued: IssuedCredential }) => credentialWorks(fake, g.issued);

describe('a signal naming an AWS AccessKeyId', () => {
  it('revokes exactly that agent’s grants of that incident; the other agent’s and the other incident’s keep working', async () => {
    const [a, b] = brokers as [TestBroker, TestBroker];
    await open(a, 'INC-CT-1');
    await open(a, 'INC-CT-2');
    const named = await grant(a, ROGUE, 'INC-CT-1');
    const sameIncident = await grant(a, ROGUE, 'INC-CT-1');
    const otherIncident = await grant(a, ROGUE, 'INC-CT-2');
    const otherAgent = await grant(a, OTHER, 'INC-CT-1');
    for (const g of [named, sameIncident, otherIncident, otherAgent]) expect(await works(g)).toBe(true);

    const sender = await b.operatorToken('svc-cloudtrail-rules', ['signal-source']);
    const res = await b.request('POST', '/v1/signals', {
      token: sender,
      body: {
        id: 'ct-rule-7:evt-91f2',
        kind: 'cloudtrail.unusual_api',
        severity: 'medium',
        subject: { format: 'aws_access_key_id', id: named.keyId },
        summary: 'iam:CreateAccessKey from an enrichment session',
        evidence: ['https://siem.example/events/evt-91f2'],
        observed_at: new Date().toISOString(),
      },
    });
    expect(res.status).toBe(202);
    expect(res.body.signal).toEqual({
      id: 'ct-rule-7:evt-91f2',
      source: 'svc-cloudtrail-rules',
      agent: ROGUE,
      incident_id: 'INC-CT-1',
      grant_id: named.id,
    });

    await eventually(async () => (await works(named)) === false && (await works(sameIncident)) === false);
    expect(await works(otherIncident)).toBe(true);
    expect(await works(otherAgent)).toBe(true);
    const states = await Promise.all([named, sameIncident, otherIncident, otherAgent].map((g) => b.broker.store.getGrant(g.id)));
    expect(states.map((g) => [g?.state, g?.revokeReason])).toEqual([
      ['revoked', 'deviation'],
      ['revoked', 'deviation'],
      ['active', undefined],
      ['active', undefined],
    ]);
    const audit = await a.request('GET', '/v1/audit?incident=INC-CT-1', { token: await a.operatorToken() });
    expect(audit.body.events.find((e: { type: string }) => e.type === 'deviation.decided')).toMatchObject({
      actor: 'signal:svc-cloudtrail-rules',
      grantId: named.id,
      data: { subjectFormat: 'aws_access_key_id', outcome: 'revoke_in_incident', decidedBy: ['deviation-revokes-in-incident'], revoked: 2 },
    });
  });

  it('answers an AccessKeyId the broker never issued with ERR_SIGNAL_SUBJECT_UNKNOWN', async () => {
    const b = brokers[1] as TestBroker;
    const sender = await b.operatorToken('svc-cloudtrail-rules', ['signal-source']);
    const body = {
      id: 'ct-rule-7:evt-0000',
      kind: 'cloudtrail.unusual_api',
      severity: 'medium',
      subject: { format: 'aws_access_key_id', id: 'ASIANOTOURS00000000' },
    };
    const res = await b.request('POST', '/v1/signals', { token: sender, body });
    expect(res.status).toBe(404);
    expect(res.body.error.code).toBe('ERR_SIGNAL_SUBJECT_UNKNOWN');
  });
});
