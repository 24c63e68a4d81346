/**
 * What only the vault provider does: one orphan parent per incident with every grant beneath it,
 * child tokens and leases shaped as configured, closing an incident in one revoke per parent,
 * receipts from lookups, refusals that clean up after themselves, and Vault failures mapped to
 * broker errors without Vault's own words.
 */
import { chmod } from 'node:fs/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { vaultConfigSchema, vaultProfileParamsSchema } from '../../providers/vault/config.js';
import { createBackgroundLanes } from '../../src/background_lanes.js';
import type { BackgroundLanes, GrantRef, IssuedCredential, Provider } from '../../src/sdk.js';
import type { VaultProfileParams } from '../../providers/vault/config.js';
import { vaultApi } from '../fakes/vault/provision.js';
import {
  DB_PARAMS,
  expectNoUnexpectedCalls,
  issueRequest,
  refOf,
  signal,
  startVaultFixture,
  TOKEN_PARAMS,
  type VaultFixture,
} from './vault_fixture.js';

let fixture: VaultFixture | undefined;
expectNoUnexpectedCalls(() => fixture?.fake);
afterEach(async () => {
  await fixture?.stop();
  fixture = undefined;
});

const tokenOf = (fx: VaultFixture, accessor: unknown) => fx.fake.state.tokens.all().find((t) => t.accessor === accessor);

async function setup(
  options: Parameters<typeof startVaultFixture>[0] = {},
  overrides: Record<string, unknown> = {},
): Promise<{ fx: VaultFixture; provider: Provider<VaultProfileParams> }> {
  fixture = await startVaultFixture(options);
  return { fx: fixture, provider: await fixture.provider(overrides) };
}

describe('vault provider: issuing beneath a per-incident parent', () => {
  it('creates one orphan, non-renewable parent per incident through the token role, and every child beneath it', async () => {
    const { fx, provider } = await setup();
    const a = await provider.issue(issueRequest(TOKEN_PARAMS, { incidentId: 'INC-A' }));
    const b = await provider.issue(issueRequest(DB_PARAMS, { incidentId: 'INC-A' }));
    const c = await provider.issue(issueRequest(TOKEN_PARAMS, { incidentId: 'INC-B' }));
    expect(fx.fake.count('auth/token/create/:role')).toBe(2);
    expect(a.handle.parentAccessor).toBe(b.handle.parentAccessor);
    expect(c.handle.parentAccessor).not.toBe(a.handle.parentAccessor);
    const parent = tokenOf(fx, a.handle.parentAccessor)!;
    expect(parent).toMatchObject({
      orphan: true,
      renewable: false,
      path: 'auth/token/create/quartermaster-incident',
      meta: { incident_id: 'INC-A' },
    });
    expect(tokenOf(fx, a.handle.accessor)!.parentId).toBe(parent.id);
    expect(tokenOf(fx, b.handle.accessor)!.parentId).toBe(parent.id);
  });

  it('shares one parent among concurrent first grants of an incident', async () => {
    const { fx, provider } = await setup();
    const issued = await Promise.all(
      Array.from({ length: 8 }, () => provider.issue(issueRequest(TOKEN_PARAMS, { incidentId: 'INC-BURST' }))),
    );
    expect(new Set(issued.map((i) => i.handle.parentAccessor)).size).toBe(1);
    expect(fx.fake.count('auth/token/create/:role')).toBe(1);
  });

  it('gives the child exactly the profile policies (not even default), ttl = explicit max ttl, num_uses, metadata, not renewable', async () => {
    const params = vaultProfileParamsSchema.parse({ kind: 'vault_token', policies: ['qm-agent-read'], numUses: 3, meta: { team: 'sre' } });
    const { fx, provider } = await setup();
    const req = issueRequest(params, { ttlSeconds: 120, incidentId: 'INC-7', grantId: 'grt_meta' });
    const before = Date.now();
    const issued = await provider.issue(req);
    const child = tokenOf(fx, issued.handle.accessor)!;
    expect(child).toMatchObject({
      policies: ['qm-agent-read'],
      numUses: 3,
      renewable: false,
      orphan: false,
      creationTtlSeconds: 120,
      explicitMaxTtlSeconds: 120,
      meta: { team: 'sre', incident_id: 'INC-7', grant_id: 'grt_meta', agent: req.agent.id, profile: req.profile.name },
    });
    expect(issued.credential).toMatchObject({
      vault_token: child.id,
      vault_addr: fx.fake.url,
      policies: 'qm-agent-read',
      num_uses: 3,
      expires_in: 120,
    });
    expect(issued.secretFields).toEqual(['vault_token']);
    expect(issued.handle).toEqual({ kind: 'vault_token', parentAccessor: expect.any(String), accessor: child.accessor });
    expect(issued.expiresAt).toBeGreaterThanOrEqual(before + 120_000);
    expect(issued.expiresAt).toBeLessThanOrEqual(Date.now() + 120_000);
  });

  it('reads a dynamic secret with a broker-held child so the lease belongs to that child', async () => {
    const { fx, provider } = await setup();
    const issued = await provider.issue(issueRequest(DB_PARAMS));
    const leaseId = String(issued.handle.leaseId);
    expect(leaseId).toMatch(/^database\/creds\/readonly\//u);
    const lease = fx.fake.state.leases.lookup(leaseId)!;
    expect(lease.tokenId).toBe(tokenOf(fx, issued.handle.accessor)!.id);
    expect(issued.credential).toMatchObject({ username: expect.any(String), password: expect.any(String), lease_duration: 60 });
    // The agent gets no lease id to ask a renewal with; the broker keeps it in the handle.
    expect(issued.credential).not.toHaveProperty('lease_id');
    expect(issued.credential).not.toHaveProperty('vault_token');
    expect(JSON.stringify(issued.handle)).not.toContain(String(issued.credential.password));
    expect([...issued.secretFields].sort()).toEqual(['password', 'username']);
  });

  it('makes a new parent when the current one cannot outlive the new child', async () => {
    const clock = { now: Date.now() };
    fixture = await startVaultFixture({ now: () => clock.now });
    const provider = await fixture.provider({ parentExplicitMaxTtlSeconds: 7200 }, { now: () => clock.now });
    const first = await provider.issue(issueRequest(TOKEN_PARAMS, { ttlSeconds: 3600 }));
    clock.now += 3580_000; // the parent has 3620 s left: not enough for 3600 s and the 30 s margin
    const second = await provider.issue(issueRequest(TOKEN_PARAMS, { ttlSeconds: 3600 }));
    expect(second.handle.parentAccessor).not.toBe(first.handle.parentAccessor);
  });
});

describe('vault provider: revocation', () => {
  it('confirms an incident close in background lanes: receipts narrow while the broker serves a request, the revoke does not wait', async () => {
    fixture = await startVaultFixture();
    // One lane while serving; no linger; a max wait far beyond this test, so a slow machine cannot
    // let a receipt bypass the narrowed lane and widen what the test measures.
    const lanes = createBackgroundLanes(1, 0, 60_000);
    let active = 0;
    let widest = 0;
    let calls = 0;
    const recorded: BackgroundLanes = {
      run: (work) =>
        lanes.run(async () => {
          calls += 1;
          active += 1;
          widest = Math.max(widest, active);
          try {
            return await work();
          } finally {
            active -= 1;
          }
        }),
    };
    const provider = await fixture.provider({}, { background: recorded });
    const closeOf = async (incidentId: string) => {
      const refs: GrantRef[] = [];
      for (let i = 0; i < 6; i++) {
        const req = issueRequest(i % 2 ? DB_PARAMS : TOKEN_PARAMS, { incidentId });
        refs.push(refOf(req, await provider.issue(req)));
      }
      calls = 0;
      widest = 0;
      return provider.revokeIncident!({ incidentId, grants: refs, signal: signal() });
    };

    // Idle broker: every receipt goes through the lanes, all at once.
    const idle = await closeOf('INC-IDLE');
    expect(idle.every((r) => r.outcome === 'revoked' && r.confirmed)).toBe(true);
    expect([calls, widest]).toEqual([6, 6]);

    // A request in flight: the parent revoke goes out at once, the receipts one at a time.
    const leave = lanes.enterForeground();
    fixture.fake.resetCounts();
    const busy = await closeOf('INC-BUSY');
    leave();
    expect(busy).toHaveLength(6);
    expect(busy.every((r) => r.outcome === 'revoked' && r.confirmed)).toBe(true);
    expect([calls, widest]).toEqual([6, 1]);
    expect(fixture.fake.count('auth/token/revoke-accessor')).toBe(1);
  });

  it('closes an incident with one revoke-accessor per parent and no per-grant revokes; Vault cascades to children and leases', async () => {
    const { fx, provider } = await setup();
    const refs: GrantRef[] = [];
    const issued: IssuedCredential[] = [];
    for (let i = 0; i < 6; i++) {
      const req = issueRequest(i % 2 ? DB_PARAMS : TOKEN_PARAMS, { incidentId: 'INC-CLOSE' });
      const got = await provider.issue(req);
      issued.push(got);
      refs.push(refOf(req, got));
    }
    fx.fake.resetCounts();
    const receipts = await provider.revokeIncident!({ incidentId: 'INC-CLOSE', grants: refs, signal: signal() });
    expect(receipts).toHaveLength(6);
    expect(receipts.every((r) => r.outcome === 'revoked' && r.confirmed)).toBe(true);
    expect(fx.fake.count('auth/token/revoke-accessor')).toBe(1);
    expect(fx.fake.count('sys/leases/revoke')).toBe(0);
    for (const got of issued) {
      expect(fx.fake.tokenAlive(String(got.handle.accessor))).toBe(false);
      if (got.handle.leaseId) expect(fx.fake.leaseAlive(String(got.handle.leaseId))).toBe(false);
    }
    // A later batch of the same close sends no revoke at all; a repeat after a restart finds the parent dead.
    fx.fake.resetCounts();
    await provider.revokeIncident!({ incidentId: 'INC-CLOSE', grants: refs, signal: signal() });
    expect(fx.fake.count('auth/token/revoke-accessor')).toBe(0);
    const restarted = await fx.provider();
    const again = await restarted.revokeIncident!({ incidentId: 'INC-CLOSE', grants: refs, signal: signal() });
    expect(again.every((r) => r.outcome === 'already_dead' && r.confirmed)).toBe(true);
  });

  it('finishes leases Vault still revokes lazily after the parent, confirming each one', async () => {
    const { fx, provider } = await setup();
    fx.fake.state.leases.lazy = true;
    const req = issueRequest(DB_PARAMS, { incidentId: 'INC-LAZY' });
    const got = await provider.issue(req);
    const [receipt] = await provider.revokeIncident!({ incidentId: 'INC-LAZY', grants: [refOf(req, got)], signal: signal() });
    expect(receipt).toEqual({ grantId: req.grantId, outcome: 'revoked', confirmed: true });
    expect(fx.fake.count('sys/leases/revoke')).toBe(1);
    expect(fx.fake.state.leases.liveSecrets.size).toBe(0);
  });

  it('revokes one grant: its lease with sync, then its token; other grants of the incident stay alive', async () => {
    const { fx, provider } = await setup();
    const req = issueRequest(DB_PARAMS, { incidentId: 'INC-ONE' });
    const got = await provider.issue(req);
    const other = await provider.issue(issueRequest(TOKEN_PARAMS, { incidentId: 'INC-ONE' }));
    expect(await provider.revokeGrant({ ...refOf(req, got), signal: signal() })).toEqual({
      grantId: req.grantId,
      outcome: 'revoked',
      confirmed: true,
    });
    expect(fx.fake.leaseAlive(String(got.handle.leaseId))).toBe(false);
    expect(fx.fake.tokenAlive(String(got.handle.accessor))).toBe(false);
    expect(fx.fake.tokenAlive(String(other.handle.accessor))).toBe(true);
    expect(await provider.revokeGrant({ ...refOf(req, got), signal: signal() })).toEqual({
      grantId: req.grantId,
      outcome: 'already_dead',
      confirmed: true,
    });
  });

  it('counts a credential that expired on its own as already dead', async () => {
    const clock = { now: Date.now() };
    fixture = await startVaultFixture({ now: () => clock.now });
    const provider = await fixture.provider({}, { now: () => clock.now });
    const req = issueRequest(TOKEN_PARAMS, { ttlSeconds: 60 });
    const got = await provider.issue(req);
    clock.now += 61_000;
    expect(await provider.revokeGrant({ ...refOf(req, got), signal: signal() })).toMatchObject({
      outcome: 'already_dead',
      confirmed: true,
    });
  });
});

describe('vault provider: refusals clean up what they created', () => {
  it('refuses a lease longer than the grant TTL, and revokes the lease and its token', async () => {
    const { fx, provider } = await setup({ databaseRoles: { readonly: { ttlSeconds: 600 } } });
    await expect(provider.issue(issueRequest(DB_PARAMS, { ttlSeconds: 300 }))).rejects.toMatchObject({
      code: 'ERR_PROVIDER_FAILED',
      detail: expect.stringContaining("lease_duration 600s exceeds the grant's 300s TTL"),
    });
    expect(fx.fake.state.leases.liveSecrets.size).toBe(0);
    expect(fx.fake.state.tokens.all().filter((t) => t.meta.grant_id !== undefined)).toEqual([]);
  });

  it('refuses a write path that answers without a lease (pki without generate_lease)', async () => {
    const { fx, provider } = await setup();
    const params = vaultProfileParamsSchema.parse({
      kind: 'vault_dynamic',
      path: 'pki/issue/nolease',
      childPolicies: ['qm-pki-agent'],
      method: 'write',
      data: { common_name: 'x' },
    });
    await fx.fake.state.acl.put('qm-pki-agent', JSON.stringify({ path: { 'pki/issue/*': { capabilities: ['update'] } } }));
    await expect(provider.issue(issueRequest(params))).rejects.toMatchObject({
      code: 'ERR_PROVIDER_FAILED',
      detail: expect.stringContaining('answered without a lease'),
    });
    expect(fx.fake.state.tokens.all().filter((t) => t.meta.grant_id !== undefined)).toEqual([]);
  });

  it('refuses a parent token role that is not orphan, and revokes the parent it made', async () => {
    const { fx, provider } = await setup();
    await vaultApi(fx.fake.url, fx.fake.rootToken, 'POST', 'auth/token/roles/quartermaster-incident', {
      allowed_policies: fx.fake.state.roles.get('quartermaster-incident')!.allowedPolicies,
      orphan: false,
      renewable: false,
      token_explicit_max_ttl: 86_400,
    });
    await expect(provider.issue(issueRequest(TOKEN_PARAMS))).rejects.toMatchObject({
      code: 'ERR_PROVIDER_FAILED',
      detail: expect.stringContaining('is not an orphan (set orphan=true on the token role)'),
    });
    expect(fx.fake.state.tokens.all().filter((t) => t.path.startsWith('auth/token/create/'))).toEqual([]);
  });

  it("maps a child policy outside the parent to ERR_PROVIDER_FAILED without Vault's words", async () => {
    const { provider } = await setup();
    const params = vaultProfileParamsSchema.parse({ kind: 'vault_token', policies: ['not-a-parent-policy'] });
    const err = await provider.issue(issueRequest(params)).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'ERR_PROVIDER_FAILED', status: 502, detail: 'vault create-child-token: HTTP 400' });
  });

  it('maps a child that may not read the dynamic path to ERR_PROVIDER_FAILED and revokes the child', async () => {
    const { fx, provider } = await setup();
    const params = vaultProfileParamsSchema.parse({
      kind: 'vault_dynamic',
      path: 'database/creds/readonly',
      childPolicies: ['qm-agent-read'],
    });
    await expect(provider.issue(issueRequest(params))).rejects.toMatchObject({
      code: 'ERR_PROVIDER_FAILED',
      detail:
        "vault read database/creds/readonly: HTTP 403 (permission denied even after a fresh login: check the broker's Vault policy and the profile's policies)",
    });
    expect(fx.fake.state.tokens.all().filter((t) => t.meta.grant_id !== undefined)).toEqual([]);
  });
});

describe('vault provider: Vault unavailable', () => {
  it('answers ERR_PROVIDER_UNAVAILABLE when Vault is sealed, down or too slow, for issue and revoke', async () => {
    const { fx, provider } = await setup();
    const req = issueRequest(TOKEN_PARAMS);
    const ref = refOf(req, await provider.issue(req));
    fx.fake.seal();
    await expect(provider.issue(issueRequest(TOKEN_PARAMS))).rejects.toMatchObject({
      code: 'ERR_PROVIDER_UNAVAILABLE',
      status: 503,
      detail: 'vault create-child-token: HTTP 503',
    });
    expect(await provider.health(signal())).toEqual({ ok: false, detail: 'vault is sealed' });
    fx.fake.unseal();
    await fx.fake.goDown();
    await expect(provider.issue(issueRequest(TOKEN_PARAMS))).rejects.toMatchObject({
      code: 'ERR_PROVIDER_UNAVAILABLE',
      detail: expect.stringMatching(/^vault create-child-token: no answer \((ECONNREFUSED|ECONNRESET)\)$/u),
    });
    await expect(provider.revokeGrant({ ...ref, signal: signal() })).rejects.toMatchObject({ code: 'ERR_PROVIDER_UNAVAILABLE' });
    await fx.fake.comeBack();
    await expect(provider.revokeGrant({ ...ref, signal: signal() })).resolves.toMatchObject({ outcome: 'revoked', confirmed: true });
  });

  it('gives up on a slow Vault after requestTimeoutMs', async () => {
    const { provider } = await setup({ latencyMs: 300 }, { requestTimeoutMs: 100 });
    await expect(provider.issue(issueRequest(TOKEN_PARAMS))).rejects.toMatchObject({
      code: 'ERR_PROVIDER_UNAVAILABLE',
      detail: expect.stringMatching(/no answer \(ETIMEDOUT\)$/u),
    });
  }, 10_000);

  it('keeps tokens, accessors and secrets out of its logs and errors', async () => {
    const { fx, provider } = await setup();
    const req = issueRequest(DB_PARAMS, { incidentId: 'INC-LOG' });
    const got = await provider.issue(req);
    const tok = await provider.issue(issueRequest(TOKEN_PARAMS, { incidentId: 'INC-LOG' }));
    await provider.revokeIncident!({ incidentId: 'INC-LOG', grants: [refOf(req, got)], signal: signal() });
    fx.fake.seal();
    const err = await provider.issue(issueRequest(TOKEN_PARAMS)).catch((e: unknown) => e);
    const text = `${fx.log.text()} ${JSON.stringify(err)} ${String((err as Error).stack)}`;
    const secrets = [
      got.credential.password,
      got.credential.username,
      got.handle.accessor,
      got.handle.parentAccessor,
      tok.credential.vault_token,
      tok.handle.accessor,
      fx.provisioned.brokerToken,
    ];
    for (const secret of secrets) expect(text).not.toContain(String(secret));
    expect(fx.log.text()).toContain('incident parent token created');
  });
});

describe('vault provider: failures that must not spread (review findings)', () => {
  it('closes an incident even when one grant has a handle without accessors: the others are revoked, that one gets no receipt', async () => {
    const { fx, provider } = await setup();
    const reqA = issueRequest(TOKEN_PARAMS, { incidentId: 'INC-BAD' });
    const reqB = issueRequest(DB_PARAMS, { incidentId: 'INC-BAD' });
    const a = await provider.issue(reqA);
    const b = await provider.issue(reqB);
    const broken: GrantRef = {
      grantId: 'grt_broken',
      incidentId: 'INC-BAD',
      handle: { kind: 'vault_token', parentAccessor: String(a.handle.parentAccessor), accessor: '' },
      expiresAt: a.expiresAt,
    };
    const receipts = await provider.revokeIncident!({
      incidentId: 'INC-BAD',
      grants: [refOf(reqA, a), broken, refOf(reqB, b)],
      signal: signal(),
    });
    expect(receipts.map((r) => r.grantId).sort()).toEqual([reqA.grantId, reqB.grantId].sort());
    expect(receipts.every((r) => r.confirmed)).toBe(true);
    expect(fx.fake.tokenAlive(String(a.handle.accessor))).toBe(false);
    expect(fx.fake.leaseAlive(String(b.handle.leaseId))).toBe(false);
    expect(fx.log.text()).toContain('grt_broken');
  });

  it('keeps a healthy parent when Vault refuses only the child (a token role the parent may not use)', async () => {
    const { fx, provider } = await setup();
    await provider.issue(issueRequest(TOKEN_PARAMS, { incidentId: 'INC-ROLE' }));
    const withRole = vaultProfileParamsSchema.parse({ kind: 'vault_token', policies: ['qm-agent-read'], role: 'not-for-parents' });
    for (let i = 0; i < 3; i++) {
      await expect(provider.issue(issueRequest(withRole, { incidentId: 'INC-ROLE' }))).rejects.toMatchObject({
        code: 'ERR_PROVIDER_FAILED',
        detail: expect.stringMatching(/may not create this child/u),
      });
    }
    // One parent for the incident, still used: no orphaned parents left behind by the refusals.
    const parents = () =>
      fx.fake.state.tokens.all().filter((t) => t.path === 'auth/token/create/quartermaster-incident' && t.meta.incident_id === 'INC-ROLE');
    expect(parents()).toHaveLength(1);
    const again = await provider.issue(issueRequest(TOKEN_PARAMS, { incidentId: 'INC-ROLE' }));
    expect(parents().map((t) => t.accessor)).toEqual([again.handle.parentAccessor]);
  });

  it('refuses a child that comes back as a batch token (no accessor: it could be neither revoked nor confirmed dead)', async () => {
    const { fx, provider } = await setup();
    const root = fx.fake.rootToken;
    // A token role the parent may use, which makes batch tokens.
    await vaultApi(fx.fake.url, root, 'POST', 'auth/token/roles/agent-batch', {
      allowed_policies: ['qm-agent-read'],
      token_type: 'batch',
      renewable: false,
    });
    await vaultApi(fx.fake.url, root, 'PUT', 'sys/policies/acl/quartermaster-incident-parent', {
      policy: JSON.stringify({
        path: { 'auth/token/create': { capabilities: ['update'] }, 'auth/token/create/agent-batch': { capabilities: ['update'] } },
      }),
    });
    const batch = vaultProfileParamsSchema.parse({ kind: 'vault_token', policies: ['qm-agent-read'], role: 'agent-batch' });
    await expect(provider.issue(issueRequest(TOKEN_PARAMS, { incidentId: 'INC-BATCH' }))).resolves.toBeDefined();
    await expect(provider.issue(issueRequest(batch, { incidentId: 'INC-BATCH' }))).rejects.toMatchObject({
      code: 'ERR_PROVIDER_FAILED',
      detail: expect.stringMatching(/made a batch token; grants need service tokens/u),
    });
    expect(fx.log.text()).toContain('not a service token with an accessor');
  });

  it('does not fail the other first grants of an incident when the caller that started the parent gives up', async () => {
    const { fx, provider } = await setup({ latencyMs: 150 });
    const impatient = new AbortController();
    const first = provider.issue({ ...issueRequest(TOKEN_PARAMS, { incidentId: 'INC-ABORT' }), signal: impatient.signal });
    const second = provider.issue(issueRequest(TOKEN_PARAMS, { incidentId: 'INC-ABORT' }));
    impatient.abort();
    await expect(first).rejects.toMatchObject({ code: 'ERR_PROVIDER_UNAVAILABLE' });
    const issued = await second;
    expect(fx.fake.tokenAlive(String(issued.handle.parentAccessor))).toBe(true);
    expect(fx.fake.count('auth/token/create/:role')).toBe(1);
  });

  it('ignores VAULT_PREFIX from the environment', async () => {
    const saved = process.env.VAULT_PREFIX;
    process.env.VAULT_PREFIX = '/elsewhere';
    try {
      const { provider } = await setup();
      await expect(provider.issue(issueRequest(TOKEN_PARAMS))).resolves.toMatchObject({ secretFields: ['vault_token'] });
    } finally {
      if (saved === undefined) delete process.env.VAULT_PREFIX;
      else process.env.VAULT_PREFIX = saved;
    }
  });
});

describe('vault provider: config refusals', () => {
  const base = {
    address: 'https://vault.example:8200',
    auth: { method: 'token', tokenFile: '/run/secrets/vault-token' },
    parentTokenRole: 'quartermaster-incident',
    parentPolicies: ['quartermaster-incident-parent'],
  };
  const problems = (overrides: Record<string, unknown>): string[] => {
    const result = vaultConfigSchema.safeParse({ ...base, ...overrides });
    return result.success ? [] : result.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
  };

  it('accepts a parent that outlives the longest grant by the margin', () => {
    expect(problems({ maxTtlSeconds: 3600, parentExplicitMaxTtlSeconds: 3630 })).toEqual([]);
  });

  it('refuses a parent cap that leaves a maximum-TTL grant no room', () => {
    expect(problems({ maxTtlSeconds: 3600, parentExplicitMaxTtlSeconds: 3600 })).toEqual([
      'parentExplicitMaxTtlSeconds: must be at least maxTtlSeconds + 30',
    ]);
  });

  it('caps a parent, unless told otherwise, at twice the longest grant (and never below the margin)', () => {
    const parentCap = (overrides: Record<string, unknown>): number =>
      vaultConfigSchema.parse({ ...base, ...overrides }).parentExplicitMaxTtlSeconds;
    expect(parentCap({})).toBe(7200);
    expect(parentCap({ maxTtlSeconds: 900 })).toBe(1800);
    expect(parentCap({ maxTtlSeconds: 10 })).toBe(40);
    expect(parentCap({ maxTtlSeconds: 900, parentExplicitMaxTtlSeconds: 86_400 })).toBe(86_400);
  });

  it('refuses an address with credentials in it (it is logged and handed to agents)', () => {
    expect(problems({ address: 'https://vault.example:8200' })).toEqual([]);
    expect(problems({ address: 'https://ops:hunter2@vault.example:8200' })).toEqual(['address: must not carry a user or password']);
  });
});

describe('vault provider: production refusals', () => {
  it('refuses outside development mode a broker token file that group or others may read', async () => {
    fixture = await startVaultFixture();
    await expect(fixture.provider({}, { devMode: false })).resolves.toMatchObject({ name: 'vault' });
    await chmod(fixture.provisioned.brokerTokenFile, 0o644);
    await expect(fixture.provider({}, { devMode: false })).rejects.toMatchObject({
      code: 'ERR_CONFIG',
      message: expect.stringContaining('providers.vault.auth.tokenFile'),
    });
    await expect(fixture.provider({}, { devMode: true })).resolves.toMatchObject({ name: 'vault' });
  });

  it('refuses outside development mode a plain-http Vault address beyond loopback', async () => {
    fixture = await startVaultFixture();
    // The fake listens on loopback: plain http is fine there (a local Vault agent).
    await expect(fixture.provider({}, { devMode: false })).resolves.toMatchObject({ name: 'vault' });
    await expect(fixture.provider({ address: 'http://vault.example.com:8200' }, { devMode: false })).rejects.toMatchObject({
      code: 'ERR_CONFIG',
      message: expect.stringContaining('providers.vault.address'),
    });
  });
});

describe('vault provider: namespaces in handles', () => {
  it('records the namespace a grant was issued in, and refuses to revoke or confirm it from another', async () => {
    const { fx, provider } = await setup({}, { namespace: 'team-a' });
    const req = issueRequest(TOKEN_PARAMS, { incidentId: 'INC-NS' });
    const issued = await provider.issue(req);
    expect(issued.handle.namespace).toBe('team-a');
    // The same namespace revokes it.
    const same = await provider.revokeGrant({ ...refOf(req, issued), signal: signal() });
    expect(same).toMatchObject({ grantId: req.grantId, confirmed: true });

    const req2 = issueRequest(TOKEN_PARAMS, { incidentId: 'INC-NS' });
    const issued2 = await provider.issue(req2);
    const elsewhere = await fx.provider({});
    await expect(elsewhere.revokeGrant({ ...refOf(req2, issued2), signal: signal() })).rejects.toMatchObject({
      code: 'ERR_PROVIDER_FAILED',
      detail: expect.stringMatching(/namespace "team-a", not the configured ""/u),
    });
    await expect(elsewhere.revokeIncident!({ incidentId: 'INC-NS', grants: [refOf(req2, issued2)], signal: signal() })).resolves.toEqual(
      [],
    );
    expect(fx.fake.tokenAlive(String(issued2.handle.accessor))).toBe(true);
    await elsewhere.close();
  });
});
