/**
 * `POST /v1/webhooks/{source}`: PagerDuty, incident.io and generic incident webhooks
 * (webhooks/receive.ts). No bearer token: the signature over the raw body is the authentication.
 * The body is read raw, capped at webhooks.bodyLimitBytes (413 beyond), never inflated (the
 * signature is over the bytes sent), and only as application/json. Answers: 202 once the delivery
 * is durably in the inbox, 200 for a duplicate (senders retry; a replay changes nothing), 202
 * `ignored` for an event the broker has nothing to do for; 400 malformed, 401 bad signature.
 */
import express, { Router, type Request } from 'express';
import { BrokerError } from '../../errors.js';
import type { HttpDeps } from '../deps.js';
import { WEBHOOK_SOURCES } from '../../webhooks/receive.js';
import type { WebhookSourceName } from '../../webhooks/sources/event.js';

/** The headers a signature check reads; nothing else of the request is passed on. */
const SIGNED_HEADERS = ['x-pagerduty-signature', 'x-webhook-id', 'webhook-id', 'webhook-timestamp', 'webhook-signature'] as const;

const headerValue = (req: Request, name: string): string | undefined => {
  const value = req.headers[name];
  return Array.isArray(value) ? value.join(',') : value;
};

export function webhookRoutes(deps: HttpDeps): Router {
  const router = Router();
  // Before the body is read: an unknown or unconfigured source, or a body that is not JSON, is refused unread.
  const source = (req: Request): WebhookSourceName => {
    const name = String(req.params.source);
    if (!(WEBHOOK_SOURCES as readonly string[]).includes(name) || !deps.webhooks.has(name)) {
      throw new BrokerError('ERR_WEBHOOK_NOT_CONFIGURED', 404, 'no such webhook source is configured');
    }
    return name as WebhookSourceName;
  };
  router.post(
    '/:source',
    (req, _res, next) => {
      source(req);
      if (!req.is('application/json')) throw new BrokerError('ERR_UNSUPPORTED_MEDIA_TYPE', 415, 'webhook bodies are application/json');
      next();
    },
    express.raw({ type: () => true, limit: deps.config.webhooks.bodyLimitBytes, inflate: false }),
    async (req, res) => {
      const name = source(req);
      const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
      const headers = Object.fromEntries(SIGNED_HEADERS.map((h) => [h, headerValue(req, h)]));
      try {
        const receipt = await deps.webhooks.receive(name, body, headers);
        deps.metrics.webhookDeliveries.inc({ source: name, outcome: receipt.status });
        // The inbox is drained by the worker; wake this broker's at once.
        if (receipt.status === 'recorded') deps.nudgeRevocation();
        res.status(receipt.status === 'duplicate' ? 200 : 202).json({
          status: receipt.status === 'recorded' ? 'accepted' : receipt.status,
          delivery_id: receipt.deliveryId,
          ...(receipt.status === 'ignored' ? { reason: receipt.reason } : {}),
        });
      } catch (err) {
        deps.metrics.webhookDeliveries.inc({ source: name, outcome: err instanceof BrokerError ? err.code : 'error' });
        throw err;
      }
    },
  );
  return router;
}
