/**
 * Steps: authenticate the caller from `Authorization: Bearer <jwt>` (RFC 6750). Agent endpoints
 * accept only agent tokens and operator endpoints only operator tokens (token kinds never cross,
 * identity/verifier.ts). The token itself is never logged.
 */
import type { NextFunction, Request, Response } from 'express';
import { BrokerError, forbidden } from '../../errors.js';
import type { Config } from '../../config/schema.js';
import type { Permission } from '../../identity/permissions.js';
import { hasPermission, permissionGrants } from '../../identity/roles.js';
import type { IntrospectionScope } from '../../grants/introspect.js';
import type { Identity, OperatorIdentity } from '../../identity/types.js';
import { bindRequestLog, originOf, setLocals } from '../context.js';

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
    admitOperator(res, await deps.identity.authenticateOperator(bearerToken(req)), permission, grants);
    next();
  };
}

/**
 * An agent token, or an operator token whose roles grant `permission` (GET /v1/approvals/:id: the
 * agent collects its approval, an operator reads it). Each kind is verified as on its own endpoints.
 */
export function requireAgentOrPermission(
  deps: { readonly identity: Identity; readonly config: Pick<Config, 'identity'> },
  permission: Permission,
) {
  const grants = permissionGrants(deps.config.identity.operators);
  return async (req: Request, res: Response, next: NextFunction): Promise<void> => {
    const caller = await deps.identity.authenticateAgentOrOperator(bearerToken(req));
    if (caller.kind === 'operator') {
      admitOperator(res, caller, permission, grants);
    } else {
      setLocals(res, { agent: caller });
      bindRequestLog(res, { agent: caller.id });
    }
    next();
  };
}

/**
 * A caller of POST /oauth2/introspect: an operator with the `introspect` permission (every token),
 * or a configured introspection client (identity.introspection.clients) by its workload token
 * for the introspection audience (the tokens of its own audiences). Any other workload: 403.
 */
export function requireIntrospectionCaller(deps: { readonly identity: Identity; readonly config: Pick<Config, 'identity'> }) {
  const grants = permissionGrants(deps.config.identity.operators);
  const clients = new Map(deps.config.identity.introspection.clients.map((c) => [c.id, { name: c.name, audiences: new Set(c.audiences) }]));
  return async (req: Request, res: Response, next: NextFunction): Promise<void> => {
    const caller = await deps.identity.authenticateIntrospectionCaller(bearerToken(req));
    let scope: IntrospectionScope;
    let name: string;
    const actor = {
      id: caller.kind === 'operator' ? caller.subject : caller.id,
      tokenFingerprint: caller.fingerprint,
      origin: originOf(res),
    };
    if (caller.kind === 'operator') {
      admitOperator(res, caller, 'introspect', grants);
      scope = { kind: 'all' };
      name = 'operator';
    } else {
      const client = clients.get(caller.id);
      if (!client) throw forbidden('not an introspection client', `workload ${caller.id} is not in identity.introspection.clients`);
      bindRequestLog(res, { introspectionClient: client.name });
      scope = { kind: 'audiences', audiences: client.audiences };
      name = client.name;
    }
    setLocals(res, { introspection: { scope, caller: name, actor } });
    next();
  };
}

/** The operator, if its roles grant `permission` (403 otherwise), on the request's locals and log. */
function admitOperator(
  res: Response,
  operator: OperatorIdentity,
  permission: Permission,
  grants: ReturnType<typeof permissionGrants>,
): void {
  if (!hasPermission(operator, permission, grants)) throw missingPermission(permission);
  setLocals(res, { operator });
  bindRequestLog(res, { operator: operator.subject });
}

/** The 403 for an operator whose roles grant no `permission`. */
const missingPermission = (permission: Permission): BrokerError =>
  forbidden(`the ${permission} permission is required`, `subject lacks a role granting ${permission}`);

/** Any operator token the verifier accepts, whatever its roles (GET /v1/session: what may I do?). */
export function requireOperator(deps: { readonly identity: Identity }) {
  return async (req: Request, res: Response, next: NextFunction): Promise<void> => {
    const operator = await deps.identity.authenticateOperator(bearerToken(req));
    setLocals(res, { operator });
    bindRequestLog(res, { operator: operator.subject });
    next();
  };
}
