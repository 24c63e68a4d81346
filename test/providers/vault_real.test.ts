/**
 * The same provider contract against a real Vault, when VAULT_ADDR and VAULT_TOKEN (a root token,
 * e.g. of `vault server -dev`) are set; skipped otherwise: the one skip in the suite. The test
 * provisions Vault the way providers/vault/README.md says (broker policy, parent policy, orphan
 * token role, a broker token holding only the broker policy) plus a pki mount whose role leases
 * its certificates, then runs the provider as that broker token. See docs/providers/vault.md.
 */
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createVaultProvider } from '../../providers/vault/index.js';
import type { Provider } from '../../src/sdk.js';
import type { VaultProfileParams } from '../../providers/vault/config.js';
import { provisionVault, vaultApi } from '../fakes/vault/provision.js';
import { describeProviderContract } from './contract.js';
import { issueRequest, PKI_PARAMS, recordingLogger, TOKEN_PARAMS, vaultConfig } from './vault_fixture.js';

const ADDR = process.env.VAULT_ADDR;
const ROOT = process.env.VAULT_TOKEN;
const enabled = Boolean(ADDR && ROOT);
if (!enabled)
  process.stderr.write(
    'vault_real: skipped, no real Vault here (set VAULT_ADDR and VAULT_TOKEN to a dev Vault root token to run the provider contract against it; docs/providers/vault.md)\n',
  );

async function realProvider(): Promise<Provider<VaultProfileParams>> {
  const url = String(ADDR).replace(/\/$/u, '');
  const root = String(ROOT);
  const provisioned = await provisionVault(url, root);
  // A pki mount whose role leases certificates: a dynamic secret that needs no external service.
  await vaultApi(url, root, 'POST', 'sys/mounts/pki', { type: 'pki', config: { max_lease_ttl: '87600h' } }).catch((err: Error) => {
    if (!/HTTP 400/u.test(err.message)) throw err; // already mounted by an earlier run
  });
  await vaultApi(url, root, 'POST', 'pki/root/generate/internal', {
    common_name: 'quartermaster-test-root',
    ttl: '87600h',
    key_type: 'ec',
    key_bits: 256,
  });
  await vaultApi(url, root, 'POST', 'pki/roles/agent', {
    allow_any_name: true,
    generate_lease: true,
    ttl: '60s',
    max_ttl: '60s',
    key_type: 'ec',
    key_bits: 256,
  });
  return createVaultProvider(vaultConfig(url, provisioned.brokerTokenFile), {
    logger: recordingLogger().logger,
    now: Date.now,
    devMode: false,
  });
}

describe.skipIf(!enabled)(
  'real Vault at VAULT_ADDR (skipped: set VAULT_ADDR and VAULT_TOKEN to a dev Vault root token to run; docs/providers/vault.md)',
  () => {
    for (const [kind, params] of [
      ['vault_token', TOKEN_PARAMS],
      ['vault_dynamic pki/issue', PKI_PARAMS],
    ] as const) {
      let provider: Provider<VaultProfileParams> | undefined;
      describeProviderContract(`vault (${kind}, real Vault)`, async () => {
        provider = await realProvider();
        return { provider, profile: { name: kind, params }, cleanup: async () => provider?.close() };
      });
    }

    it('closes an incident on real Vault: every child and lease confirmed dead after one parent revoke', async () => {
      const provider = await realProvider();
      try {
        const incidentId = `inc_${randomUUID()}`;
        const refs = [];
        for (const params of [TOKEN_PARAMS, PKI_PARAMS, TOKEN_PARAMS]) {
          const req = issueRequest(params, { incidentId });
          const issued = await provider.issue(req);
          refs.push({ grantId: req.grantId, incidentId, handle: issued.handle, expiresAt: issued.expiresAt });
        }
        expect(new Set(refs.map((r) => r.handle.parentAccessor)).size).toBe(1);
        const receipts = await provider.revokeIncident!({ incidentId, grants: refs, signal: new AbortController().signal });
        expect(receipts.map((r) => [r.outcome, r.confirmed])).toEqual([
          ['revoked', true],
          ['revoked', true],
          ['revoked', true],
        ]);
      } finally {
        await provider.close();
      }
    });
  },
);
