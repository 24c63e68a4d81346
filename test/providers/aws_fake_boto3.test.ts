/**
 * The fake AWS checked by clients we did not write: Debian's python3-boto3 (botocore's own Query
 * serializer, SigV4 signer and XML parser) drives AssumeRole with tags and a source identity, the
 * session's caller identity and GetRole, a tag Deny refusing it, the policy document round trip
 * (botocore URL-decodes and parses it), NoSuchEntity, a duration validation error and retried
 * throttling; Debian's awscli v2 makes one call. Both talk only to the fake on 127.0.0.1, with
 * config files and instance metadata turned off. A missing python3-boto3 fails here loudly
 * instead of skipping.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { REGION } from '../fakes/aws/sdk_clients.js';
import { type AwsFake, startAwsFake } from '../fakes/aws/server.js';

const run = promisify(execFile);
const SCRIPT = fileURLToPath(new URL('../fakes/aws/boto3_check.py', import.meta.url));
/** Debian's python3-boto3 lives in the system interpreter's dist-packages, not in a pyenv or venv python. */
const PYTHON = '/usr/bin/python3';
/** Debian's awscli (v2), not whatever `aws` a pyenv shim puts first on PATH. */
const AWS_CLI = '/usr/bin/aws';
/** Nothing from the developer's AWS setup may leak in: no config, no profile, no instance metadata. */
const ISOLATED = {
  PATH: '/usr/bin:/bin',
  HOME: '/nonexistent',
  AWS_CONFIG_FILE: '/dev/null',
  AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
  AWS_EC2_METADATA_DISABLED: 'true',
};

let fake: AwsFake;
beforeEach(async () => {
  fake = await startAwsFake();
});
afterEach(async () => fake?.stop());

it('passes a check driven by python3-boto3, an independent AWS client', async () => {
  const probe = await run(PYTHON, ['-c', 'import boto3']).then(
    () => null,
    (err: { stderr?: string }) => err.stderr ?? String(err),
  );
  expect(probe, `python3-boto3 is required (apt-get install -y python3-boto3): ${probe}`).toBeNull();
  fake.createRole('boto3-agent');
  const { stdout } = await run(PYTHON, [SCRIPT], {
    env: {
      ...ISOLATED,
      AWS_FAKE_URL: fake.url,
      AWS_FAKE_ACCESS_KEY_ID: fake.adminCredentials.accessKeyId,
      AWS_FAKE_SECRET_ACCESS_KEY: fake.adminCredentials.secretAccessKey,
      AWS_FAKE_REGION: REGION,
      AWS_FAKE_ROLE_NAME: 'boto3-agent',
    },
    timeout: 30_000,
  });
  expect(JSON.parse(stdout.trim())).toEqual({
    ok: true,
    steps: [
      'admin caller identity',
      'assume-role with tags and source identity',
      'session caller identity',
      'get-role with the session allowed',
      'get-role with the session refused by the tag deny',
      'caller identity never denied',
      'get-role-policy decoded by boto3; list-role-policies',
      'policy deleted: session allowed again',
      'NoSuchEntity',
      'duration over MaxSessionDuration refused',
      'throttling retried',
    ],
  });
  const session = fake.sessions()[0];
  expect(session).toMatchObject({
    roleName: 'boto3-agent',
    sessionName: 'boto3-check',
    tags: { incident_id: 'INC-BOTO3', agent: 'boto3' },
    sourceIdentity: 'boto3-agent',
  });
  expect(fake.calls.filter((c) => c.accessKeyId === session?.accessKeyId).map((c) => `${c.action} ${c.outcome}`)).toEqual([
    'GetCallerIdentity ok',
    'GetRole ok',
    'GetRole AccessDenied',
    'GetCallerIdentity ok',
    'GetRole ok',
  ]);
  expect(fake.calls.slice(-2).map((c) => `${c.action} ${c.outcome}`)).toEqual(['GetRole Throttling', 'GetRole ok']);
  expect(fake.unexpected).toEqual([]);
});

it('answers the Debian awscli (v2), signing with environment credentials', async () => {
  const probe = await run(AWS_CLI, ['--version']).then(
    (out) => out.stdout,
    (err: { stderr?: string }) => `missing: ${err.stderr ?? String(err)}`,
  );
  expect(probe, 'awscli is required (apt-get install -y awscli)').toMatch(/^aws-cli\/2\./u);
  const { stdout } = await run(AWS_CLI, ['sts', 'get-caller-identity', '--endpoint-url', fake.url, '--output', 'json'], {
    env: {
      ...ISOLATED,
      AWS_ACCESS_KEY_ID: fake.adminCredentials.accessKeyId,
      AWS_SECRET_ACCESS_KEY: fake.adminCredentials.secretAccessKey,
      AWS_DEFAULT_REGION: REGION,
    },
    timeout: 30_000,
  });
  expect(JSON.parse(stdout)).toMatchObject({ Account: fake.accountId, Arn: `arn:aws:iam::${fake.accountId}:user/quartermaster` });
  expect(fake.calls).toEqual([{ action: 'GetCallerIdentity', accessKeyId: fake.adminCredentials.accessKeyId, outcome: 'ok' }]);
  expect(fake.unexpected).toEqual([]);
});
