/** Typed access to what middleware puts on `res.locals`. */
import type { Response } from 'express';
import type { AgentIdentity, OperatorIdentity } from '../identity/types.js';
import type { Logger } from '../logging.js';

interface Locals {
  requestId?: string;
  log?: Logger;
  agent?: AgentIdentity;
  operator?: OperatorIdentity;
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
  if (!operator) throw new Error('operator missing: requireOperator step not mounted');
  return operator;
}

export function setLocals(res: Response, values: Locals): void {
  Object.assign(res.locals, values);
}
