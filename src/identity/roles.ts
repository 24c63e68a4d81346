/**
 * Which values of the operator issuer's roles claim grant each permission (identity/permissions.ts):
 * `operatorRole` grants every permission, each key of `permissions` the ones it lists. Mapping
 * another IdP group, or splitting a permission, changes config and this file only.
 */
import type { OperatorIssuerConfig } from '../config/schema.js';
import { ALL_PERMISSIONS, PERMISSIONS, type Permission } from './permissions.js';
import type { OperatorIdentity } from './types.js';

export type PermissionGrants = Readonly<Record<Permission, ReadonlySet<string>>>;

export function permissionGrants(operators: Pick<OperatorIssuerConfig, 'operatorRole' | 'permissions'>): PermissionGrants {
  const grants = Object.fromEntries(PERMISSIONS.map((p) => [p, new Set([operators.operatorRole])])) as Record<Permission, Set<string>>;
  for (const [claimed, listed] of Object.entries(operators.permissions)) {
    for (const permission of listed.includes(ALL_PERMISSIONS) ? PERMISSIONS : (listed as Permission[])) grants[permission].add(claimed);
  }
  return grants;
}

export function hasPermission(operator: Pick<OperatorIdentity, 'roles'>, permission: Permission, grants: PermissionGrants): boolean {
  const granting = grants[permission];
  return operator.roles.some((claimed) => granting.has(claimed));
}

/** Every permission the operator's roles grant, in PERMISSIONS order. */
export function permissionsOf(operator: Pick<OperatorIdentity, 'roles'>, grants: PermissionGrants): Permission[] {
  return PERMISSIONS.filter((p) => hasPermission(operator, p, grants));
}
