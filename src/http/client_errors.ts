/**
 * Requests Node's HTTP parser refuses before express sees them: a header section over
 * `server.maxHeaderBytes` (431), a request whose headers did not arrive within the headers
 * timeout (408), bytes that are not HTTP (400). Node's default answer is a bare status line with
 * no log line and no metric, so an agent whose token grew past the limit would fail silently.
 * This answers in the broker's JSON envelope, counts the refusal and logs it (Node's parser code
 * only: the raw bytes may hold a token).
 */
import type { Server } from 'node:http';
import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import type { ErrorCode } from '../errors.js';
import type { Logger } from '../logging.js';
import type { Metrics } from '../metrics.js';

type Refusal = readonly [number, ErrorCode, string];

const HEADERS_TOO_LARGE: Refusal = [431, 'ERR_HEADERS_TOO_LARGE', 'request headers too large (server.maxHeaderBytes)'];
const TIMEOUT: Refusal = [408, 'ERR_REQUEST_TIMEOUT', 'request headers did not arrive in time'];
const MALFORMED: Refusal = [400, 'ERR_BAD_REQUEST', 'malformed HTTP request'];

function refusalFor(code: string | undefined): Refusal {
  if (code === 'HPE_HEADER_OVERFLOW') return HEADERS_TOO_LARGE;
  if (code === 'ERR_HTTP_REQUEST_TIMEOUT') return TIMEOUT;
  return MALFORMED;
}

export function answerClientErrors(server: Server, logger: Logger, metrics: Metrics): void {
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => {
    // The client is gone: nothing to answer (Node's documented handling).
    if (err.code === 'ECONNRESET' || !socket.writable) {
      socket.destroy();
      return;
    }
    const [status, code, message] = refusalFor(err.code);
    metrics.httpParserRefusals.inc({ code });
    logger.info({ status, code, parserCode: err.code ?? 'unknown' }, 'request refused by the HTTP parser');
    const body = JSON.stringify({ error: { code, message } });
    socket.end(
      `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  });
}
