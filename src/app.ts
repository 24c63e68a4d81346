/**
 * createApp(deps) builds the express app without listening (CONTRIBUTING.md #7); main.ts owns the server.
 * Bodies are parsed by the routes that take one (middleware/json_body.ts), capped by config
 * before parsing; every error leaves through errorHandler.
 */
import express, { type Express } from 'express';
import type { HttpDeps } from './http/deps.js';
import type { ForegroundLanes } from './background_lanes.js';
import { errorHandler } from './http/middleware/error_handler.js';
import { foreground } from './http/middleware/foreground.js';
import { answerOptions, noRoute } from './http/middleware/no_route.js';
import { requestContext } from './http/middleware/request_context.js';
import { OPERATIONS } from './http/openapi.js';
import { createRouteMatcher } from './http/route_table.js';
import { approvalRoutes } from './http/routes/approvals.js';
import { auditRoutes } from './http/routes/audit.js';
import { grantRoutes } from './http/routes/grants.js';
import { incidentRoutes } from './http/routes/incidents.js';
import { oauthRoutes } from './http/routes/oauth.js';
import { opsRoutes } from './http/routes/ops.js';
import { profileRoutes } from './http/routes/profiles.js';
import { providerRoutes } from './http/routes/providers.js';
import { webhookRoutes } from './http/routes/webhooks.js';
import { agentRoutes } from './http/routes/agents.js';
import { signalRoutes } from './http/routes/signals.js';
import { storeRoutes } from './http/routes/store.js';
import { consoleAssets, consoleRoutes } from './http/routes/console.js';
import { conditionalGet } from './http/middleware/conditional_get.js';

export interface AppOptions {
  /** /readyz answers 503 while true, so load balancers drain the broker first. */
  readonly isShuttingDown: () => boolean;
  /** Requests in flight narrow background work (revocation receipts); absent: nothing is narrowed. */
  readonly lanes?: Pick<ForegroundLanes, 'enterForeground'>;
}

export function createApp(deps: HttpDeps, options: AppOptions): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', deps.config.server.trustProxy);
  app.set('etag', false);

  // While stopping, each answer ends its connection: a kept-alive client moves to another replica.
  app.use((_req, res, next) => {
    if (options.isShuttingDown()) res.set('connection', 'close');
    next();
  });
  if (options.lanes) app.use(foreground(options.lanes));
  app.use(requestContext(deps.logger, deps.metrics, createRouteMatcher(OPERATIONS)));
  app.use(answerOptions);
  app.use(conditionalGet);

  app.use(opsRoutes(deps, options.isShuttingDown));
  app.use(oauthRoutes(deps));
  app.use('/v1/incidents', incidentRoutes(deps));
  app.use('/v1/grants', grantRoutes(deps));
  app.use('/v1/profiles', profileRoutes(deps));
  app.use('/v1/audit', auditRoutes(deps));
  app.use('/v1/approvals', approvalRoutes(deps));
  app.use('/v1/store', storeRoutes(deps));
  app.use('/v1/providers', providerRoutes(deps));
  app.use('/v1/webhooks', webhookRoutes(deps));
  app.use('/v1/agents', agentRoutes(deps));
  app.use('/v1/signals', signalRoutes(deps));
  app.use(consoleRoutes(deps));
  app.use('/console', consoleAssets(deps.config));

  app.use(noRoute);
  app.use(errorHandler(deps.logger));
  return app;
}
