/**
 * `POST /v1/signals` (docs/deviation.md "Sending signals"): a detection system reports that an
 * agent, or a credential the broker issued, did something outside its task. Two ways to
 * authenticate: a Standard Webhooks signature under a configured source's secret
 * (`deviation.sources`; no bearer token, the signature over the raw body is the authentication),
 * or an operator-issuer token whose roles grant `signals.send` (a service principal with a
 * signal-source role). The body is read raw, capped, as application/json only. Answers: 202 once
 * the signal is durably queued, 200 for a duplicate (same source and id), 404
 * ERR_SIGNAL_SUBJECT_UNKNOWN for a credential or grant the broker never issued (audited).
 */
import express, { Router, type NextFunction, type Request, type Response } from 'express';
import { receiveSignal } from '../../deviation/receive_signal.js';
import { BrokerError } from '../../errors.js';
import { operatorActor, originOf } from '../context.js';
import type { HttpDeps } from '../deps.js';
import { decodeJson } from '../middleware/json_body.js';
import { requirePermission } from '../steps/authenticate.js';
import { parseWith, signalBody } from '../validation.js';

const header = (req: Request, name: string): string | undefined => {
  const value = req.headers[name];
  return Array.isArray(value) ? value.join(',') : value;
};

export function signalRoutes(deps: HttpDeps): Router {
  const router = Router();
  const operator = requirePermission(deps, 'signals.send');
  router.post(
    '/',
    (req, _res, next) => {
      if (!req.is('application/json')) throw new BrokerError('ERR_UNSUPPORTED_MEDIA_TYPE', 415, 'signals are application/json');
      next();
    },
    // A bearer token is checked before the body is read; a signed delivery after (the signature is over the bytes).
    async (req: Request, res: Response, next: NextFunction) => {
      if (req.get('authorization') === undefined) {
        next();
        return;
      }
      await operator(req, res, next);
    },
    express.raw({ type: () => true, limit: deps.config.webhooks.bodyLimitBytes, inflate: false }),
    async (req, res) => {
      const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
      let from: { source: string; via: 'webhook' | 'token' };
      let actor;
      if (req.get('authorization') === undefined) {
        if (header(req, 'webhook-signature') === undefined)
          throw new BrokerError('ERR_UNAUTHENTICATED', 401, 'a signal is signed (Standard Webhooks) or sent with a bearer token', {
            headers: { 'WWW-Authenticate': 'Bearer realm="quartermaster"' },
          });
        const source = deps.signalSources.verify(
          body,
          { id: header(req, 'webhook-id'), timestamp: header(req, 'webhook-timestamp'), signature: header(req, 'webhook-signature') },
          deps.now(),
        );
        from = { source, via: 'webhook' };
        actor = { id: `signal:${source}`, origin: originOf(res) };
      } else {
        actor = operatorActor(res);
        from = { source: actor.id, via: 'token' };
      }
      const input = parseWith(signalBody, decodeJson(body, undefined), 'body');
      const receipt = await receiveSignal(
        deps,
        from,
        {
          id: input.id,
          kind: input.kind,
          severity: input.severity,
          subject: input.subject,
          ...(input.incident_id === undefined ? {} : { incidentId: input.incident_id }),
          ...(input.summary === undefined ? {} : { summary: input.summary }),
          ...(input.evidence === undefined ? {} : { evidence: input.evidence }),
          ...(input.observed_at === undefined ? {} : { observedAt: Date.parse(input.observed_at) }),
        },
        actor,
      );
      const { signal } = receipt;
      res.status(receipt.status === 'accepted' ? 202 : 200).json({
        status: receipt.status,
        signal: {
          id: signal.id,
          source: signal.source,
          agent: signal.agent,
          ...(signal.incidentId === undefined ? {} : { incident_id: signal.incidentId }),
          ...(signal.grantId === undefined ? {} : { grant_id: signal.grantId }),
        },
      });
    },
  );
  return router;
}
