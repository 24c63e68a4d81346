/**
 * The aws_sts provider against the STS + IAM fake, through the real SDK clients: what AssumeRole
 * is asked (duration clamp, session name, source identity, tags, session policy), the credential's
 * shape, revocation by Deny (an incident, one grant; siblings and other incidents unharmed),
 * garbage collection, concurrent writers without a lost statement, the size quota and the
 * emergency deny, throttling and error mapping.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { builtInProviders } from '../../providers/index.js';
import { createCatalog } from '../../src/catalog/catalog.js';
import { ConfigError } from '../../src/config/load.js';
import { createLocks } from '../../src/locks.js';
import { createLogger } from '../../src/logging.js';
import { createLogCapture } from '../support/log_capture.js';
import { testConfig } from '../support/test_config.js';
import type { GrantRef, IssuedCredential, IssueRequest, Provider } from '../../src/sdk.js';
import { createMemoryStore } from '../../src/store/memory_store.js';
import type { AwsStsProfileParams } from '../../providers/aws_sts/config.js';
import { credentialWorks, memoryRecords, silentLogger, startAwsFixture, type AwsFixture } from './aws_sts_fixture.js';

const AGENT = { id: 'spiffe://prod.example/ns/ir/sa/triage', issuer: 'https://spire.prod.example' };
let fixture: AwsFixture;
let provider: Provider<AwsStsProfileParams> & { collectGarbage(): Promise<void> };
let grants = 0;

beforeAll(async () => {
  fixture = await startAwsFixture();
  fixture.fake.createRole('ir-long', { maxSessionDuration: 43_200 });
  fixture.fake.createRole('ir-external', { externalId: 'qm-external-7' });
  provider = await fixture.provider();
});
afterAll(async () => {
  expect(fixture?.fake.unexpected ?? []).toEqual([]);
  await fixture?.stop();
});

const request = (incidentId: string, overrides: Partial<IssueRequest<AwsStsProfileParams>> = {}): IssueRequest<AwsStsProfileParams> => ({
  grantId: `grt_test${String(++grants).padStart(4, '0')}`,
  incidentId,
  agent: AGENT,
  profile: { name: 'aws-read', params: fixture.params() },
  ttlSeconds: 900,
  purpose: 'triage',
  signal: new AbortController().signal,
  ...overrides,
});
const refOf = (req: IssueRequest<AwsStsProfileParams>, issued: IssuedCredential): GrantRef => ({
  grantId: req.grantId,
  incidentId: req.incidentId,
  handle: issued.handle,
  expiresAt: issued.expiresAt,
});
const sessionOf = (issued: IssuedCredential) => {
  const session = fixture.fake.sessions().find((s) => s.accessKeyId === issued.credential.AccessKeyId);
  if (!session) throw new Error('no such session in the fake');
  return session;
};
const signal = () => new AbortController().signal;

describe('issue', () => {
  it('assumes the role with the grant as session name, the agent as source identity and incident, grant and agent tags', async () => {
    const req = request('INC-7');
    const issued = await provider.issue(req);
    const session = sessionOf(issued);
    expect(session).toMatchObject({
      roleName: 'ir-readonly',
      sessionName: `qm-${req.grantId}`,
      sourceIdentity: 'prod.example.ns.ir.sa.triage',
      tags: { incident_id: 'INC-7', grant_id: req.grantId, agent: AGENT.id },
      transitiveTagKeys: [],
    });
    expect(session.expiresAt - session.issuedAt).toBe(900_000);
    expect(await credentialWorks(fixture.fake, issued)).toBe(true);
  });

  it('answers the credential as the AWS CLI and SDKs read it, and keeps the secrets out of the handle', async () => {
    const issued = await provider.issue(request('INC-7'));
    const c = issued.credential;
    expect(Object.keys(c).sort()).toEqual([
      'AccessKeyId',
      'Expiration',
      'SecretAccessKey',
      'SessionToken',
      'Version',
      'credential_process',
    ]);
    expect(c.Version).toBe(1);
    expect(c.Expiration).toBe(new Date(issued.expiresAt).toISOString().replace(/\.\d{3}Z$/u, 'Z'));
    expect(JSON.parse(String(c.credential_process))).toEqual({
      Version: 1,
      AccessKeyId: c.AccessKeyId,
      SecretAccessKey: c.SecretAccessKey,
      SessionToken: c.SessionToken,
      Expiration: c.Expiration,
    });
    expect(issued.secretFields).toEqual(['SecretAccessKey', 'SessionToken', 'credential_process']);
    expect(issued.handle).toEqual({
      accessKeyId: c.AccessKeyId,
      sessionName: sessionOf(issued).sessionName,
      roleArn: fixture.params().roleArn,
      roleId: sessionOf(issued).assumedRoleId.split(':')[0],
      incidentTag: 'INC-7',
      expiresAt: issued.expiresAt,
    });
    const handle = JSON.stringify(issued.handle);
    expect(handle).not.toContain(String(c.SecretAccessKey));
    expect(handle).not.toContain(String(c.SessionToken));
  });

  it("cuts the session to the role's maximum, and never asks for more than the grant's TTL", async () => {
    const shortRole = await provider.issue(request('INC-7', { ttlSeconds: 7200 }));
    expect(sessionOf(shortRole).expiresAt - sessionOf(shortRole).issuedAt).toBe(3_600_000);
    const longRole = await provider.issue(
      request('INC-7', { ttlSeconds: 7200, profile: { name: 'long', params: fixture.params('ir-long') } }),
    );
    expect(sessionOf(longRole).expiresAt - sessionOf(longRole).issuedAt).toBe(7_200_000);
  });

  it('passes the profile session policy, policy ARNs, external id and transitive tags', async () => {
    const sessionPolicy = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'iam:GetRole', Resource: '*' }] };
    const params = fixture.params('ir-external', {
      sessionPolicy,
      policyArns: ['arn:aws:iam::aws:policy/ReadOnlyAccess'],
      externalId: 'qm-external-7',
      transitiveTags: true,
    });
    const issued = await provider.issue(request('INC-7', { profile: { name: 'narrow', params } }));
    expect(sessionOf(issued)).toMatchObject({
      policy: JSON.stringify(sessionPolicy),
      policyArns: ['arn:aws:iam::aws:policy/ReadOnlyAccess'],
      externalId: 'qm-external-7',
      transitiveTagKeys: ['incident_id', 'grant_id', 'agent'],
    });
    expect(await credentialWorks(fixture.fake, issued, 'ir-external')).toBe(true);
    // The valid case passed; without the external id the role refuses: a provider rejection, 502.
    const { externalId: _drop, ...withoutExternalId } = params;
    void _drop;
    await expect(provider.issue(request('INC-7', { profile: { name: 'narrow', params: withoutExternalId } }))).rejects.toMatchObject({
      code: 'ERR_PROVIDER_FAILED',
      status: 502,
    });
  });

  it('keeps under role chaining to one hour, as AWS requires', async () => {
    const chained = await startAwsFixture({ adminIdentity: 'assumed-role' });
    try {
      chained.fake.createRole('ir-long', { maxSessionDuration: 43_200 });
      const p = await chained.provider();
      const issued = await p.issue({
        ...request('INC-7', { ttlSeconds: 7200 }),
        profile: { name: 'long', params: chained.params('ir-long') },
      });
      const session = chained.fake.sessions().find((s) => s.accessKeyId === issued.credential.AccessKeyId);
      expect(session && session.expiresAt - session.issuedAt).toBe(3_600_000);
      expect((await p.health(signal())).detail).toMatch(/role chaining/u);
    } finally {
      await chained.stop();
    }
  });
});

describe('revocation by Deny', () => {
  it("denies a closed incident's sessions, and only them, in one statement listing the incidents", async () => {
    const closing = [await provider.issue(request('INC-20')), await provider.issue(request('INC-20'))];
    const other = await provider.issue(request('INC-21'));
    for (const issued of [...closing, other]) expect(await credentialWorks(fixture.fake, issued)).toBe(true);
    const reqs = closing.map((issued, i) => ({
      grantId: `g${i}`,
      incidentId: 'INC-20',
      handle: issued.handle,
      expiresAt: issued.expiresAt,
    }));
    const receipts = await provider.revokeIncident?.({ incidentId: 'INC-20', grants: reqs, signal: signal() });
    expect(receipts).toEqual([
      { grantId: 'g0', outcome: 'denied', confirmed: false },
      { grantId: 'g1', outcome: 'denied', confirmed: false },
    ]);
    for (const issued of closing) expect(await credentialWorks(fixture.fake, issued)).toBe(false);
    expect(await credentialWorks(fixture.fake, other)).toBe(true);
    // The worker revokes a large close in batches: a later batch of the same incident needs no IAM call.
    const iamCalls = () => fixture.fake.calls.filter((c) => c.action.endsWith('RolePolicy')).length;
    const before = iamCalls();
    const later = await provider.issue(request('INC-20'));
    const laterRef = { grantId: 'g2', incidentId: 'INC-20', handle: later.handle, expiresAt: later.expiresAt };
    expect(await provider.revokeIncident?.({ incidentId: 'INC-20', grants: [laterRef], signal: signal() })).toEqual([
      { grantId: 'g2', outcome: 'denied', confirmed: false },
    ]);
    expect(iamCalls()).toBe(before);
    expect(await credentialWorks(fixture.fake, later)).toBe(false);
    await provider.revokeIncident?.({
      incidentId: 'INC-22',
      grants: [{ ...refOf(request('INC-22'), other), incidentId: 'INC-22', handle: { ...other.handle, incidentTag: 'INC-22' } }],
      signal: signal(),
    });
    const policy = fixture.fake.rolePolicies('ir-readonly')['quartermaster-revocations'] as {
      Statement: Array<{ Sid: string; Condition: unknown }>;
    };
    const incidentStatements = policy.Statement.filter((s) => s.Sid.startsWith('QmIncidents'));
    expect(incidentStatements).toHaveLength(1);
    expect(incidentStatements[0]?.Condition).toEqual({ StringEquals: { 'aws:PrincipalTag/incident_id': ['INC-20', 'INC-22'] } });
  });

  it("denies one released grant by its aws:userid while its incident's other sessions work", async () => {
    const released = request('INC-30');
    const issuedReleased = await provider.issue(released);
    const sibling = await provider.issue(request('INC-30'));
    const receipt = await provider.revokeGrant({ ...refOf(released, issuedReleased), signal: signal() });
    expect(receipt).toEqual({ grantId: released.grantId, outcome: 'denied', confirmed: false });
    expect(await credentialWorks(fixture.fake, issuedReleased)).toBe(false);
    expect(await credentialWorks(fixture.fake, sibling)).toBe(true);
  });

  it('drops Deny entries once no credential they cover can be valid, and forgets the ended incident', async () => {
    let now = Date.now();
    const closed = new Set<string>();
    const records = memoryRecords(closed);
    fixture.fake.createRole('ir-gc');
    const p = await fixture.provider({ now: () => now, incidentRecords: records });
    const params = fixture.params('ir-gc');
    const req = { ...request('INC-GC'), profile: { name: 'gc', params } };
    const issued = await p.issue(req);
    await p.revokeIncident?.({ incidentId: 'INC-GC', grants: [refOf(req, issued)], signal: signal() });
    closed.add('INC-GC');
    expect(await records.of('INC-GC')).toEqual([params.roleArn]);
    const listed = () => JSON.stringify(fixture.fake.rolePolicies('ir-gc')).includes('INC-GC');
    // The valid case: within the role's session limit plus margin the entry stays.
    now += 3600_000;
    await p.collectGarbage();
    expect(listed()).toBe(true);
    expect(await records.of('INC-GC')).toEqual([params.roleArn]);
    now += 2 * 3600_000;
    await p.collectGarbage();
    expect(listed()).toBe(false);
    // Nothing else was in it: the policy itself is gone.
    expect(fixture.fake.rolePolicies('ir-gc')).toEqual({});
    expect(await records.of('INC-GC')).toEqual([]);
  });

  it('records each role at issue once per incident, and an incident that ended without a Deny is forgotten by the sweep', async () => {
    const closed = new Set<string>();
    const inner = memoryRecords(closed);
    let adds = 0;
    const records = { ...inner, add: async (incidentId: string, value: string) => (adds++, inner.add(incidentId, value)) };
    fixture.fake.createRole('ir-rec');
    const p = await fixture.provider({ incidentRecords: records });
    const params = fixture.params('ir-rec');
    for (let i = 0; i < 3; i++) await p.issue({ ...request('INC-REC'), profile: { name: 'rec', params } });
    expect(await records.of('INC-REC')).toEqual([params.roleArn]);
    expect(adds).toBe(1);
    // No grant of it was ever denied: once it ends, the sweep finds no entry and drops the record.
    await p.collectGarbage();
    expect(await records.of('INC-REC')).toEqual([params.roleArn]);
    closed.add('INC-REC');
    await p.collectGarbage();
    expect(await records.of('INC-REC')).toEqual([]);
  });

  it('issues even when the record cannot be written; the kill then knows no role and the handles still deny it', async () => {
    const logs = createLogCapture();
    const closed = new Set<string>();
    const inner = memoryRecords(closed);
    let refuse = true;
    const records = {
      ...inner,
      add: async (incidentId: string, value: string) => {
        if (refuse) throw new Error('store down');
        await inner.add(incidentId, value);
      },
    };
    const p = await fixture.provider({ incidentRecords: records, logger: createLogger({ level: 'warn', destination: logs }) });
    const req = request('INC-NOREC');
    const issued = await p.issue(req);
    expect(await credentialWorks(fixture.fake, issued)).toBe(true);
    expect(logs.text()).toContain('aws_sts: role not recorded for the incident');
    expect(await p.killIncident?.({ incidentId: 'INC-NOREC', signal: signal() })).toBe(false);
    expect(await credentialWorks(fixture.fake, issued)).toBe(true);
    refuse = false;
    const receipts = await p.revokeIncident?.({ incidentId: 'INC-NOREC', grants: [refOf(req, issued)], signal: signal() });
    expect(receipts).toEqual([{ grantId: req.grantId, outcome: 'denied', confirmed: false }]);
    expect(await credentialWorks(fixture.fake, issued)).toBe(false);
  });

  it('kills an incident from its recorded roles alone, once; without the broker it has no kill', async () => {
    const records = memoryRecords(new Set());
    const p = await fixture.provider({ incidentRecords: records });
    const req = request('INC-KILLED');
    const issued = await p.issue(req);
    const other = await p.issue(request('INC-KILL-OTHER'));
    expect(await p.killIncident?.({ incidentId: 'INC-KILLED', signal: signal() })).toBe(true);
    expect(await credentialWorks(fixture.fake, issued)).toBe(false);
    expect(await credentialWorks(fixture.fake, other)).toBe(true);
    // Written and read back already: a second kill and the queue's revokeIncident write nothing.
    const puts = () => fixture.fake.calls.filter((c) => c.action === 'PutRolePolicy').length;
    const before = puts();
    expect(await p.killIncident?.({ incidentId: 'INC-KILLED', signal: signal() })).toBe(false);
    const receipts = await p.revokeIncident?.({ incidentId: 'INC-KILLED', grants: [refOf(req, issued)], signal: signal() });
    expect(receipts).toEqual([{ grantId: req.grantId, outcome: 'denied', confirmed: false }]);
    expect(puts()).toBe(before);
    expect(provider.killIncident).toBeUndefined();
  });

  it('loses no statement when two brokers close incidents on one role at once, shared lock or not', async () => {
    fixture.fake.createRole('ir-busy');
    const params = fixture.params('ir-busy');
    const store = createMemoryStore();
    const shared = createLocks({ store, now: Date.now, logger: silentLogger });
    // Two with the store's lock, as replicas have; two with none shared, where only verify-after-write saves the statement.
    const replicas = [
      await fixture.provider({ locks: shared.within('aws_sts') }),
      await fixture.provider({ locks: shared.within('aws_sts') }),
      await fixture.provider(),
      await fixture.provider(),
    ];
    const closes = Array.from({ length: 12 }, (_, i) => `INC-BUSY-${i}`);
    const issued = await Promise.all(
      closes.map((incidentId) => provider.issue({ ...request(incidentId), profile: { name: 'busy', params } })),
    );
    await Promise.all(
      closes.map((incidentId, i) =>
        replicas[i % replicas.length]?.revokeIncident?.({
          incidentId,
          grants: [{ grantId: `g${i}`, incidentId, handle: issued[i]?.handle ?? {}, expiresAt: issued[i]?.expiresAt ?? 0 }],
          signal: signal(),
        }),
      ),
    );
    const policy = JSON.stringify(fixture.fake.rolePolicies('ir-busy'));
    for (const incidentId of closes) expect(policy).toContain(`"${incidentId}"`);
    for (const creds of issued) expect(await credentialWorks(fixture.fake, creds, 'ir-busy')).toBe(false);
  });
});

describe('quota and emergency', () => {
  it('refuses to grow the policy past its size limit with a clear error; the emergency deny fits and stops every older session', async () => {
    // One clock for the fake and the provider: the emergency cutoff has whole seconds.
    let now = Date.UTC(2026, 11, 1, 15, 0, 0, 250);
    const clocked = await startAwsFixture({ now: () => now });
    try {
      clocked.fake.createRole('ir-full');
      const params = clocked.params('ir-full');
      const p = await clocked.provider({ now: () => now }, { policySizeLimit: 1024 });
      const issue = (incidentId: string) => p.issue({ ...request(incidentId), profile: { name: 'full', params } });
      const before = await issue('INC-F-0');
      let error: unknown;
      for (let i = 0; i < 100 && error === undefined; i++) {
        const incidentId = `INC-F-${String(i).padStart(3, '0')}-${'x'.repeat(20)}`;
        const ref = { grantId: `g${i}`, incidentId, handle: { ...before.handle, incidentTag: incidentId }, expiresAt: before.expiresAt };
        await p.revokeIncident?.({ incidentId, grants: [ref], signal: signal() }).catch((err: unknown) => (error = err));
      }
      expect(error).toMatchObject({ code: 'ERR_PROVIDER_QUOTA', status: 502 });
      expect((error as { detail: string }).detail).toMatch(/past policySizeLimit 1024.*emergency deny/u);
      expect(await credentialWorks(clocked.fake, before, 'ir-full')).toBe(true);
      now += 1000;
      const denied = await p.emergencyDeny?.({ target: params.roleArn, signal: signal() });
      // The cutoff as written: IAM dates have whole seconds, so it is rounded up.
      expect(denied).toMatchObject({ target: params.roleArn, deniedBefore: Math.ceil(now / 1000) * 1000 });
      expect(await credentialWorks(clocked.fake, before, 'ir-full')).toBe(false);
      // Issued after the cutoff (rounded up to its second): works; the entries the emergency covers are gone.
      now += 2000;
      expect(await credentialWorks(clocked.fake, await issue('INC-F-new'), 'ir-full')).toBe(true);
      const doc = JSON.stringify(clocked.fake.rolePolicies('ir-full'));
      expect(doc).toContain('aws:TokenIssueTime');
      expect(doc).not.toContain('INC-F-');
    } finally {
      await clocked.stop();
    }
  });

  it('refuses an emergency target that is not a role ARN', async () => {
    await expect(provider.emergencyDeny?.({ target: 'not-an-arn', signal: signal() })).rejects.toMatchObject({
      code: 'ERR_VALIDATION',
      status: 400,
    });
  });
});

describe('config at boot', () => {
  it("refuses a profile whose maxTtl is below STS's 900 s minimum session", async () => {
    const withMaxTtl = (maxTtl: number) =>
      testConfig({
        profiles: {
          'aws-read': { provider: 'aws_sts', maxTtl, tier: 'read', agents: ['spiffe://dev\\.local/agent/x'], params: fixture.params() },
        },
        providers: { aws_sts: { region: 'eu-west-1', stsEndpoint: fixture.fake.url, iamEndpoint: fixture.fake.url } },
      }).config;
    const deps = { logger: createLogger({ level: 'silent' }), now: Date.now, devMode: true, callTimeoutMs: 10_000 };
    // The valid case: 900 s is accepted.
    await (await createCatalog(withMaxTtl(900), builtInProviders, deps)).close();
    const refused = await createCatalog(withMaxTtl(600), builtInProviders, deps).catch((err: unknown) => err);
    expect(refused).toBeInstanceOf(ConfigError);
    expect((refused as ConfigError).problems).toContain("profiles.aws-read.maxTtl: below provider aws_sts's minimum of 900s");
  });
});

describe('production', () => {
  it('refuses a plain-http AWS endpoint beyond loopback outside development mode', async () => {
    // The valid case: the fake's loopback http endpoint is accepted in production mode.
    await expect(fixture.provider({ devMode: false })).resolves.toMatchObject({ name: 'aws_sts' });
    await expect(fixture.provider({ devMode: false }, { stsEndpoint: 'http://sts.internal.example:8080' })).rejects.toMatchObject({
      code: 'ERR_CONFIG',
      message: expect.stringMatching(/providers\.aws_sts\.stsEndpoint: http:\/\/sts\.internal\.example:8080 is plain http/u),
    });
    await expect(fixture.provider({ devMode: false }, { iamEndpoint: 'http://iam.internal.example' })).rejects.toMatchObject({
      code: 'ERR_CONFIG',
    });
  });
});

describe('throttling and failures', () => {
  it('retries throttled calls, then answers 503 when AWS keeps throttling', async () => {
    const calls = () => fixture.fake.calls.filter((c) => c.action === 'AssumeRole').length;
    const start = calls();
    fixture.fake.throttle(2, 'AssumeRole');
    await provider.issue(request('INC-T'));
    expect(calls() - start).toBe(3);
    fixture.fake.throttle(3, 'AssumeRole');
    await expect(provider.issue(request('INC-T'))).rejects.toMatchObject({ code: 'ERR_PROVIDER_UNAVAILABLE', status: 503 });
  });

  it('maps a refusal to 502 and a server failure to 503, never quoting AWS', async () => {
    const unknownRole = { name: 'nope', params: fixture.params('no-such-role') };
    const refused = await provider.issue(request('INC-E', { profile: unknownRole })).catch((err: unknown) => err);
    expect(refused).toMatchObject({ code: 'ERR_PROVIDER_FAILED', status: 502 });
    expect(JSON.stringify(refused)).not.toMatch(/not authorized|cannot be found/u);
    fixture.fake.fail(3, 'GetRolePolicy');
    const ref = refOf(request('INC-E'), await provider.issue(request('INC-E')));
    await expect(provider.revokeGrant({ ...ref, signal: signal() })).rejects.toMatchObject({
      code: 'ERR_PROVIDER_UNAVAILABLE',
      status: 503,
    });
  });
});
