/**
 * The real broker (startBroker over HTTP) with the `vault` provider pointed at a fake Vault that
 * is provisioned like production: two Vault profiles, a child token (`vault-read`) and a dynamic
 * database secret (`db-read`).
 */
import { PARENT_POLICIES, PARENT_ROLE, provisionVault, type Provisioned } from '../fakes/vault/provision.js';
import { startFakeVault, type FakeVault, type FakeVaultOptions } from '../fakes/vault/server.js';
import { startTestBroker, type TestBroker } from '../support/broker_harness.js';

export const AGENTS = [
  'spiffe://dev.local/agent/triage',
  'spiffe://dev.local/agent/contain',
  'spiffe://dev.local/agent/forensics',
] as const;

const agents = ['spiffe://dev\\.local/agent/[A-Za-z0-9._-]+'];
export const VAULT_PROFILES = {
  'vault-read': {
    provider: 'vault',
    maxTtl: 900,
    defaultTtl: 300,
    tier: 'read',
    agents,
    params: { kind: 'vault_token', policies: ['qm-agent-read'], numUses: 0 },
  },
  'db-read': {
    provider: 'vault',
    maxTtl: 900,
    defaultTtl: 300,
    tier: 'read',
    agents,
    params: { kind: 'vault_dynamic', path: 'database/creds/readonly', childPolicies: ['qm-db-readonly'] },
  },
};

/** `providers.vault` for a broker on the provisioned fake, plus `extra` keys. */
export function vaultProviderConfig(
  fake: FakeVault,
  provisioned: Provisioned,
  extra: Record<string, unknown> = {},
): Record<string, unknown> {
  return {
    address: fake.url,
    auth: { method: 'token', tokenFile: provisioned.brokerTokenFile },
    parentTokenRole: PARENT_ROLE,
    parentPolicies: PARENT_POLICIES,
    maxTtlSeconds: 900,
    ...extra,
  };
}

export interface VaultWorld {
  readonly qm: TestBroker;
  readonly fake: FakeVault;
  readonly provisioned: Provisioned;
  operator(): Promise<string>;
  openIncident(id: string): Promise<void>;
  stop(): Promise<void>;
}

export async function startVaultWorld(
  options: { revocation?: Record<string, number>; logLevel?: string; runWorker?: boolean; fake?: FakeVaultOptions } = {},
): Promise<VaultWorld> {
  const fake = await startFakeVault({ databaseRoles: { readonly: { ttlSeconds: 120 } }, ...options.fake });
  try {
    const provisioned = await provisionVault(fake.url, fake.rootToken);
    const qm = await startTestBroker({
      profiles: VAULT_PROFILES,
      providers: { vault: vaultProviderConfig(fake, provisioned, { requestTimeoutMs: 2000 }) },
      ...(options.revocation ? { revocation: options.revocation } : {}),
      ...(options.logLevel ? { logLevel: options.logLevel } : {}),
      ...(options.runWorker === undefined ? {} : { runWorker: options.runWorker }),
    });
    const operator = () => qm.operatorToken();
    return {
      qm,
      fake,
      provisioned,
      operator,
      async openIncident(id) {
        const res = await qm.request('POST', '/v1/incidents', {
          token: await operator(),
          body: { id, title: 'vault e2e', severity: 'sev2' },
        });
        if (res.status !== 201) throw new Error(`open incident ${id}: ${res.status} ${res.text}`);
      },
      async stop() {
        await qm.stop();
        await fake.stop();
      },
    };
  } catch (err) {
    await fake.stop();
    throw err;
  }
}
