/**
 * Every error express, the router, body-parser (raw-body) and zlib raise has a mapping by its
 * structured fields (src/http/middleware/error_handler.ts fromExpress). The HTTP table test
 * (malformed_requests.test.ts) sends the ones a client can cause over the wire; this one covers
 * each row, including those a client can only cause by hanging up (request.aborted), by errors
 * shaped as the libraries shape them.
 */
import { describe, expect, it } from 'vitest';
import { BrokerError } from '../../src/errors.js';
import { BODY_PARSER_ERRORS, fromExpress } from '../../src/http/middleware/error_handler.js';

/** As http-errors builds them: an Error with status, statusCode, expose and body-parser's type. */
const httpError = (status: number, type: string | undefined, message = 'library text with client bytes'): Error =>
  Object.assign(new Error(message), { status, statusCode: status, expose: status < 500, ...(type === undefined ? {} : { type }) });

describe('express and body-parser errors', () => {
  it.each(Object.entries(BODY_PARSER_ERRORS))('maps %s by its type', (type, [code, status]) => {
    const mapped = fromExpress(httpError(status, type));
    expect(mapped).toBeInstanceOf(BrokerError);
    expect([mapped?.code, mapped?.status]).toEqual([code, status]);
    expect(mapped?.message).not.toContain('client bytes');
  });

  it('maps every body-parser and raw-body type a client can cause', () => {
    expect(Object.keys(BODY_PARSER_ERRORS).sort()).toEqual([
      'charset.unsupported',
      'encoding.unsupported',
      'entity.parse.failed',
      'entity.too.large',
      'entity.verify.failed',
      'parameters.too.many',
      'querystring.parse.rangeError',
      'request.aborted',
      'request.size.invalid',
    ]);
  });

  it('leaves the broker misusing a stream a 500', () => {
    expect(fromExpress(httpError(500, 'stream.encoding.set'))).toBeNull();
    expect(fromExpress(httpError(500, 'stream.not.readable'))).toBeNull();
  });

  it("maps the router's URIError for malformed percent-encoding, and only with its status", () => {
    const routerError = Object.assign(new URIError("Failed to decode param '%ZZ'"), { status: 400, statusCode: 400 });
    expect(fromExpress(routerError)).toMatchObject({
      code: 'ERR_BAD_REQUEST',
      status: 400,
      message: 'malformed percent-encoding in the request path',
    });
    // A URIError of the broker's own (no status) is a bug, not the client's.
    expect(fromExpress(new URIError('URI malformed'))).toBeNull();
  });

  it('maps a zlib failure that body-parser gave a 400', () => {
    const zlib = Object.assign(new Error('incorrect header check'), {
      errno: -3,
      code: 'Z_DATA_ERROR',
      status: 400,
      statusCode: 400,
      expose: true,
    });
    expect(fromExpress(zlib)).toMatchObject({
      code: 'ERR_BAD_REQUEST',
      status: 400,
      message: 'request body does not match its Content-Encoding',
    });
    const brotli = Object.assign(new Error('Decompression failed'), {
      errno: -5,
      code: 'ERR_BROTLI_DECOMPRESSION_FAILED',
      status: 400,
      expose: true,
    });
    expect(fromExpress(brotli)?.message).toBe('request body does not match its Content-Encoding');
  });

  it("keeps any other exposed 4xx's status, never its text", () => {
    expect(fromExpress(httpError(408, undefined))).toMatchObject({ code: 'ERR_BAD_REQUEST', status: 408, message: 'bad request' });
    // Not exposed, or not a client status: not theirs to map.
    expect(fromExpress(Object.assign(new Error('x'), { status: 400 }))).toBeNull();
    expect(fromExpress(httpError(503, undefined))).toBeNull();
  });

  it('leaves broker errors and plain values alone', () => {
    expect(fromExpress(new BrokerError('ERR_NOT_FOUND', 404, 'no such endpoint'))).toBeNull();
    expect(fromExpress(new Error('boom'))).toBeNull();
    expect(fromExpress('text')).toBeNull();
    expect(fromExpress(null)).toBeNull();
  });
});
