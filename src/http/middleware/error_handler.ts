/**
 * Every error becomes `{"error":{"code","message"}}` with the right status. 4xx messages are
 * written for clients; 5xx bodies are generic and the detail goes to the log only (CONTRIBUTING.md #8).
 *
 * Errors raised by express and body-parser before any route code runs (often before
 * authentication) are mapped by their structured fields — body-parser's `type`, the router's
 * URIError with `status`, zlib's `code` — never by message text, and their own messages (which
 * may quote the client's bytes) never reach the client. test/http/malformed_requests.test.ts sends
 * one request for each row.
 */
import type { NextFunction, Request, Response } from 'express';
import { BrokerError, describeCause, toBrokerError, type ErrorCode } from '../../errors.js';
import type { Logger } from '../../logging.js';
import { matchedRouteOf } from '../context.js';

type Mapping = readonly [ErrorCode, number, string];

/**
 * body-parser 2 / raw-body 3 error types (their READMEs, "Errors"). `stream.encoding.set` and
 * `stream.not.readable` are absent on purpose: they mean the broker misused a stream, a bug that
 * stays a 500.
 */
export const BODY_PARSER_ERRORS: Readonly<Record<string, Mapping>> = {
  'entity.too.large': ['ERR_PAYLOAD_TOO_LARGE', 413, 'request body too large'],
  'entity.parse.failed': ['ERR_BAD_REQUEST', 400, 'request body could not be parsed'],
  'entity.verify.failed': ['ERR_BAD_REQUEST', 400, 'request body refused'],
  'encoding.unsupported': ['ERR_UNSUPPORTED_MEDIA_TYPE', 415, 'unsupported Content-Encoding (use identity, gzip, deflate or br)'],
  'charset.unsupported': ['ERR_UNSUPPORTED_MEDIA_TYPE', 415, 'unsupported charset'],
  'request.aborted': ['ERR_BAD_REQUEST', 400, 'request aborted while its body was read'],
  'request.size.invalid': ['ERR_BAD_REQUEST', 400, 'request body length does not match Content-Length'],
  'parameters.too.many': ['ERR_PAYLOAD_TOO_LARGE', 413, 'too many form parameters'],
  'querystring.parse.rangeError': ['ERR_BAD_REQUEST', 400, 'form parameters nested too deeply'],
};

/** zlib and brotli failures (a body whose Content-Encoding lies), by the binding's error code. */
const DECOMPRESSION_ERROR_CODE = /^(?:Z_|ERR_BROTLI|ERR__)/;

export function errorHandler(fallbackLogger: Logger) {
  // Express recognises error handlers by their four parameters.
  return (err: unknown, _req: Request, res: Response, _next: NextFunction): void => {
    const log = (res.locals as { log?: Logger }).log ?? fallbackLogger;
    const error = fromExpress(err) ?? toBrokerError(err);
    const route = matchedRouteOf(res)?.pattern ?? 'unmatched';
    if (error.status >= 500) {
      log.error(
        { route, code: error.code, detail: error.detail, cause: error.cause === undefined ? undefined : describeCause(error.cause) },
        'request failed',
      );
    } else {
      log.info({ route, code: error.code, detail: error.detail }, 'request refused');
    }
    if (res.headersSent) return;
    res.status(error.status).set(error.headers).json(error.toBody());
  };
}

/** The broker's error for something express, the router or body-parser raised; null if none of theirs. */
export function fromExpress(err: unknown): BrokerError | null {
  if (typeof err !== 'object' || err === null || err instanceof BrokerError) return null;
  const fields = err as { type?: unknown; status?: unknown; code?: unknown; errno?: unknown; expose?: unknown };
  const mapped = typeof fields.type === 'string' ? BODY_PARSER_ERRORS[fields.type] : undefined;
  if (mapped) return new BrokerError(mapped[0], mapped[1], mapped[2], { detail: `body-parser ${fields.type}` });
  const status = typeof fields.status === 'number' ? fields.status : undefined;
  if (status === undefined || status < 400 || status >= 500) return null;
  // The router's decodeParam: a path parameter with malformed percent-encoding (`/v1/grants/%ZZ`).
  if (err instanceof URIError) return new BrokerError('ERR_BAD_REQUEST', 400, 'malformed percent-encoding in the request path');
  if (typeof fields.code === 'string' && typeof fields.errno === 'number' && DECOMPRESSION_ERROR_CODE.test(fields.code)) {
    return new BrokerError('ERR_BAD_REQUEST', 400, 'request body does not match its Content-Encoding', { detail: `zlib ${fields.code}` });
  }
  // Any other client error http-errors marked as such: its status stands, its text does not.
  if (fields.expose === true) return new BrokerError('ERR_BAD_REQUEST', status, 'bad request', { detail: describeCause(err) });
  return null;
}
