/**
 * AWS STS end to end over HTTP: two brokers on one Redis, the STS + IAM fake. An agent's
 * credentials for INC-7 work against AWS (the fake) until INC-7 closes, then AWS refuses them while
 * another open incident's credentials on the same role keep working; a released grant is refused
 * while its sibling works; the incident report calls the closed ones denied, pending propagation;
 * closes on both brokers at once lose no Deny statement; the emergency deny stops every older
 * session of the role (API), with the permission it needs.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { IssuedCredential } from '../../src/sdk.js';
import { startAwsFake, type AwsFake } from '../fakes/aws/server.js';
import { awsProfileConfig, credentialWorks, REGION, useBrokerAwsEnv } from '../providers/aws_sts_fixture.js';
import { startTestBroker, type TestBroker } from '../support/broker_harness.js';
import { eventually } from '../support/eventually.js';
import { startRedisServer, type RedisServer } from '../support/redis_server.js';

const AGENT = 'spiffe://dev.local/agent/triage';
let fake: AwsFake;
let redis: RedisServer;
let brokers: TestBroker[] = [];
let roleArn: string;

beforeAll(async () => {
  fake = await startAwsFake();
  useBrokerAwsEnv(fake);
  roleArn = fake.createRole('ir-readonly', { maxSessionDuration: 3600 }).arn;
  redis = await startRedisServer();
  const start = (keyDir?: string) =>
    startTestBroker({
      store: { kind: 'redis', url: redis.url, keyPrefix: 'qm-aws:' },
      ...(keyDir ? { keyDir } : {}),
      operators: { permissions: { closer: ['incidents.close'] } },
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
async function grant(broker: TestBroker, incidentId: string, ttl?: number): Promise<{ id: string; issued: IssuedCredential; body: any }> {
  const res = await broker.request('POST', '/v1/grants', {
    token: await broker.agentToken(AGENT),
    body: { incident_id: incidentId, profile: 'aws-read', purpose: 'read CloudTrail', ...(ttl ? { ttl_seconds: ttl } : {}) },
  });
  expect(res.status).toBe(201);
  return { id: res.body.grant.id, issued: { credential: res.body.credential, handle: {}, expiresAt: 0, secretFields: [] }, body: res.body };
}
const close = async (broker: TestBroker, id: string) =>
  broker.request('POST', `/v1/incidents/${id}/close`, { token: await broker.operatorToken() });
const works = (g: { issued: IssuedCredential }) => credentialWorks(fake, g.issued);

describe('aws_sts over HTTP', () => {
  it('ends INC-7 credentials at its close while another incident on the same role works, and reports them denied', async () => {
    const [a, b] = brokers as [TestBroker, TestBroker];
    await open(a, 'INC-7');
    await open(a, 'INC-8');
    const seven = await grant(a, 'INC-7');
    const sevenToo = await grant(b, 'INC-7');
    const eight = await grant(b, 'INC-8');
    expect(seven.body.credential).toMatchObject({ AccessKeyId: expect.stringMatching(/^ASIA/u), Version: 1 });
    for (const g of [seven, sevenToo, eight]) expect(await works(g)).toBe(true);
    expect((await close(b, 'INC-7')).status).toBe(202);
    await eventually(async () => (await works(seven)) === false && (await works(sevenToo)) === false);
    expect(await works(eight)).toBe(true);
    const report = await eventually(async () => {
      const res = await a.request('GET', '/v1/incidents/INC-7', { token: await a.operatorToken() });
      return res.body.revocation.outstanding === 0 ? res.body : null;
    });
    expect(report.revocation).toMatchObject({ total: 2, confirmed: 0, unconfirmed: 2, denied_pending_propagation: 2 });
    expect(report.grants.map((g: { state: string; revocation_effect?: string }) => [g.state, g.revocation_effect])).toEqual([
      ['revoked', 'denied_pending_propagation'],
      ['revoked', 'denied_pending_propagation'],
    ]);
    // The audit names the receipt as what it is.
    const audit = await a.request('GET', '/v1/audit?incident=INC-7', { token: await a.operatorToken() });
    const revoked = audit.body.events.filter((e: { type: string }) => e.type === 'grant.revoked');
    expect(revoked.map((e: { data: { note: string; confirmed: boolean } }) => [e.data.note, e.data.confirmed])).toEqual([
      ['denied', false],
      ['denied', false],
    ]);
  });

  it('denies a released grant alone: its sibling in the incident keeps working', async () => {
    const [a, b] = brokers as [TestBroker, TestBroker];
    await open(a, 'INC-9');
    const released = await grant(a, 'INC-9');
    const sibling = await grant(b, 'INC-9');
    const res = await b.request('DELETE', `/v1/grants/${released.id}`, { token: await b.agentToken(AGENT) });
    expect(res.status).toBe(202);
    await eventually(async () => (await works(released)) === false);
    expect(await works(sibling)).toBe(true);
  });

  it('says so when a TTL below the STS minimum is raised to it', async () => {
    await open(brokers[0] as TestBroker, 'INC-10');
    const raised = await grant(brokers[0] as TestBroker, 'INC-10', 300);
    expect(raised.body.ttl).toEqual({
      requested_seconds: 300,
      granted_seconds: 900,
      // STS expirations have whole seconds: up to one less than granted.
      lifetime_seconds: expect.toSatisfy((s: number) => s === 899 || s === 900),
      adjusted: 'raised_to_provider_minimum',
    });
  });

  it('loses no statement when both brokers close incidents on the role at once', async () => {
    const [a, b] = brokers as [TestBroker, TestBroker];
    const ids = Array.from({ length: 8 }, (_, i) => `INC-C${i}`);
    const granted = [];
    for (const id of ids) {
      await open(a, id);
      granted.push(await grant(a, id));
    }
    const answers = await Promise.all(ids.map((id, i) => close(i % 2 ? a : b, id)));
    expect(answers.map((r) => r.status)).toEqual(ids.map(() => 202));
    await eventually(async () => {
      const policy = JSON.stringify(fake.rolePolicies('ir-readonly'));
      return ids.every((id) => policy.includes(`"${id}"`));
    });
    for (const g of granted) expect(await works(g)).toBe(false);
  });

  it('keeps the session secrets out of logs, audit events, metrics and every other answer', async () => {
    const [a, b] = brokers as [TestBroker, TestBroker];
    await open(a, 'INC-LEAK');
    const issued = await grant(a, 'INC-LEAK');
    const secrets = [String(issued.body.credential.SecretAccessKey), String(issued.body.credential.SessionToken)];
    expect(secrets.every((x) => x.length >= 20)).toBe(true);
    const operator = await a.operatorToken();
    await a.request('DELETE', `/v1/grants/${issued.id}`, { token: await a.agentToken(AGENT) });
    await close(b, 'INC-LEAK');
    await eventually(async () => (await works(issued)) === false);
    const sinks = [
      a.logs.text(),
      b.logs.text(),
      (await a.request('GET', '/v1/audit?limit=1000', { token: operator })).text,
      (await a.request('GET', '/v1/incidents/INC-LEAK', { token: operator })).text,
      (await a.request('GET', `/v1/grants/${issued.id}`, { token: await a.agentToken(AGENT) })).text,
      (await a.request('GET', '/metrics')).text,
    ];
    expect(sinks[0]?.length).toBeGreaterThan(1000);
    for (const sink of sinks) for (const secret of secrets) expect(sink).not.toContain(secret);
  });

  it('stops every older session of the role with the emergency deny, for an operator holding providers.emergency', async () => {
    const [a] = brokers as [TestBroker, TestBroker];
    await open(a, 'INC-E');
    const older = await grant(a, 'INC-E');
    expect(await works(older)).toBe(true);
    const body = { target: roleArn, reason: 'revocation policy full' };
    // The valid case needs the permission: an operator limited to closing incidents is refused.
    const closer = await a.operatorToken('closer@example.com', ['closer']);
    const refused = await a.request('POST', '/v1/providers/aws_sts/emergency-deny', { token: closer, body });
    expect([refused.status, refused.body.error.code]).toEqual([403, 'ERR_FORBIDDEN']);
    const res = await a.request('POST', '/v1/providers/aws_sts/emergency-deny', { token: await a.operatorToken(), body });
    expect(res.status).toBe(200);
    expect(res.body.denied).toMatchObject({ provider: 'aws_sts', target: roleArn, reason: 'revocation policy full' });
    await eventually(async () => (await works(older)) === false);
    const audit = await a.request('GET', '/v1/audit', { token: await a.operatorToken() });
    expect(audit.body.events.filter((e: { type: string }) => e.type === 'provider.emergency_deny').map((e: any) => e.data.outcome)).toEqual(
      ['denied'],
    );
  });
});
