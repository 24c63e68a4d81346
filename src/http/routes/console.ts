/**
 * The responder console (docs/console.md). `/console/` serves its built assets (`npm run build`)
 * under a strict Content-Security-Policy: scripts and styles from the broker's own origin only, no
 * inline script, no framing. The console itself talks only to the public API; these three
 * endpoints are the part of it that is about signing in:
 *
 * - `GET /v1/console/sign-in` (no token): how the console signs people in, the human IdP's
 *   authorization-code flow with PKCE (`console.oidc`) or, in development mode, the dev issuer;
 * - `POST /v1/console/dev-token` (no token; development mode with `devIssuer` only): an operator
 *   token for the subject and roles asked for, the browser twin of `quartermaster dev token --operator`;
 * - `GET /v1/session` (any operator token): who the token names and what its roles permit, so the
 *   console shows each person only the actions the API would accept from them.
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import express, { Router, type NextFunction, type Request, type Response } from 'express';
import { packageRoot } from '../../config/load.js';
import type { Config } from '../../config/schema.js';
import { BrokerError } from '../../errors.js';
import { mintOperatorToken } from '../../identity/dev_issuer.js';
import { isLoopbackHost } from '../../urls.js';
import { permissionGrants, permissionsOf } from '../../identity/roles.js';
import { operatorOf, requestLog } from '../context.js';
import type { HttpDeps } from '../deps.js';
import { jsonBody } from '../middleware/json_body.js';
import { requireOperator } from '../steps/authenticate.js';
import { devTokenBody, noQuery, parseWith } from '../validation.js';

export type ConsoleSignIn =
  | { readonly kind: 'oidc'; readonly oidc: NonNullable<Config['console']['oidc']> }
  | { readonly kind: 'development'; readonly roles: readonly string[] }
  | null;

/** How the console signs people in: the IdP when configured, else the dev issuer in development mode, else not at all. */
export function consoleSignIn(config: Pick<Config, 'mode' | 'console' | 'devIssuer' | 'identity' | 'server'>): ConsoleSignIn {
  if (!config.console.enabled) return null;
  if (config.console.oidc) return { kind: 'oidc', oidc: config.console.oidc };
  // Only on a loopback listener: a development broker told to listen elsewhere offers no token to whoever reaches it.
  if (config.mode === 'development' && config.devIssuer && isLoopbackHost(config.server.host)) {
    const { operatorRole, permissions } = config.identity.operators;
    return { kind: 'development', roles: [...new Set([operatorRole, ...Object.keys(permissions)])] };
  }
  return null;
}

/**
 * The console's CSP: nothing but its own origin, except that the browser may fetch the IdP's
 * metadata and token endpoint (connect-src). `require-trusted-types-for` makes any string-to-HTML
 * sink throw, so a title with markup can only ever be text.
 */
export function consoleCsp(signIn: ConsoleSignIn): string {
  const connect = ["'self'"];
  if (signIn?.kind === 'oidc') {
    for (const url of [signIn.oidc.issuer, ...signIn.oidc.connectOrigins]) connect.push(new URL(url).origin);
  }
  return [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self'",
    `connect-src ${[...new Set(connect)].join(' ')}`,
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
    "require-trusted-types-for 'script'",
    'trusted-types',
  ].join('; ');
}

const setSecurityHeaders = (res: Response, csp: string): void => {
  res.set({
    'Content-Security-Policy': csp,
    'X-Content-Type-Options': 'nosniff',
    'X-Frame-Options': 'DENY',
    'Referrer-Policy': 'no-referrer',
    'Cross-Origin-Opener-Policy': 'same-origin',
    'Cross-Origin-Resource-Policy': 'same-origin',
    'Permissions-Policy': 'camera=(), microphone=(), geolocation=(), payment=()',
  });
};

const consoleOff = (): BrokerError =>
  new BrokerError('ERR_CONSOLE_OFF', 404, 'the console is off (console.enabled: false, or no sign-in: set console.oidc)');

/**
 * The built assets, mounted at /console (a middleware, not routes: /openapi.json describes the
 * API, and these are files). `/console` itself redirects to `/console/`, the page's one address.
 */
export function consoleAssets(config: Pick<Config, 'mode' | 'console' | 'devIssuer' | 'identity' | 'server'>) {
  const signIn = consoleSignIn(config);
  const csp = consoleCsp(signIn);
  const assetsDir = resolve(config.console.assetsDir ?? join(packageRoot(), 'dist', 'console'));
  const serve = express.static(assetsDir, {
    index: 'index.html',
    redirect: false,
    dotfiles: 'ignore',
    fallthrough: true,
    setHeaders: (res, path) => {
      // Hashed file names never change content; the page that names them is revalidated every time.
      res.setHeader('Cache-Control', /[/\\]assets[/\\]/u.test(path) ? 'public, max-age=31536000, immutable' : 'no-cache');
    },
  });
  return (req: Request, res: Response, next: NextFunction): void => {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      next();
      return;
    }
    if (signIn === null) throw consoleOff();
    setSecurityHeaders(res, csp);
    if (!req.originalUrl.toLowerCase().startsWith('/console/')) {
      res.redirect(301, `/console/${req.originalUrl.slice('/console'.length)}`);
      return;
    }
    if (!existsSync(join(assetsDir, 'index.html'))) {
      throw new BrokerError('ERR_CONSOLE_NOT_BUILT', 503, 'the console is not built: run npm run build', {
        detail: `no index.html in ${assetsDir}`,
      });
    }
    serve(req, res, next);
  };
}

export function consoleRoutes(deps: HttpDeps): Router {
  const router = Router();
  const signIn = consoleSignIn(deps.config);
  router.get('/v1/console/sign-in', (req, res) => {
    parseWith(noQuery, req.query, 'query');
    if (signIn === null) throw consoleOff();
    if (signIn.kind === 'development') {
      res.json({ kind: 'development', roles: signIn.roles });
      return;
    }
    const { issuer, clientId, scopes, token, authorizationParams } = signIn.oidc;
    res.json({ kind: 'oidc', issuer, client_id: clientId, scopes, token, authorization_params: authorizationParams });
  });

  router.post('/v1/console/dev-token', jsonBody(deps.config.server.bodyLimitBytes), async (req, res) => {
    if (signIn?.kind !== 'development' || !deps.config.devIssuer) {
      throw new BrokerError('ERR_NOT_FOUND', 404, 'development sign-in is only served in development mode with devIssuer');
    }
    refuseRebinding(req);
    const body = parseWith(devTokenBody(signIn.roles), req.body, 'body');
    const { operators } = deps.config.identity;
    // As long as the verifier allows (identity.operators.maxLifetimeSeconds); the page keeps it in memory only.
    const ttlSeconds = operators.maxLifetimeSeconds;
    const token = await mintOperatorToken({
      keyDir: deps.config.devIssuer.keyDir,
      issuer: deps.config.devIssuer.operatorIssuer,
      audience: operators.audience,
      subject: body.subject,
      roles: body.roles,
      rolesClaim: operators.rolesClaim,
      ttlSeconds,
      now: deps.now(),
    });
    requestLog(res).info({ subject: body.subject, roles: body.roles }, 'development sign-in');
    res.set('Cache-Control', 'no-store').json({ token, token_type: 'Bearer', expires_in: ttlSeconds });
  });

  const grants = permissionGrants(deps.config.identity.operators);
  router.get('/v1/session', requireOperator(deps), (req, res) => {
    parseWith(noQuery, req.query, 'query');
    const operator = operatorOf(res);
    res.set('Cache-Control', 'no-store').json({
      subject: operator.subject,
      issuer: operator.issuer,
      roles: operator.roles,
      permissions: permissionsOf(operator, grants),
      expires_at: new Date(operator.expiresAt).toISOString(),
    });
  });
  return router;
}

/**
 * DNS rebinding: a web page the developer visits can point its own name at 127.0.0.1 and post to
 * the development broker from its origin. Such a request names the attacker's host in `Host`, and
 * its `Origin` is not the broker's: the development token is minted only for a loopback `Host`,
 * and, when the browser sends an `Origin`, only for the broker's own.
 */
function refuseRebinding(req: Request): void {
  const host = req.get('host') ?? '';
  const hostname = /^(\[[^\]]+\]|[^:]+)(?::\d+)?$/u.exec(host)?.[1] ?? '';
  const origin = req.get('origin');
  if (!isLoopbackHost(hostname) || (origin !== undefined && origin !== `${req.protocol}://${host}`)) {
    throw new BrokerError('ERR_FORBIDDEN', 403, "development sign-in is served to the broker's own loopback page only", {
      detail: `Host ${JSON.stringify(host)}, Origin ${JSON.stringify(origin ?? null)}`,
    });
  }
}
