/**
 * Steps: authenticate the caller from `Authorization: Bearer <jwt>` (RFC 6750). Agent endpoints
 * accept only agent tokens and operator endpoints only operator tokens (token kinds never cross,
 * identity/verifier.ts). The token itself is never logged.
 */
import type { NextFunction, Request, Response } from 'express';
import { BrokerError } from '../../errors.js';
import type { Config } from '../../config/schema.js';
import type { Permission } from '../../identity/permissions.js';
import { hasPermission, permissionGrants } from '../../identity/roles.js';
import type { Identity } from '../../identity/types.js';
import { bindRequestLog, setLocals } from '../context.js';

const CHALLENGE = { 'WWW-Authenticate': 'Bearer realm="quartermaster"' };

export function bearerToken(req: Request): string {
  const header = req.get('authorization');
  if (!header) throw new BrokerError('ERR_UNAUTHENTICATED', 401, 'missing bearer token', { headers: CHALLENGE });
  const match = /^Bearer +([A-Za-z0-9._~+/=-]+) *$/i.exec(header);
  if (!match?.[1]) {
    throw new BrokerError('ERR_UNAUTHENTICATED', 401, 'authorization header must be "Bearer <token>"', {
      headers: { 'WWW-Authenticate': 'Bearer realm="quartermaster", error="invalid_request"' },
    });
  }
  return match[1];
}

export function requireAgent(identity: Identity) {
  return async (req: Request, res: Response, next: NextFunction): Promise<void> => {
    const agent = await identity.authenticateAgent(bearerToken(req));
    setLocals(res, { agent });
    bindRequestLog(res, { agent: agent.id });
    next();
  };
}

/**
 * An operator token whose roles claim grants `permission` (identity/roles.ts); 403 otherwise. The
 * permission is the broker's own name, not the IdP's group.
 */
export function requirePermission(
  deps: { readonly identity: Identity; readonly config: Pick<Config, 'identity'> },
  permission: Permission,
) {
  const grants = permissionGrants(deps.config.identity.operators);
  return async (req: Request, res: Response, next: NextFunction): Promise<void> => {
    const operator = await deps.identity.authenticateOperator(bearerToken(req));
    if (!hasPermission(operator, permission, grants)) {
      throw new BrokerError('ERR_FORBIDDEN', 403, `the ${permission} permission is required`, {
        detail: `subject lacks a role granting ${permission}`,
        headers: { 'WWW-Authenticate': 'Bearer realm="quartermaster", error="insufficient_scope"' },
      });
    }
    setLocals(res, { operator });
    bindRequestLog(res, { operator: operator.subject });
    next();
  };
}
