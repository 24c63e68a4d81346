/** Permissions from the operator issuer's roles claim (src/identity/roles.ts, permissions.ts). */
import { describe, expect, it } from 'vitest';
import { PERMISSIONS } from '../../src/identity/permissions.js';
import { hasPermission, permissionGrants, permissionsOf } from '../../src/identity/roles.js';

describe('operator permissions', () => {
  it('grants every permission to the configured operator role, whatever it is called, and only to it', () => {
    const grants = permissionGrants({ operatorRole: 'incident-commanders', permissions: {} });
    expect(permissionsOf({ roles: ['engineering', 'incident-commanders'] }, grants)).toEqual([...PERMISSIONS]);
    expect(permissionsOf({ roles: ['operator'] }, grants)).toEqual([]);
    expect(permissionsOf({ roles: ['Incident-Commanders'] }, grants)).toEqual([]);
    expect(permissionsOf({ roles: [] }, grants)).toEqual([]);
  });

  it('grants a mapped role exactly the permissions it lists, and * all of them', () => {
    const grants = permissionGrants({
      operatorRole: 'operator',
      permissions: { auditor: ['audit.read', 'incidents.read'], closer: ['incidents.close'], admins: ['*'] },
    });
    expect(permissionsOf({ roles: ['auditor'] }, grants)).toEqual(['incidents.read', 'audit.read']);
    expect(permissionsOf({ roles: ['closer'] }, grants)).toEqual(['incidents.close']);
    expect(permissionsOf({ roles: ['auditor', 'closer'] }, grants)).toEqual(['incidents.read', 'incidents.close', 'audit.read']);
    expect(permissionsOf({ roles: ['admins'] }, grants)).toEqual([...PERMISSIONS]);
    expect(hasPermission({ roles: ['auditor'] }, 'incidents.close', grants)).toBe(false);
    expect(hasPermission({ roles: ['closer'] }, 'audit.read', grants)).toBe(false);
    // The operator role keeps every permission beside the mapped ones.
    expect(permissionsOf({ roles: ['operator'] }, grants)).toEqual([...PERMISSIONS]);
  });
});
