/**
 * A fake Vault provisioned like production (test/fakes/vault/provision.ts) and a `vault` provider
 * pointed at it, with a recording logger so tests can grep it for secrets.
 */
import { afterEach, expect } from 'vitest';
import { vaultConfigSchema, vaultProfileParamsSchema, type VaultConfig, type VaultProfileParams } from '../../providers/vault/config.js';
import { createVaultProvider, type VaultProviderOptions } from '../../providers/vault/index.js';
import type { GrantRef, IssuedCredential, IssueRequest, Provider, ProviderDeps, ProviderLogger } from '../../src/sdk.js';
import { PARENT_POLICIES, PARENT_ROLE, provisionVault, type Provisioned } from '../fakes/vault/provision.js';
import { startFakeVault, type FakeVault, type FakeVaultOptions } from '../fakes/vault/server.js';

export const AGENT = { id: 'spiffe://dev.local/agent/triage', issuer: 'https://dev.quartermaster.local/agents' } as const;

export const TOKEN_PARAMS = vaultProfileParamsSchema.parse({ kind: 'vault_token', policies: ['qm-agent-read'], numUses: 0 });
export const DB_PARAMS = vaultProfileParamsSchema.parse({
  kind: 'vault_dynamic',
  path: 'database/creds/readonly',
  childPolicies: ['qm-db-readonly'],
});
export const PKI_PARAMS = vaultProfileParamsSchema.parse({
  kind: 'vault_dynamic',
  path: 'pki/issue/agent',
  childPolicies: ['qm-pki-agent'],
  method: 'write',
  data: { common_name: 'agent.incident.example' },
  secretFields: ['private_key'],
});

/** Engines of the fake that the profiles above read. */
export const FAKE_ENGINES: FakeVaultOptions = {
  databaseRoles: { readonly: { ttlSeconds: 60 } },
  pkiRoles: { agent: { ttlSeconds: 60, generateLease: true }, nolease: { ttlSeconds: 60, generateLease: false } },
};

export function recordingLogger(): { logger: ProviderLogger; text: () => string } {
  const lines: string[] = [];
  const log = (level: string) => (obj: object, msg?: string) => {
    lines.push(JSON.stringify({ level, ...obj, msg }));
  };
  return { logger: { debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error') }, text: () => lines.join('\n') };
}

export function vaultConfig(address: string, tokenFile: string, overrides: Record<string, unknown> = {}): VaultConfig {
  return vaultConfigSchema.parse({
    address,
    auth: { method: 'token', tokenFile },
    parentTokenRole: PARENT_ROLE,
    parentPolicies: PARENT_POLICIES,
    ...overrides,
  });
}

export interface VaultFixture {
  readonly fake: FakeVault;
  readonly provisioned: Provisioned;
  readonly log: { logger: ProviderLogger; text: () => string };
  provider(
    overrides?: Record<string, unknown>,
    deps?: Partial<ProviderDeps>,
    options?: VaultProviderOptions,
  ): Promise<Provider<VaultProfileParams>>;
  stop(): Promise<void>;
}

export async function startVaultFixture(options: FakeVaultOptions = {}): Promise<VaultFixture> {
  const fake = await startFakeVault({ ...FAKE_ENGINES, ...options });
  const provisioned = await provisionVault(fake.url, fake.rootToken);
  const log = recordingLogger();
  const providers: Provider<VaultProfileParams>[] = [];
  return {
    fake,
    provisioned,
    log,
    async provider(overrides = {}, deps = {}, providerOptions = {}) {
      const provider = await createVaultProvider(
        vaultConfig(fake.url, provisioned.brokerTokenFile, overrides),
        { logger: log.logger, now: Date.now, devMode: true, ...deps },
        providerOptions,
      );
      providers.push(provider);
      return provider;
    },
    async stop() {
      await Promise.all(providers.map((p) => p.close()));
      await fake.stop();
    },
  };
}

export const signal = (): AbortSignal => new AbortController().signal;

/** The ref core would keep of an issued grant. */
export const refOf = (req: IssueRequest<VaultProfileParams>, issued: IssuedCredential): GrantRef => ({
  grantId: req.grantId,
  incidentId: req.incidentId,
  handle: issued.handle,
  expiresAt: issued.expiresAt,
});

/** Fails the test that made the fake answer 501 (an endpoint the fake does not know). */
export function expectNoUnexpectedCalls(fake: () => FakeVault | undefined): void {
  afterEach(() => {
    expect(fake()?.unexpected ?? []).toEqual([]);
  });
}

let seq = 0;
export function issueRequest<P extends VaultProfileParams>(params: P, overrides: Partial<IssueRequest<P>> = {}): IssueRequest<P> {
  seq += 1;
  return {
    grantId: `grt_${seq}`,
    incidentId: 'inc_42',
    agent: AGENT,
    profile: { name: params.kind === 'vault_token' ? 'vault-read' : 'db-read', params },
    ttlSeconds: 300,
    purpose: 'triage',
    signal: new AbortController().signal,
    ...overrides,
  };
}
