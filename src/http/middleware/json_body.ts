/**
 * JSON request bodies, for the routes that take one (mounted per route, never app-wide, so a
 * webhook route can verify a signature over the exact raw bytes and a body-less route ignores
 * whatever a client sends).
 *
 * The bytes are read by body-parser's raw reader (size cap before anything is decoded, the
 * Content-Encoding inflated within that cap), then held to stricter rules than express.json:
 *  - UTF-8 only (RFC 8259 §8.1): another charset answers 415, invalid UTF-8 400 — never a silent
 *    U+FFFD replacement;
 *  - no duplicate member names at any depth (strict_json.ts), as the token verifier refuses them;
 *  - anything that is not JSON answers 400.
 * A request without a JSON Content-Type leaves `req.body` undefined; the route's validation
 * answers 415.
 */
import express, { type NextFunction, type Request, type RequestHandler, type Response } from 'express';
import { parse as parseContentType } from 'content-type';
import { BrokerError } from '../../errors.js';
import { cleanForLog } from '../../logging.js';
import { DuplicateMemberError, parseStrictJson } from '../../strict_json.js';

export const JSON_MEDIA_TYPES = ['application/json', 'application/*+json'];

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });

export function jsonBody(limitBytes: number): RequestHandler {
  const readRaw = express.raw({ type: JSON_MEDIA_TYPES, limit: limitBytes, inflate: true });
  return (req: Request, res: Response, next: NextFunction): void => {
    readRaw(req, res, (err?: unknown) => {
      if (err !== undefined) {
        next(err);
        return;
      }
      try {
        const raw: unknown = req.body;
        req.body = Buffer.isBuffer(raw) ? decodeJson(raw, charsetOf(req)) : undefined;
      } catch (decodeErr) {
        next(decodeErr);
        return;
      }
      next();
    });
  };
}

function charsetOf(req: Request): string | undefined {
  // express.raw matched the type, so the header parses; a malformed one would not have matched.
  const charset = parseContentType(req.headers['content-type'] ?? '').parameters.charset;
  return charset?.toLowerCase();
}

/** The body's JSON under the rules above; `charset` from Content-Type (undefined: UTF-8). */
export function decodeJson(raw: Buffer, charset: string | undefined): unknown {
  if (charset !== undefined && charset !== 'utf-8' && charset !== 'utf8') {
    throw new BrokerError('ERR_UNSUPPORTED_MEDIA_TYPE', 415, 'JSON bodies must be UTF-8 (charset=utf-8 or none)');
  }
  let text: string;
  try {
    text = utf8.decode(raw);
  } catch {
    throw new BrokerError('ERR_BAD_REQUEST', 400, 'request body is not valid UTF-8');
  }
  try {
    return parseStrictJson(text);
  } catch (err) {
    if (err instanceof DuplicateMemberError) {
      throw new BrokerError('ERR_BAD_REQUEST', 400, `request body has duplicate member "${cleanForLog(err.member, 64)}"`);
    }
    throw new BrokerError('ERR_BAD_REQUEST', 400, 'request body is not valid JSON');
  }
}
