/**
 * The broker's own roles, and which values of the operator issuer's roles claim grant each
 * (identity.operators: `rolesClaim`, `operatorRole`). Routes ask for a broker role
 * (http/steps/authenticate.ts requireRole), never for an IdP group name, so mapping more IdP
 * groups, or splitting `operator` into finer permissions, changes this file and config only.
 */
import type { OperatorIssuerConfig } from '../config/schema.js';
import type { OperatorIdentity } from './types.js';

export const BROKER_ROLES = ['operator'] as const;
export type BrokerRole = (typeof BROKER_ROLES)[number];

export type RoleGrants = Readonly<Record<BrokerRole, ReadonlySet<string>>>;

export function roleGrants(operators: Pick<OperatorIssuerConfig, 'operatorRole'>): RoleGrants {
  return { operator: new Set([operators.operatorRole]) };
}

export function hasRole(operator: Pick<OperatorIdentity, 'roles'>, role: BrokerRole, grants: RoleGrants): boolean {
  const granting = grants[role];
  return operator.roles.some((claimed) => granting.has(claimed));
}
