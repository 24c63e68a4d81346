/** The shared provider contract, run by the `vault` provider against the fake Vault, once per profile kind. */
import { createIncidentRecords } from '../../src/incident_records.js';
import { createMemoryStore } from '../../src/store/memory_store.js';
import { describeProviderContract } from './contract.js';
import { DB_PARAMS, expectNoUnexpectedCalls, PKI_PARAMS, startVaultFixture, TOKEN_PARAMS, type VaultFixture } from './vault_fixture.js';

for (const [kind, params] of [
  ['vault_token', TOKEN_PARAMS],
  ['vault_dynamic database/creds', DB_PARAMS],
  ['vault_dynamic pki/issue (write)', PKI_PARAMS],
] as const) {
  let fixture: VaultFixture | undefined;
  expectNoUnexpectedCalls(() => fixture?.fake);
  describeProviderContract(`vault (${kind}, fake Vault)`, async () => {
    fixture = await startVaultFixture();
    // With the broker's records (over a real store), as a broker runs it: killIncident is then offered.
    const provider = await fixture.provider({}, { incidentRecords: createIncidentRecords(createMemoryStore(), 'vault') });
    return { provider, profile: { name: kind, params }, cleanup: () => fixture?.stop() ?? Promise.resolve() };
  });
}
