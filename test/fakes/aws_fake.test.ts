/**
 * The fake AWS (test/fakes/aws/) driven by the real @aws-sdk/client-sts and @aws-sdk/client-iam:
 * AssumeRole and its validation, role chaining, GetCallerIdentity, policy evaluation on session
 * calls (tag, userid and token-issue-time Denies, session policies), the inline-policy actions and
 * quota, injected throttling and failures, and SigV4 authentication. Each refusal is preceded by
 * its valid counterpart.
 */
import {
  DeleteRolePolicyCommand,
  GetRoleCommand,
  GetRolePolicyCommand,
  ListRolePoliciesCommand,
  PutRolePolicyCommand,
} from '@aws-sdk/client-iam';
import { AssumeRoleCommand, type AssumeRoleCommandInput, GetCallerIdentityCommand } from '@aws-sdk/client-sts';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { conditionsHold } from './aws/conditions.js';
import { assumeRole, type Credentials, expectRefusal, iamClient, stsClient } from './aws/sdk_clients.js';
import { type AwsFake, startAwsFake } from './aws/server.js';

const T0 = Date.UTC(2030, 0, 15, 12, 0, 0);
const ACCOUNT = '123456789012';
let clock: { now: number };
let fake: AwsFake;

beforeEach(async () => {
  clock = { now: T0 };
  fake = await startAwsFake({ now: () => clock.now });
});
afterEach(async () => {
  expect(fake.unexpected).toEqual([]);
  await fake.stop();
});

const policy = (...statements: object[]): string => JSON.stringify({ Version: '2012-10-17', Statement: statements });
const denyWhen = (condition: object, action: string | string[] = 'iam:*'): string =>
  policy({ Effect: 'Deny', Action: action, Resource: '*', Condition: condition });
const putPolicy = (role: string, name: string, document: string) =>
  iamClient(fake).send(new PutRolePolicyCommand({ RoleName: role, PolicyName: name, PolicyDocument: document }));
const getRole = (credentials: Credentials, name = 'agent') => iamClient(fake, credentials).send(new GetRoleCommand({ RoleName: name }));
const session = async (input: Partial<AssumeRoleCommandInput> = {}, from?: Credentials) =>
  (await assumeRole(fake, { RoleArn: `arn:aws:iam::${ACCOUNT}:role/agent`, RoleSessionName: 'agent-1', ...input }, from)).credentials;
const assume = (input: Partial<AssumeRoleCommandInput>, from?: Credentials) =>
  stsClient(fake, from).send(
    new AssumeRoleCommand({ RoleArn: `arn:aws:iam::${ACCOUNT}:role/agent`, RoleSessionName: 'agent-1', ...input }),
  );
const validation = (message: string | RegExp) => ({ name: 'ValidationError', status: 400, message });

describe('AssumeRole', () => {
  it('issues session credentials shaped like STS, with tags, transitive keys, source identity, external id and session policy', async () => {
    const role = fake.createRole('agent', { externalId: 'qm-ext-1' });
    const sessionPolicy = policy({ Effect: 'Allow', Action: ['iam:GetRole', 'iam:ListRolePolicies'], Resource: '*' });
    const tags = [
      { Key: 'incident_id', Value: 'INC-42' },
      { Key: 'grant', Value: 'g-1' },
    ];
    const { out } = await assumeRole(fake, {
      RoleArn: role.arn,
      RoleSessionName: 'inc-42-agent',
      DurationSeconds: 900,
      Tags: tags,
      TransitiveTagKeys: ['incident_id'],
      SourceIdentity: 'alice@example.com',
      ExternalId: 'qm-ext-1',
      Policy: sessionPolicy,
    });
    expect(out.Credentials?.AccessKeyId).toMatch(/^ASIA[A-Z0-9]{16}$/u);
    expect(out.Credentials?.SecretAccessKey).toHaveLength(40);
    expect(out.Credentials?.SessionToken?.length).toBeGreaterThan(100);
    expect(out.Credentials?.Expiration).toEqual(new Date(T0 + 900_000));
    expect(out.AssumedRoleUser).toEqual({
      AssumedRoleId: `${role.roleId}:inc-42-agent`,
      Arn: `arn:aws:sts::${ACCOUNT}:assumed-role/agent/inc-42-agent`,
    });
    expect(out.SourceIdentity).toBe('alice@example.com');
    expect(out.PackedPolicySize).toBeGreaterThan(0);
    expect(role.roleId).toMatch(/^AROA[A-Z0-9]{17}$/u);
    expect(fake.sessions()).toEqual([
      {
        accessKeyId: out.Credentials?.AccessKeyId,
        secretAccessKey: out.Credentials?.SecretAccessKey,
        sessionToken: out.Credentials?.SessionToken,
        roleName: 'agent',
        sessionName: 'inc-42-agent',
        assumedRoleId: `${role.roleId}:inc-42-agent`,
        tags: { incident_id: 'INC-42', grant: 'g-1' },
        transitiveTagKeys: ['incident_id'],
        sourceIdentity: 'alice@example.com',
        externalId: 'qm-ext-1',
        policy: sessionPolicy,
        policyArns: [],
        issuedAt: T0,
        expiresAt: T0 + 900_000,
      },
    ]);
  });

  it('defaults DurationSeconds to 3600 and leaves out PackedPolicySize when nothing is packed', async () => {
    fake.createRole('agent');
    const out = await assume({});
    expect(out.Credentials?.Expiration).toEqual(new Date(T0 + 3_600_000));
    expect(out.PackedPolicySize).toBeUndefined();
  });

  it('refuses a RoleSessionName outside [\\w+=,.@-] or 2–64 characters', async () => {
    fake.createRole('agent');
    await assume({ RoleSessionName: 'a=b,c.d@e-f_g+h' });
    await assume({ RoleSessionName: 'x'.repeat(64) });
    const pattern =
      "1 validation error detected: Value 'inc:42' at 'roleSessionName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]*";
    await expectRefusal(assume({ RoleSessionName: 'inc:42' }), validation(pattern));
    await expectRefusal(
      assume({ RoleSessionName: 'x'.repeat(65) }),
      validation(/at 'roleSessionName' failed to satisfy constraint: Member must have length less than or equal to 64$/u),
    );
  });

  it('refuses DurationSeconds under 900 or over the role MaxSessionDuration', async () => {
    fake.createRole('agent', { maxSessionDuration: 7200 });
    await assume({ DurationSeconds: 900 });
    await assume({ DurationSeconds: 7200 });
    await expectRefusal(
      assume({ DurationSeconds: 899 }),
      validation(/Value '899' at 'durationSeconds' failed to satisfy constraint: Member must have value greater than or equal to 900/u),
    );
    await expectRefusal(
      assume({ DurationSeconds: 7201 }),
      validation('The requested DurationSeconds exceeds the MaxSessionDuration set for this role.'),
    );
  });

  it('refuses more than 50 tags, and tag keys or values outside the tag rules', async () => {
    fake.createRole('agent');
    const many = (n: number) => Array.from({ length: n }, (_, i) => ({ Key: `k${i}`, Value: `v${i}` }));
    await assume({ Tags: many(50) });
    await assume({ Tags: [{ Key: 'k'.repeat(128), Value: 'Ünïcode value 1 _.:/=+-@' }] });
    await expectRefusal(
      assume({ Tags: many(51) }),
      validation(/at 'tags' failed to satisfy constraint: Member must have length less than or equal to 50/u),
    );
    await expectRefusal(
      assume({ Tags: [{ Key: 'k'.repeat(129), Value: 'v' }] }),
      validation(/at 'tags.1.member.key' failed to satisfy constraint: Member must have length/u),
    );
    await expectRefusal(
      assume({ Tags: [{ Key: 'incident_id', Value: 'INC#42' }] }),
      validation(/Value 'INC#42' at 'tags.1.member.value' failed to satisfy constraint: Member must satisfy regular expression pattern/u),
    );
  });

  it('refuses tag keys given twice, whatever their case', async () => {
    fake.createRole('agent');
    await assume({
      Tags: [
        { Key: 'incident_id', Value: 'a' },
        { Key: 'incident', Value: 'b' },
      ],
    });
    const duplicate = {
      name: 'InvalidParameterValue',
      status: 400,
      message: 'Duplicate tag keys found. Please note that Tag keys are case insensitive.',
    };
    await expectRefusal(
      assume({
        Tags: [
          { Key: 'incident_id', Value: 'a' },
          { Key: 'Incident_ID', Value: 'b' },
        ],
      }),
      duplicate,
    );
  });

  it('refuses a transitive tag key that is not among the tags', async () => {
    fake.createRole('agent');
    await assume({ Tags: [{ Key: 'incident_id', Value: 'a' }], TransitiveTagKeys: ['incident_id'] });
    const notTagged = {
      name: 'InvalidParameterValue',
      status: 400,
      message: 'The specified transitive tag key must be included in the requested tags.',
    };
    await expectRefusal(assume({ Tags: [{ Key: 'incident_id', Value: 'a' }], TransitiveTagKeys: ['grant'] }), notTagged);
  });

  it('refuses a SourceIdentity outside [\\w+=,.@-] or 2–64 characters, so none starts with aws:', async () => {
    fake.createRole('agent');
    await assume({ SourceIdentity: 'alice@example.com' });
    await expectRefusal(
      assume({ SourceIdentity: 'aws:alice' }),
      validation(/at 'sourceIdentity' failed to satisfy constraint: Member must satisfy regular expression pattern/u),
    );
    await expectRefusal(
      assume({ SourceIdentity: 'a' }),
      validation(/at 'sourceIdentity' failed to satisfy constraint: Member must have length greater than or equal to 2/u),
    );
  });

  it("requires the role's external id", async () => {
    fake.createRole('agent', { externalId: 'qm-ext-1' });
    fake.createRole('plain');
    await assume({ ExternalId: 'qm-ext-1' });
    await assume({ RoleArn: `arn:aws:iam::${ACCOUNT}:role/plain`, ExternalId: 'anything' });
    const denied = {
      name: 'AccessDenied',
      status: 403,
      message: `User: arn:aws:iam::${ACCOUNT}:user/quartermaster is not authorized to perform: sts:AssumeRole on resource: arn:aws:iam::${ACCOUNT}:role/agent`,
    };
    await expectRefusal(assume({ ExternalId: 'qm-ext-2' }), denied);
    await expectRefusal(assume({}), denied);
    await expectRefusal(
      assume({ ExternalId: 'q' }),
      validation(/at 'externalId' failed to satisfy constraint: Member must have length greater than or equal to 2/u),
    );
  });

  it('refuses a session policy that is not JSON or is over 2048 characters, and more than 10 policy ARNs', async () => {
    fake.createRole('agent');
    const allow = (padding: string) => policy({ Sid: padding, Effect: 'Allow', Action: 'iam:GetRole', Resource: '*' });
    const fits = allow('x'.repeat(2048 - allow('').length));
    expect(fits).toHaveLength(2048);
    await assume({ Policy: fits });
    const malformed = { name: 'MalformedPolicyDocumentException', status: 400, message: 'The policy is not in the valid JSON format.' };
    await expectRefusal(assume({ Policy: fits.slice(0, -1) }), malformed);
    await expectRefusal(
      assume({ Policy: allow('x'.repeat(2049 - allow('').length)) }),
      validation(/at 'policy' failed to satisfy constraint: Member must have length less than or equal to 2048/u),
    );
    const arns = (n: number) => Array.from({ length: n }, (_, i) => ({ arn: `arn:aws:iam::${ACCOUNT}:policy/p${i}` }));
    await assume({ PolicyArns: arns(10) });
    await expectRefusal(
      assume({ PolicyArns: arns(11) }),
      validation(/at 'policyArns' failed to satisfy constraint: Member must have length less than or equal to 10/u),
    );
  });

  it('refuses a role the account does not have, and a RoleArn that is not an ARN', async () => {
    fake.createRole('agent');
    await assume({ RoleArn: `arn:aws:iam::${ACCOUNT}:role/agent` });
    const denied = (arn: string) => ({
      name: 'AccessDenied',
      status: 403,
      message: `User: arn:aws:iam::${ACCOUNT}:user/quartermaster is not authorized to perform: sts:AssumeRole on resource: ${arn}`,
    });
    await expectRefusal(assume({ RoleArn: `arn:aws:iam::${ACCOUNT}:role/ghost` }), denied(`arn:aws:iam::${ACCOUNT}:role/ghost`));
    await expectRefusal(assume({ RoleArn: 'arn:aws:iam::210987654321:role/agent' }), denied('arn:aws:iam::210987654321:role/agent'));
    await expectRefusal(assume({ RoleArn: 'nothing-valid-in-here' }), validation('nothing-valid-in-here is invalid'));
  });
});

describe('role chaining', () => {
  it('carries transitive tags and the source identity into the next session and refuses to set them again', async () => {
    fake.createRole('agent');
    fake.createRole('reader', { maxSessionDuration: 43200 });
    const first = await session({
      Tags: [
        { Key: 'incident_id', Value: 'INC-7' },
        { Key: 'grant', Value: 'g-1' },
      ],
      TransitiveTagKeys: ['incident_id'],
      SourceIdentity: 'alice',
    });
    const reader = { RoleArn: `arn:aws:iam::${ACCOUNT}:role/reader`, RoleSessionName: 'chained' };
    await assumeRole(fake, { ...reader, Tags: [{ Key: 'step', Value: '2' }] }, first);
    expect(fake.sessions()[1]).toMatchObject({
      roleName: 'reader',
      tags: { incident_id: 'INC-7', step: '2' },
      transitiveTagKeys: ['incident_id'],
      sourceIdentity: 'alice',
    });
    const conflict = {
      name: 'InvalidParameterValue',
      status: 400,
      message:
        "One of the specified transitive tag keys can't be set because it conflicts with a transitive tag key from the calling session.",
    };
    await expectRefusal(assume({ ...reader, Tags: [{ Key: 'INCIDENT_ID', Value: 'INC-8' }] }, first), conflict);
  });

  it('limits a session assumed with session credentials to one hour', async () => {
    fake.createRole('agent');
    fake.createRole('reader', { maxSessionDuration: 43200 });
    const first = await session();
    const reader = { RoleArn: `arn:aws:iam::${ACCOUNT}:role/reader`, RoleSessionName: 'chained' };
    await assume({ ...reader, DurationSeconds: 43200 });
    await assume({ ...reader, DurationSeconds: 3600 }, first);
    await expectRefusal(
      assume({ ...reader, DurationSeconds: 3601 }, first),
      validation('The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining.'),
    );
  });

  it('treats every AssumeRole as role chaining when the admin is itself an assumed-role session', async () => {
    const chained = await startAwsFake({ adminIdentity: 'assumed-role' });
    try {
      const role = chained.createRole('agent', { maxSessionDuration: 43200 });
      const me = await stsClient(chained).send(new GetCallerIdentityCommand({}));
      expect(me.Arn).toBe(`arn:aws:sts::${ACCOUNT}:assumed-role/quartermaster-broker/broker`);
      expect(me.UserId).toMatch(/^AROA[A-Z0-9]{17}:broker$/u);
      const send = (seconds: number) =>
        stsClient(chained).send(new AssumeRoleCommand({ RoleArn: role.arn, RoleSessionName: 'task', DurationSeconds: seconds }));
      await send(3600);
      await expectRefusal(
        send(3601),
        validation('The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining.'),
      );
      expect(chained.unexpected).toEqual([]);
    } finally {
      await chained.stop();
    }
  });
});

describe('GetCallerIdentity', () => {
  it('names the admin user and each session', async () => {
    const role = fake.createRole('agent');
    const admin = await stsClient(fake).send(new GetCallerIdentityCommand({}));
    expect(admin).toMatchObject({ Account: ACCOUNT, Arn: `arn:aws:iam::${ACCOUNT}:user/quartermaster` });
    expect(admin.UserId).toMatch(/^AIDA[A-Z0-9]{17}$/u);
    const me = await stsClient(fake, await session({ RoleSessionName: 'inc-9' })).send(new GetCallerIdentityCommand({}));
    expect(me).toMatchObject({ Account: ACCOUNT, Arn: `arn:aws:sts::${ACCOUNT}:assumed-role/agent/inc-9`, UserId: `${role.roleId}:inc-9` });
  });

  it('answers a session even when its role denies everything, as AWS never denies GetCallerIdentity', async () => {
    fake.createRole('agent');
    const creds = await session();
    await putPolicy('agent', 'deny-all', policy({ Effect: 'Deny', Action: '*', Resource: '*' }));
    await expectRefusal(getRole(creds), { name: 'AccessDenied', status: 403 });
    const me = await stsClient(fake, creds).send(new GetCallerIdentityCommand({}));
    expect(me.Arn).toBe(`arn:aws:sts::${ACCOUNT}:assumed-role/agent/agent-1`);
  });
});

describe('policy evaluation on session calls', () => {
  const deniedBy = (sessionName: string, action: string) => ({
    name: 'AccessDenied',
    status: 403,
    message: `User: arn:aws:sts::${ACCOUNT}:assumed-role/agent/${sessionName} is not authorized to perform: ${action} on resource: role agent with an explicit deny in an identity-based policy`,
  });

  it('refuses the sessions whose incident_id tag a Deny lists, while a session with another tag still works', async () => {
    fake.createRole('agent');
    const tagged = (id: string) => session({ RoleSessionName: id, Tags: [{ Key: 'incident_id', Value: id }] });
    const [one, two, three] = [await tagged('INC-1'), await tagged('INC-2'), await tagged('INC-3')];
    await getRole(one);
    await getRole(three);
    await putPolicy(
      'agent',
      'deny-closed',
      denyWhen({ StringEquals: { 'aws:PrincipalTag/incident_id': ['INC-1', 'INC-2'] } }, ['iam:Get*', 'iam:ListRole?olicies']),
    );
    await expectRefusal(getRole(one), deniedBy('INC-1', 'iam:GetRole'));
    await expectRefusal(
      iamClient(fake, one).send(new ListRolePoliciesCommand({ RoleName: 'agent' })),
      deniedBy('INC-1', 'iam:ListRolePolicies'),
    );
    await expectRefusal(getRole(two), deniedBy('INC-2', 'iam:GetRole'));
    expect((await getRole(three)).Role?.RoleName).toBe('agent');
    expect((await getRole(fake.adminCredentials)).Role?.RoleName).toBe('agent');
  });

  it('refuses the session a Deny names by aws:userid', async () => {
    const role = fake.createRole('agent');
    const [seven, eight] = [await session({ RoleSessionName: 'agent-7' }), await session({ RoleSessionName: 'agent-8' })];
    await getRole(seven);
    await putPolicy('agent', 'deny-7', denyWhen({ StringEquals: { 'aws:userid': `${role.roleId}:agent-7` } }));
    await expectRefusal(getRole(seven), deniedBy('agent-7', 'iam:GetRole'));
    await getRole(eight);
  });

  it('refuses sessions issued before a DateLessThan aws:TokenIssueTime cut-off', async () => {
    fake.createRole('agent', { maxSessionDuration: 7200 });
    const old = await session({ RoleSessionName: 'old', DurationSeconds: 7200 });
    clock.now = T0 + 10 * 60_000;
    const fresh = await session({ RoleSessionName: 'fresh' });
    await getRole(old);
    await putPolicy('agent', 'revoke-older', denyWhen({ DateLessThan: { 'aws:TokenIssueTime': new Date(T0 + 5 * 60_000).toISOString() } }));
    await expectRefusal(getRole(old), deniedBy('old', 'iam:GetRole'));
    await getRole(fresh);
  });

  it('requires an Allow in the session policy for every action', async () => {
    fake.createRole('agent');
    const scoped = await session({
      Policy: policy({ Effect: 'Allow', Action: 'iam:ListRolePolicies', Resource: `arn:aws:iam::${ACCOUNT}:role/agent` }),
    });
    await iamClient(fake, scoped).send(new ListRolePoliciesCommand({ RoleName: 'agent' }));
    const message = `User: arn:aws:sts::${ACCOUNT}:assumed-role/agent/agent-1 is not authorized to perform: iam:GetRole on resource: role agent because no session policy allows the iam:GetRole action`;
    await expectRefusal(getRole(scoped), { name: 'AccessDenied', status: 403, message });
  });

  it("applies the caller's Deny to a chained AssumeRole", async () => {
    fake.createRole('agent');
    fake.createRole('reader');
    fake.createRole('writer');
    const creds = await session();
    await putPolicy(
      'agent',
      'no-writer',
      policy({ Effect: 'Deny', Action: 'sts:AssumeRole', Resource: `arn:aws:iam::${ACCOUNT}:role/writer` }),
    );
    await assume({ RoleArn: `arn:aws:iam::${ACCOUNT}:role/reader` }, creds);
    const message = `User: arn:aws:sts::${ACCOUNT}:assumed-role/agent/agent-1 is not authorized to perform: sts:AssumeRole on resource: arn:aws:iam::${ACCOUNT}:role/writer with an explicit deny in an identity-based policy`;
    await expectRefusal(assume({ RoleArn: `arn:aws:iam::${ACCOUNT}:role/writer` }, creds), { name: 'AccessDenied', status: 403, message });
  });
});

describe('condition operators', () => {
  const context = new Map([
    ['aws:principaltag/incident_id', 'INC-1'],
    ['aws:tokenissuetime', '2030-01-15T12:00:00Z'],
  ]);
  const notes: string[] = [];
  const holds = (block: Record<string, Record<string, string[]>>) => conditionsHold(block, context, (n) => notes.push(n));

  it('ORs the values of a key, ANDs keys and operators, and NORs the values of a negated operator', () => {
    expect(holds({ StringEquals: { 'aws:PrincipalTag/incident_id': ['INC-2', 'INC-1'] } })).toBe(true);
    expect(holds({ StringEquals: { 'aws:PrincipalTag/incident_id': ['INC-1'], 'aws:TokenIssueTime': ['2031-01-01T00:00:00Z'] } })).toBe(
      false,
    );
    expect(
      holds({ StringEquals: { 'aws:PrincipalTag/incident_id': ['INC-1'] }, DateLessThan: { 'aws:TokenIssueTime': ['2031-01-01'] } }),
    ).toBe(true);
    expect(holds({ StringNotEquals: { 'aws:PrincipalTag/incident_id': ['INC-2', 'INC-3'] } })).toBe(true);
    expect(holds({ StringNotEquals: { 'aws:PrincipalTag/incident_id': ['INC-2', 'INC-1'] } })).toBe(false);
  });

  it('makes a missing key false for positive operators, true for negated ones and for IfExists', () => {
    expect(holds({ StringEquals: { 'aws:SourceIdentity': ['alice'] } })).toBe(false);
    expect(holds({ StringNotEquals: { 'aws:SourceIdentity': ['alice'] } })).toBe(true);
    expect(holds({ StringEqualsIfExists: { 'aws:SourceIdentity': ['alice'] } })).toBe(true);
    expect(holds({ StringEqualsIfExists: { 'aws:PrincipalTag/incident_id': ['INC-2'] } })).toBe(false);
    expect(holds({ Null: { 'aws:SourceIdentity': ['true'] } })).toBe(true);
  });

  it('matches StringLike wildcards and ignores case where told, and compares ISO 8601 or epoch-second dates', () => {
    expect(holds({ StringLike: { 'aws:principaltag/INCIDENT_ID': ['INC-?'] } })).toBe(true);
    expect(holds({ StringLike: { 'aws:PrincipalTag/incident_id': ['inc-*'] } })).toBe(false);
    expect(holds({ StringEqualsIgnoreCase: { 'aws:PrincipalTag/incident_id': ['inc-1'] } })).toBe(true);
    expect(holds({ StringNotLike: { 'aws:PrincipalTag/incident_id': ['INC-1?'] } })).toBe(true);
    const issued = String(T0 / 1000);
    expect(holds({ DateLessThanEquals: { 'aws:TokenIssueTime': [issued] } })).toBe(true);
    expect(holds({ DateLessThan: { 'aws:TokenIssueTime': [issued] } })).toBe(false);
    expect(holds({ DateGreaterThanEquals: { 'aws:TokenIssueTime': ['2030-01-15T12:00:00+00:00'] } })).toBe(true);
    expect(holds({ DateGreaterThan: { 'aws:TokenIssueTime': ['2030-01-15T11:59:59Z'] } })).toBe(true);
  });

  it('notes an operator it does not model, and never matches it', () => {
    expect(notes).toEqual([]);
    expect(holds({ IpAddress: { 'aws:SourceIp': ['10.0.0.0/8'] } })).toBe(false);
    expect(notes).toEqual(['condition operator IpAddress is not modelled by the fake aws']);
  });
});

describe('IAM', () => {
  it('answers GetRole as IAM describes a role, its trust policy URL-encoded', async () => {
    const role = fake.createRole('agent', { path: '/quartermaster/', maxSessionDuration: 7200, externalId: 'qm-ext-1' });
    expect(role.arn).toBe(`arn:aws:iam::${ACCOUNT}:role/quartermaster/agent`);
    const got = (await getRole(fake.adminCredentials)).Role;
    expect(got).toMatchObject({
      Path: '/quartermaster/',
      RoleName: 'agent',
      RoleId: role.roleId,
      Arn: role.arn,
      MaxSessionDuration: 7200,
      CreateDate: new Date(T0),
    });
    const trust = JSON.parse(decodeURIComponent(got?.AssumeRolePolicyDocument ?? ''));
    expect(trust.Statement[0]).toMatchObject({
      Effect: 'Allow',
      Principal: { AWS: `arn:aws:iam::${ACCOUNT}:root` },
      Condition: { StringEquals: { 'sts:ExternalId': 'qm-ext-1' } },
    });
  });

  it('puts, gets, lists and deletes inline policies, documents URL-encoded as IAM returns them', async () => {
    fake.createRole('agent');
    const iam = iamClient(fake);
    const document = JSON.stringify(JSON.parse(denyWhen({ StringEquals: { 'aws:PrincipalTag/incident_id': 'INC-1' } })), null, 2);
    await putPolicy('agent', 'b-deny', document);
    await putPolicy('agent', 'a-deny', document);
    const got = await iam.send(new GetRolePolicyCommand({ RoleName: 'agent', PolicyName: 'b-deny' }));
    expect(got).toMatchObject({ RoleName: 'agent', PolicyName: 'b-deny', PolicyDocument: encodeURIComponent(document) });
    expect(fake.rolePolicies('agent')).toEqual({ 'b-deny': JSON.parse(document), 'a-deny': JSON.parse(document) });
    expect(await iam.send(new ListRolePoliciesCommand({ RoleName: 'agent' }))).toMatchObject({
      PolicyNames: ['a-deny', 'b-deny'],
      IsTruncated: false,
    });
    await iam.send(new DeleteRolePolicyCommand({ RoleName: 'agent', PolicyName: 'b-deny' }));
    expect(Object.keys(fake.rolePolicies('agent'))).toEqual(['a-deny']);
  });

  it('refuses a policy document that is not JSON, or lacks Version or Statement', async () => {
    fake.createRole('agent');
    const statement = { Effect: 'Deny', Action: 'iam:GetRole', Resource: '*' };
    await putPolicy('agent', 'ok', JSON.stringify({ Version: '2012-10-17', Statement: statement }));
    const malformed = (message: string | RegExp) => ({ name: 'MalformedPolicyDocumentException', status: 400, message });
    await expectRefusal(putPolicy('agent', 'p', '{"Version": "2012-10-17", "Statement": ['), malformed('Syntax errors in policy.'));
    await expectRefusal(putPolicy('agent', 'p', JSON.stringify({ Statement: statement })), malformed(/Version/u));
    await expectRefusal(putPolicy('agent', 'p', JSON.stringify({ Version: '2012-10-17' })), malformed('Syntax errors in policy.'));
    await expectRefusal(
      putPolicy('agent', 'p', JSON.stringify({ Version: '2012-10-17', Statement: { Effect: 'Deny', Resource: '*' } })),
      malformed('Policy statement must contain actions.'),
    );
  });

  it("answers LimitExceeded (409) once a role's inline policies pass 10240 characters, white space not counted", async () => {
    fake.createRole('agent');
    /** A policy of exactly `size` characters once white space is taken out, padded in its Sid. */
    const sized = (size: number, pretty = false) => {
      const base = JSON.stringify({
        Version: '2012-10-17',
        Statement: [{ Sid: '', Effect: 'Deny', Action: 'iam:GetRole', Resource: '*' }],
      });
      const doc = JSON.parse(base.replace('"Sid":""', `"Sid":"${'S'.repeat(size - base.length)}"`));
      return JSON.stringify(doc, null, pretty ? 4 : undefined);
    };
    const first = sized(6000, true);
    expect(first.length).toBeGreaterThan(6000);
    await putPolicy('agent', 'first', first);
    await putPolicy('agent', 'second', sized(4240));
    await putPolicy('agent', 'second', sized(4240));
    const refusal = await expectRefusal(putPolicy('agent', 'third', sized(200)), {
      name: 'LimitExceededException',
      status: 409,
      message: 'Maximum policy size of 10240 bytes exceeded for role agent',
    });
    // The SDK's standard retry counts LimitExceededException among throttling errors and retries it.
    const attempts = fake.calls.filter((c) => c.action === 'PutRolePolicy' && c.outcome === 'LimitExceeded').length;
    expect(refusal.$metadata.attempts).toBe(attempts);
    expect(Object.keys(fake.rolePolicies('agent'))).toEqual(['first', 'second']);
  });

  it('answers NoSuchEntity (404) for a role or inline policy that does not exist', async () => {
    fake.createRole('agent');
    const iam = iamClient(fake);
    await putPolicy('agent', 'p', denyWhen({}));
    await iam.send(new GetRolePolicyCommand({ RoleName: 'agent', PolicyName: 'p' }));
    const missing = (message: string) => ({ name: 'NoSuchEntityException', status: 404, message });
    await expectRefusal(getRole(fake.adminCredentials, 'ghost'), missing('The role with name ghost cannot be found.'));
    await expectRefusal(
      iam.send(new GetRolePolicyCommand({ RoleName: 'agent', PolicyName: 'q' })),
      missing('The role policy with name q cannot be found.'),
    );
    await iam.send(new DeleteRolePolicyCommand({ RoleName: 'agent', PolicyName: 'p' }));
    await expectRefusal(
      iam.send(new DeleteRolePolicyCommand({ RoleName: 'agent', PolicyName: 'p' })),
      missing('The role policy with name p cannot be found.'),
    );
    await expectRefusal(putPolicy('ghost', 'p', denyWhen({})), missing('The role with name ghost cannot be found.'));
  });
});

describe('injected faults', () => {
  it('answers Throttling that the SDK retries until the call succeeds', async () => {
    fake.createRole('agent');
    fake.throttle(2, 'GetRole');
    const out = await getRole(fake.adminCredentials);
    expect(out.$metadata.attempts).toBe(3);
    expect(fake.calls.map((c) => `${c.action} ${c.outcome}`)).toEqual(['GetRole Throttling', 'GetRole Throttling', 'GetRole ok']);
  });

  it('answers 500 ServiceFailure from IAM and InternalFailure from STS, which the SDK retries', async () => {
    fake.createRole('agent');
    fake.fail(1);
    await assume({});
    fake.fail(1, 'ListRolePolicies');
    await iamClient(fake).send(new ListRolePoliciesCommand({ RoleName: 'agent' }));
    expect(fake.calls.map((c) => `${c.action} ${c.outcome}`)).toEqual([
      'AssumeRole InternalFailure',
      'AssumeRole ok',
      'ListRolePolicies ServiceFailure',
      'ListRolePolicies ok',
    ]);
    fake.fail(2, 'GetRole');
    await expectRefusal(iamClient(fake, fake.adminCredentials, 2).send(new GetRoleCommand({ RoleName: 'agent' })), {
      name: 'ServiceFailureException',
      status: 500,
    });
  });
});

describe('authentication', () => {
  it('refuses a session once it has expired', async () => {
    fake.createRole('agent');
    const creds = await session({ DurationSeconds: 900 });
    clock.now = T0 + 899_000;
    await getRole(creds);
    clock.now = T0 + 900_000;
    await expectRefusal(getRole(creds), {
      name: 'ExpiredToken',
      status: 403,
      message: 'The security token included in the request is expired',
    });
    await expectRefusal(stsClient(fake, creds).send(new GetCallerIdentityCommand({})), { name: 'ExpiredToken', status: 403 });
  });

  it('refuses a session key without its session token, a wrong secret and an unknown key', async () => {
    fake.createRole('agent');
    const creds = await session();
    await getRole(creds);
    const invalid = { name: 'InvalidClientTokenId', status: 403, message: 'The security token included in the request is invalid.' };
    await expectRefusal(getRole({ accessKeyId: creds.accessKeyId, secretAccessKey: creds.secretAccessKey }), invalid);
    await expectRefusal(getRole({ ...creds, sessionToken: `${creds.sessionToken}x` }), invalid);
    await expectRefusal(getRole({ ...fake.adminCredentials, accessKeyId: 'AKIAAAAAAAAAAAAAAAAA' }), invalid);
    const badSecret = { ...fake.adminCredentials, secretAccessKey: `${fake.adminCredentials.secretAccessKey.slice(1)}x` };
    await expectRefusal(iamClient(fake, badSecret, 1).send(new GetRoleCommand({ RoleName: 'agent' })), {
      name: 'SignatureDoesNotMatch',
      status: 403,
    });
  });

  it('records what it does not understand, and answers it AWS-shaped', async () => {
    const scratch = await startAwsFake();
    try {
      const post = (body: string, type = 'application/x-www-form-urlencoded') =>
        fetch(scratch.url, { method: 'POST', headers: { 'content-type': type }, body });
      const unsigned = await post('Action=GetCallerIdentity&Version=2011-06-15');
      expect(unsigned.status).toBe(403);
      expect(await unsigned.text()).toMatch(
        /^<\?xml version="1\.0" encoding="UTF-8"\?>\n<ErrorResponse xmlns="https:\/\/sts\.amazonaws\.com\/doc\/2011-06-15\/"><Error><Type>Sender<\/Type><Code>MissingAuthenticationToken<\/Code><Message>Request is missing Authentication Token<\/Message><\/Error><RequestId>[0-9a-f-]{36}<\/RequestId><\/ErrorResponse>$/u,
      );
      expect((await post('Action=CreateUser&Version=2010-05-08')).status).toBe(400);
      expect((await post('{"Action":"GetCallerIdentity"}', 'application/json')).status).toBe(400);
      // An IAM action signed with an STS credential scope.
      const sts = stsClient(scratch, scratch.adminCredentials, 1);
      sts.middlewareStack.add(
        (next) => async (args) => {
          const request = args.request as { body: string; headers: Record<string, string> };
          request.body = 'Action=ListRolePolicies&Version=2010-05-08&RoleName=agent';
          request.headers['content-length'] = String(request.body.length);
          return next(args);
        },
        { step: 'build' },
      );
      await expectRefusal(sts.send(new GetCallerIdentityCommand({})), {
        name: 'SignatureDoesNotMatch',
        status: 403,
        message: "Credential should be scoped to correct service: 'iam'. ",
      });
      expect(scratch.unexpected).toEqual([
        'GetCallerIdentity without an Authorization header',
        'unknown action CreateUser (Version 2010-05-08)',
        'body of type "application/json", not a form',
        'ListRolePolicies signed for service sts',
      ]);
    } finally {
      await scratch.stop();
    }
  });
});
