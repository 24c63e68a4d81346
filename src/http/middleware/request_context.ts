/**
 * Gives every request an id (echoed as X-Request-Id), its route pattern (route_table.ts), a child
 * logger, an access-log line and a latency observation by route pattern. Only method, route,
 * status and duration are logged: never headers, bodies, query strings (they may carry tokens) or
 * the client's spelling of the path.
 */
import { randomUUID } from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';
import type { Logger } from '../../logging.js';
import type { Metrics } from '../../metrics.js';
import { logBindingsOf, setLocals } from '../context.js';
import type { RouteMatcher } from '../route_table.js';

const SAFE_REQUEST_ID = /^[A-Za-z0-9._-]{8,64}$/;

export function requestContext(logger: Logger, metrics: Metrics, matchRoute: RouteMatcher) {
  return (req: Request, res: Response, next: NextFunction): void => {
    const started = process.hrtime.bigint();
    const incoming = req.get('x-request-id');
    const requestId = incoming && SAFE_REQUEST_ID.test(incoming) ? incoming : randomUUID();
    // The child logger (redaction setup included) is built on first use only, and again only when
    // bindRequestLog added fields since: at level warn most requests never write a line, and
    // building it cost ~20 µs per request (docs/performance.md).
    let log: Logger | undefined;
    let builtWith: Readonly<Record<string, string>> | undefined;
    const requestLog = (): Logger => {
      const bindings = logBindingsOf(res);
      if (log === undefined || builtWith !== bindings) {
        log = logger.child({ reqId: requestId, ...bindings });
        builtWith = bindings;
      }
      return log;
    };
    const matched = matchRoute(req.method, req.path);
    // Bounded label set: the patterns of the route table, and one value for everything else.
    const route = matched?.pattern ?? 'unmatched';
    setLocals(res, { requestId, route: matched });
    Object.defineProperty(res.locals, 'log', { get: requestLog, enumerable: true, configurable: true });
    res.setHeader('X-Request-Id', requestId);
    res.on('finish', () => {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      metrics.httpRequestSeconds.observe({ method: req.method, route, status: String(res.statusCode) }, seconds);
      if (logger.isLevelEnabled('info')) {
        requestLog().info({ method: req.method, route, status: res.statusCode, ms: Math.round(seconds * 1e4) / 10 }, 'request');
      }
    });
    next();
  };
}
