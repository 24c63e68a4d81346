/**
 * What every area of the store contract shares: fixtures, fixed times (nothing here sleeps or
 * reads a clock, except where a lease must really run out), and the helpers that open an
 * incident and write grants through the store under test.
 */
import { expect } from 'vitest';
import type { Grant, Incident, RevocationHandle } from '../../../src/model.js';
import type { Store } from '../../../src/store/store.js';

/** A realistic 13-digit millisecond timestamp (2026-01-01), so encodings see real magnitudes. */
export const T0 = Date.UTC(2026, 0, 1);
export const MIN = 60_000;
export const LEASE = 30_000;
/** Numbers beyond 14 significant digits must come back exactly. */
export const HANDLE: RevocationHandle = { accessor: 'hmac-sha256:3f2a', ttl: 900, renewable: true, big: 9_007_199_254_740_991 };

export const incidentFixture = (id: string, overrides: Partial<Incident> = {}): Incident => ({
  id,
  source: 'api',
  title: 'Credential stuffing on login',
  severity: 'sev2',
  status: 'open',
  openedAt: T0,
  openedBy: 'alice@example.com',
  ...overrides,
});

export const grantFixture = (id: string, incidentId: string, overrides: Partial<Grant> = {}): Grant => ({
  id,
  incidentId,
  profile: 'vault-read',
  provider: 'vault',
  agent: 'spiffe://prod.example/ns/ir/sa/triage',
  purpose: 'collect evidence',
  state: 'issuing',
  createdAt: T0,
  ttlSeconds: 900,
  expiresAt: T0 + 15 * MIN,
  ...overrides,
});

export const sorted = (ids: readonly string[]): string[] => [...ids].sort();

/** The store under test (a fresh one per test) and helpers that write through it. */
export interface ContractWorld {
  store(): Store;
  openIncident(id?: string): Promise<Incident>;
  intent(id: string, incidentId?: string, overrides?: Partial<Grant>): Promise<void>;
  active(id: string, incidentId?: string, overrides?: Partial<Grant>): Promise<Grant>;
}

export function contractWorld(current: () => Store): ContractWorld {
  const intent = async (id: string, incidentId = 'inc-1', overrides: Partial<Grant> = {}): Promise<void> => {
    expect(await current().createGrantIntent(grantFixture(id, incidentId, overrides))).toBe('ok');
  };
  return {
    store: current,
    openIncident: async (id = 'inc-1') => (await current().createIncident(incidentFixture(id))).incident,
    intent,
    async active(id, incidentId = 'inc-1', overrides = {}) {
      await intent(id, incidentId, overrides);
      const grant = await current().commitGrant(id, { handle: HANDLE, expiresAt: overrides.expiresAt ?? T0 + 15 * MIN });
      expect(grant?.state).toBe('active');
      return grant as Grant;
    },
  };
}
