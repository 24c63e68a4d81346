/**
 * How one grant is revoked, decided by core from what its provider declares it can do
 * (capabilities.grantRevocation, capabilities.incidentRevocation) and why the grant is revoked —
 * never by the provider's name:
 *  - `incident`: the incident closed and the provider ends a whole incident in O(1) calls (Vault:
 *    the incident's parent token); every grant of it in the batch goes in one revokeIncident.
 *  - `grant`: one revokeGrant (upstream, or by the broker's ledger).
 *  - `until_expiry`: the provider cannot end this one credential (grantRevocation `none`), and
 *    ending it with its whole incident would kill its siblings (a release, a deviation). The grant
 *    stays revoking until its provider-enforced expiry, and the report says so; never a "revoked"
 *    that is not true.
 */
import type { RevokeReason } from '../model.js';
import type { Provider } from '../sdk.js';

export type RevocationRoute = 'incident' | 'grant' | 'until_expiry';

export function revocationRoute(
  provider: Pick<Provider, 'capabilities' | 'revokeIncident'>,
  reason: RevokeReason | undefined,
): RevocationRoute {
  if (reason === 'incident_closed' && provider.capabilities.incidentRevocation && provider.revokeIncident) return 'incident';
  if (provider.capabilities.grantRevocation === 'none') return 'until_expiry';
  return 'grant';
}
