/** Broker roles from the operator issuer's roles claim (src/identity/roles.ts). */
import { describe, expect, it } from 'vitest';
import { hasRole, roleGrants } from '../../src/identity/roles.js';

describe('broker roles', () => {
  it('grants operator to the configured IdP role, whatever it is called, and only to it', () => {
    const grants = roleGrants({ operatorRole: 'incident-commanders' });
    expect(hasRole({ roles: ['engineering', 'incident-commanders'] }, 'operator', grants)).toBe(true);
    expect(hasRole({ roles: ['operator'] }, 'operator', grants)).toBe(false);
    expect(hasRole({ roles: ['Incident-Commanders'] }, 'operator', grants)).toBe(false);
    expect(hasRole({ roles: [] }, 'operator', grants)).toBe(false);
  });
});
