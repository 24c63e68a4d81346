/** Typed access to what middleware puts on `res.locals`. */
import type { Response } from 'express';
import type { IntrospectionScope } from '../grants/introspect.js';
import type { AgentIdentity, OperatorIdentity } from '../identity/types.js';
import type { Logger } from '../logging.js';
import type { Actor, RequestOrigin } from '../model.js';
import type { MatchedRoute } from './route_table.js';

interface Locals {
  requestId?: string;
  clientRequestId?: string;
  /** The route pattern this request is for (null: no route has its path), set by requestContext. */
  route?: MatchedRoute | null;
  /** Built on first read by requestContext, from the request id and logBindings. */
  readonly log?: Logger;
  /** Fields every later line of this request's log carries (e.g. the authenticated subject). */
  logBindings?: Readonly<Record<string, string>>;
  agent?: AgentIdentity;
  operator?: OperatorIdentity;
  /** Set by requireIntrospectionCaller: which tokens the caller may learn of, and its metric label. */
  introspection?: IntrospectionCaller;
}

const locals = (res: Response): Locals => res.locals as Locals;

export function requestLog(res: Response): Logger {
  const log = locals(res).log;
  if (!log) throw new Error('request logger missing: requestContext middleware not mounted');
  return log;
}

export function agentOf(res: Response): AgentIdentity {
  const agent = locals(res).agent;
  if (!agent) throw new Error('agent missing: requireAgent step not mounted');
  return agent;
}

export function operatorOf(res: Response): OperatorIdentity {
  const operator = locals(res).operator;
  if (!operator) throw new Error('operator missing: requirePermission step not mounted');
  return operator;
}

/** Who introspects: which tokens it may learn of, its metric label (a client's name, or `operator`), and its audit actor. */
export interface IntrospectionCaller {
  readonly scope: IntrospectionScope;
  readonly caller: string;
  readonly actor: Actor;
}

/** Which of the two an agent-or-operator route was called by (requireAgentOrPermission). */
export function callerOf(
  res: Response,
): { readonly kind: 'agent'; readonly agent: AgentIdentity } | { readonly kind: 'operator'; readonly operator: OperatorIdentity } {
  const { agent, operator } = locals(res);
  if (operator) return { kind: 'operator', operator };
  if (agent) return { kind: 'agent', agent };
  throw new Error('caller missing: requireAgentOrPermission step not mounted');
}

export function introspectionCallerOf(res: Response): IntrospectionCaller {
  const introspection = locals(res).introspection;
  if (!introspection) throw new Error('introspection caller missing: requireIntrospectionCaller step not mounted');
  return introspection;
}

/** The request, for the audit: the broker's id and the client's, apart. */
export function originOf(res: Response): RequestOrigin {
  const { requestId, clientRequestId } = locals(res);
  if (requestId === undefined) throw new Error('request id missing: requestContext middleware not mounted');
  return { requestId, ...(clientRequestId === undefined ? {} : { clientRequestId }) };
}

/** The authenticated operator as the flows' actor: subject, token fingerprint and the request. */
export function operatorActor(res: Response): Actor {
  const operator = operatorOf(res);
  return { id: operator.subject, tokenFingerprint: operator.fingerprint, origin: originOf(res) };
}

/** The route table's match for this request; undefined before requestContext ran. */
export const matchedRouteOf = (res: Response): MatchedRoute | null | undefined => locals(res).route;

/** The fields bindRequestLog added so far (a new object after each call). */
export const logBindingsOf = (res: Response): Readonly<Record<string, string>> | undefined => locals(res).logBindings;

/** Adds fields to this request's log lines from here on; the logger itself is built lazily. */
export function bindRequestLog(res: Response, bindings: Readonly<Record<string, string>>): void {
  const current = locals(res);
  current.logBindings = { ...current.logBindings, ...bindings };
}

export function setLocals(res: Response, values: Omit<Locals, 'log' | 'logBindings'>): void {
  Object.assign(res.locals, values);
}
