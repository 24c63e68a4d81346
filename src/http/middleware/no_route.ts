/**
 * Requests no route handled. A path the broker serves with another method answers 405 with
 * `Allow` (RFC 9110 §15.5.6), in the JSON error envelope like every other refusal; anything else
 * 404. OPTIONS is answered here from the route table, before the routers, so it never falls to
 * the router's plain-text default.
 */
import type { NextFunction, Request, Response } from 'express';
import { BrokerError } from '../../errors.js';
import { matchedRouteOf } from '../context.js';

export function answerOptions(req: Request, res: Response, next: NextFunction): void {
  if (req.method !== 'OPTIONS') {
    next();
    return;
  }
  const route = matchedRouteOf(res);
  if (!route) {
    next(new BrokerError('ERR_NOT_FOUND', 404, 'no such endpoint'));
    return;
  }
  res.status(204).set('Allow', route.allow.join(', ')).end();
}

export function noRoute(_req: Request, res: Response, next: NextFunction): void {
  const route = matchedRouteOf(res);
  if (route && !route.methodAllowed) {
    next(
      new BrokerError('ERR_METHOD_NOT_ALLOWED', 405, `method not allowed; ${route.pattern} allows ${route.allow.join(', ')}`, {
        headers: { Allow: route.allow.join(', ') },
      }),
    );
    return;
  }
  next(new BrokerError('ERR_NOT_FOUND', 404, 'no such endpoint'));
}
