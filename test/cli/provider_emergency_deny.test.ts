/**
 * `quartermaster provider emergency-deny` runs the same flow as the API on the broker the config
 * composes: every session of the role issued before now stops working at the fake AWS, the audit
 * in the shared store names who pulled the brake and why, and bad input is refused with exit 2.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAwsFake, type AwsFake } from '../fakes/aws/server.js';
import { brokerAwsEnv, credentialWorks, REGION } from '../providers/aws_sts_fixture.js';
import { startTestBroker, type TestBroker } from '../support/broker_harness.js';
import { runCli } from '../support/cli.js';
import { startRedisServer, type RedisServer } from '../support/redis_server.js';
import { testConfig, type TestConfigOptions } from '../support/test_config.js';

let fake: AwsFake;
let redis: RedisServer;
let qm: TestBroker;
let configFile: string;
let roleArn: string;

beforeAll(async () => {
  fake = await startAwsFake();
  Object.assign(process.env, brokerAwsEnv(fake));
  roleArn = fake.createRole('ir-readonly').arn;
  redis = await startRedisServer();
  const keyDir = mkdtempSync(join(tmpdir(), 'qm-cli-emergency-'));
  const options: TestConfigOptions = {
    keyDir,
    store: { kind: 'redis', url: redis.url, keyPrefix: 'qm-cli-emergency:' },
    profiles: {
      'aws-read': { provider: 'aws_sts', maxTtl: 3600, tier: 'read', agents: ['spiffe://dev\\.local/agent/[a-z]+'], params: { roleArn } },
    },
    providers: { aws_sts: { region: REGION, stsEndpoint: fake.url, iamEndpoint: fake.url, maxAttempts: 2 } },
  };
  qm = await startTestBroker(options);
  configFile = join(keyDir, 'quartermaster.yaml');
  writeFileSync(configFile, testConfig(options).yaml);
});
afterAll(async () => {
  await qm?.stop();
  await redis?.stop();
  await fake?.stop();
});

describe('quartermaster provider emergency-deny', () => {
  it('denies every older session of the role and audits who and why', async () => {
    await qm.request('POST', '/v1/incidents', { token: await qm.operatorToken(), body: { id: 'INC-CLI', title: 't', severity: 'sev1' } });
    const granted = await qm.request('POST', '/v1/grants', {
      token: await qm.agentToken('spiffe://dev.local/agent/triage'),
      body: { incident_id: 'INC-CLI', profile: 'aws-read', purpose: 'p' },
    });
    expect(granted.status).toBe(201);
    const issued = { credential: granted.body.credential, handle: {}, expiresAt: 0, secretFields: [] };
    expect(await credentialWorks(fake, issued)).toBe(true);
    const run = await runCli(
      [
        'provider',
        'emergency-deny',
        '--provider',
        'aws_sts',
        '--target',
        roleArn,
        '--reason',
        'policy full',
        '--by',
        'alice',
        '--config',
        configFile,
      ],
      brokerAwsEnv(fake),
    );
    expect([run.code, run.stderr.includes('ERR_')]).toEqual([0, false]);
    expect(JSON.parse(run.stdout)).toMatchObject({ denied: { provider: 'aws_sts', target: roleArn, by: 'alice', reason: 'policy full' } });
    expect(await credentialWorks(fake, issued)).toBe(false);
    const audit = await qm.request('GET', '/v1/audit', { token: await qm.operatorToken() });
    const event = audit.body.events.find((e: { type: string }) => e.type === 'provider.emergency_deny');
    expect(event).toMatchObject({
      actor: 'alice',
      reason: 'policy full',
      data: { provider: 'aws_sts', target: roleArn, outcome: 'denied' },
    });
  });

  it('refuses a target that is not a role ARN, an unknown provider and a missing reason, with exit 2', async () => {
    const base = ['provider', 'emergency-deny', '--config', configFile, '--by', 'alice'];
    const bad = await runCli([...base, '--provider', 'aws_sts', '--target', 'not-an-arn', '--reason', 'r'], brokerAwsEnv(fake));
    expect([bad.code, bad.stderr]).toEqual([2, expect.stringMatching(/target must be an IAM role ARN/u)]);
    const unknown = await runCli([...base, '--provider', 'gcp', '--target', roleArn, '--reason', 'r'], brokerAwsEnv(fake));
    expect([unknown.code, unknown.stderr]).toEqual([2, expect.stringMatching(/provider gcp is not configured/u)]);
    const noReason = await runCli([...base, '--provider', 'aws_sts', '--target', roleArn], brokerAwsEnv(fake));
    expect(noReason.code).toBe(2);
  });
});
