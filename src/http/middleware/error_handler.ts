/**
 * Every error becomes `{"error":{"code","message"}}` with the right status. 4xx messages are
 * written for clients; 5xx bodies are generic and the detail goes to the log only (CONTRIBUTING.md #8).
 * Body-parser failures are mapped by their structured `type`, never by message text.
 */
import type { NextFunction, Request, Response } from 'express';
import { BrokerError, describeCause, toBrokerError } from '../../errors.js';
import type { Logger } from '../../logging.js';

export function notFound(_req: Request, _res: Response, next: NextFunction): void {
  next(new BrokerError('ERR_NOT_FOUND', 404, 'no such endpoint'));
}

export function errorHandler(fallbackLogger: Logger) {
  // Express recognises error handlers by their four parameters.
  return (err: unknown, _req: Request, res: Response, _next: NextFunction): void => {
    const log = (res.locals as { log?: Logger }).log ?? fallbackLogger;
    const error = fromBodyParser(err) ?? toBrokerError(err);
    if (error.status >= 500) {
      log.error({ code: error.code, detail: error.detail, cause: error.cause === undefined ? undefined : describeCause(error.cause) }, 'request failed');
    } else {
      log.info({ code: error.code, detail: error.detail }, 'request refused');
    }
    if (res.headersSent) return;
    res.status(error.status).set(error.headers).json(error.toBody());
  };
}

function fromBodyParser(err: unknown): BrokerError | null {
  if (typeof err !== 'object' || err === null || !('type' in err)) return null;
  switch ((err as { type: unknown }).type) {
    case 'entity.too.large':
      return new BrokerError('ERR_PAYLOAD_TOO_LARGE', 413, 'request body too large');
    case 'entity.parse.failed':
      return new BrokerError('ERR_BAD_REQUEST', 400, 'request body is not valid JSON');
    case 'encoding.unsupported':
    case 'charset.unsupported':
      return new BrokerError('ERR_UNSUPPORTED_MEDIA_TYPE', 415, 'unsupported body encoding');
    case 'request.aborted':
      return new BrokerError('ERR_BAD_REQUEST', 400, 'request aborted');
    default:
      return null;
  }
}
