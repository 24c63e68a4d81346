/**
 * How a grant looks to clients and reports (grants/grant_view.ts): an active grant past its
 * expiry is expired whether or not the sweeper marked it yet; any other state is shown as stored;
 * the revocation timestamps and the confirmation appear once the ledger has them; never the handle.
 */
import { describe, expect, it } from 'vitest';
import { toGrantView } from '../../../src/http/views/grant_view.js';
import { effectiveState, type Grant } from '../../../src/model.js';

const T0 = Date.UTC(2030, 0, 1);
const grant = (over: Partial<Grant> = {}): Grant => ({
  id: 'grt_view',
  incidentId: 'INC-V',
  profile: 'p',
  provider: 'held',
  agent: 'spiffe://dev.local/agent/triage',
  purpose: 'read',
  state: 'active',
  createdAt: T0,
  ttlSeconds: 300,
  expiresAt: T0 + 300_000,
  handle: { ref: 'grt_view' },
  ...over,
});

describe('grant view', () => {
  it('shows an active grant as active until its expiry, and expired from that instant on', () => {
    expect(effectiveState(grant(), T0 + 299_999)).toBe('active');
    expect(effectiveState(grant(), T0 + 300_000)).toBe('expired');
    expect(toGrantView(grant(), T0 + 300_000).state).toBe('expired');
  });

  it('keeps the stored state of a grant that is not active, past its expiry too', () => {
    for (const state of ['issuing', 'revoking', 'revoked', 'failed'] as const) {
      expect(effectiveState(grant({ state }), T0 + 400_000)).toBe(state);
    }
  });

  it('shows a live grant without revocation fields, and never its handle', () => {
    expect(toGrantView(grant(), T0)).toEqual({
      id: 'grt_view',
      incident_id: 'INC-V',
      profile: 'p',
      provider: 'held',
      agent: 'spiffe://dev.local/agent/triage',
      purpose: 'read',
      state: 'active',
      ttl_seconds: 300,
      created_at: '2030-01-01T00:00:00.000Z',
      expires_at: '2030-01-01T00:05:00.000Z',
    });
  });

  it('shows when revocation was requested, when the grant ended and whether the provider confirmed it', () => {
    const revoked = grant({
      state: 'revoked',
      revokeReason: 'released',
      revokeRequestedAt: T0 + 1000,
      endedAt: T0 + 2000,
      revocationConfirmed: false,
    });
    expect(toGrantView(revoked, T0 + 3000)).toMatchObject({
      state: 'revoked',
      revoke_reason: 'released',
      revoke_requested_at: '2030-01-01T00:00:01.000Z',
      ended_at: '2030-01-01T00:00:02.000Z',
      revocation_confirmed: false,
    });
  });
});
