/**
 * Endpoints for downstream tools: the JWKS of broker-signed tokens and RFC 7662 introspection.
 * Introspection is the revocation channel for `jwt` grants: a token is active only while its
 * grant is active and unexpired in the ledger, so a closed incident's tokens answer inactive.
 */
import express, { Router, type Request } from 'express';
import type { Provider } from '../../sdk.js';
import { effectiveState } from '../../grants/grant_view.js';
import type { HttpDeps } from '../deps.js';
import { requireOperator } from '../steps/authenticate.js';
import { BrokerError } from '../../errors.js';

export function oauthRoutes(deps: HttpDeps): Router {
  const router = Router();
  const introspectors = deps.catalog.providers().flatMap((p: Provider) => (p.introspector ? [p.introspector] : []));

  router.get('/.well-known/jwks.json', (_req, res) => {
    res.set('Cache-Control', 'public, max-age=300').json({ keys: introspectors.flatMap((i) => i.publicJwks().keys) });
  });

  router.post(
    '/oauth2/introspect',
    requireOperator(deps.identity),
    express.urlencoded({ extended: false, limit: deps.config.server.bodyLimitBytes, parameterLimit: 10 }),
    async (req, res) => {
      const token = introspectedToken(req);
      res.set('Cache-Control', 'no-store');
      for (const introspector of introspectors) {
        const verified = await introspector.verifyIssued(token);
        if (!verified) continue;
        const grant = await deps.store.getGrant(verified.grantId);
        const active = grant !== null && effectiveState(grant, deps.now()) === 'active';
        if (!active) break;
        const c = verified.claims;
        res.json({
          active: true,
          token_type: 'Bearer',
          scope: c.scope,
          iss: c.iss,
          sub: c.sub,
          aud: c.aud,
          exp: c.exp,
          iat: c.iat,
          jti: c.jti,
          act: c.act,
          incident: c.incident,
          grant: c.grant,
          profile: c.profile,
        });
        return;
      }
      res.json({ active: false });
    },
  );

  return router;
}

/**
 * RFC 7662 §2.1: the request is form-encoded and carries `token` once. JSON or any other body is
 * refused (415) rather than read loosely; a repeated `token` is ambiguous (which one was meant?).
 */
function introspectedToken(req: Request): string {
  if (!req.is('application/x-www-form-urlencoded')) {
    throw new BrokerError('ERR_UNSUPPORTED_MEDIA_TYPE', 415, 'introspection requests are application/x-www-form-urlencoded (RFC 7662)');
  }
  const token = (req.body as Record<string, unknown> | undefined)?.token;
  if (Array.isArray(token)) throw new BrokerError('ERR_BAD_REQUEST', 400, 'form parameter "token" must be given once');
  if (typeof token !== 'string' || token.length === 0) throw new BrokerError('ERR_BAD_REQUEST', 400, 'form parameter "token" is required');
  return token;
}
