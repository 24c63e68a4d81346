/**
 * Endpoints for downstream tools: the JWKS of broker-signed tokens and RFC 7662 introspection
 * (grants/introspect.ts: active only while the token's grant is active in the ledger), for
 * operators with the introspect permission and for the configured introspection clients. Each
 * answer is counted per caller and outcome (metric) and audited as counted `token.introspected`
 * events (audit_log.ts recordRepeated).
 */
import express, { Router, type Request } from 'express';
import { BrokerError } from '../../errors.js';
import { provenanceOf } from '../../model.js';
import { introspectorsOf, introspectToken } from '../../grants/introspect.js';
import type { HttpDeps } from '../deps.js';
import { introspectionCallerOf } from '../context.js';
import { requireIntrospectionCaller } from '../steps/authenticate.js';

/** The RFC 7662 §2.2 members (and the broker's own) an active answer carries, in this order. */
const ANSWERED_CLAIMS = ['scope', 'iss', 'sub', 'aud', 'exp', 'iat', 'jti', 'act', 'incident', 'grant', 'profile'] as const;

export function oauthRoutes(deps: HttpDeps): Router {
  const router = Router();
  const introspectors = introspectorsOf(deps.catalog);

  router.get('/.well-known/jwks.json', (_req, res) => {
    res.set('Cache-Control', 'public, max-age=300').json({ keys: introspectors.flatMap((i) => i.publicJwks().keys) });
  });

  // Shared Signals (docs/deviation.md "Revocation events"): the transmitter's metadata and the keys its SETs verify with.
  router.get('/.well-known/ssf-configuration', (_req, res) => {
    if (!deps.revocationEvents) throw new BrokerError('ERR_NOT_FOUND', 404, 'no revocation event receivers are configured');
    res.set('Cache-Control', 'public, max-age=300').json(deps.revocationEvents.configuration());
  });
  router.get('/.well-known/ssf-jwks.json', (_req, res) => {
    if (!deps.revocationEvents) throw new BrokerError('ERR_NOT_FOUND', 404, 'no revocation event receivers are configured');
    res.set('Cache-Control', 'public, max-age=300').json(deps.revocationEvents.jwks());
  });

  router.post(
    '/oauth2/introspect',
    requireIntrospectionCaller(deps),
    express.urlencoded({ extended: false, limit: deps.config.server.bodyLimitBytes, parameterLimit: 10 }),
    async (req, res) => {
      const { scope, caller, actor } = introspectionCallerOf(res);
      const answer = await introspectToken(deps, introspectedToken(req), scope);
      deps.metrics.introspections.inc({ caller, active: String(answer.active) });
      // Counted, not one event per hit: a resource server may introspect on every request it serves.
      const summary = { caller, active: answer.active };
      await deps.audit.recordRepeated(
        { at: deps.now(), type: 'token.introspected', actor: actor.id, data: { ...summary, ...provenanceOf(actor) } },
        JSON.stringify(['token.introspected', actor.id, caller, answer.active]),
        summary,
      );
      res.set('Cache-Control', 'no-store');
      if (!answer.active) {
        res.json({ active: false });
        return;
      }
      const claims = Object.fromEntries(ANSWERED_CLAIMS.map((name) => [name, answer.claims[name]]));
      res.json({ active: true, token_type: 'Bearer', ...claims });
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
