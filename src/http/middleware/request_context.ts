/**
 * Gives every request the broker's own id (sent back as X-Request-Id; a client's X-Request-Id is
 * kept beside it as `clientRequestId`, untrusted), its route pattern (route_table.ts), a child
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

/** A client's X-Request-Id worth keeping (beside ours, never instead of it). */
const SAFE_CLIENT_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

export function requestContext(logger: Logger, metrics: Metrics, matchRoute: RouteMatcher) {
  return (req: Request, res: Response, next: NextFunction): void => {
    const started = process.hrtime.bigint();
    // Our own id, always: a client-chosen one could collide with another request's, or be made
    // to, and logs and audit must tell requests apart. The client's is kept as an untrusted field.
    const requestId = randomUUID();
    const incoming = req.get('x-request-id');
    const clientRequestId = incoming !== undefined && SAFE_CLIENT_REQUEST_ID.test(incoming) ? incoming : undefined;
    // The child logger (redaction setup included) is built on first use only, and again only when
    // bindRequestLog added fields since: at level warn most requests never write a line, and
    // building it cost ~20 µs per request (docs/performance.md).
    let log: Logger | undefined;
    let builtWith: Readonly<Record<string, string>> | undefined;
    const requestLog = (): Logger => {
      const bindings = logBindingsOf(res);
      if (log === undefined || builtWith !== bindings) {
        log = logger.child({ reqId: requestId, ...(clientRequestId === undefined ? {} : { clientRequestId }), ...bindings });
        builtWith = bindings;
      }
      return log;
    };
    const matched = matchRoute(req.method, req.path);
    // Bounded label set: the patterns of the route table, one for the console's assets, one for everything else.
    const route = matched?.pattern ?? (/^\/console(?:\/|$)/iu.test(req.path) ? '/console' : 'unmatched');
    setLocals(res, { requestId, ...(clientRequestId === undefined ? {} : { clientRequestId }), route: matched });
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
