/**
 * A local key server on 127.0.0.1:0 that speaks what SPIFFE bundle endpoints, `jwks_uri`s and
 * OIDC discovery documents speak — JSON over HTTP GET — and misbehaves on request: goes down,
 * answers slowly, answers 5 MB, redirects, resets the connection, or rotates its keys between two
 * requests. Any request to a path without a route answers 501 and is recorded in `unexpected`,
 * which tests assert empty (CONTRIBUTING.md #16). Delays are server-side and only exercise timeouts.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export type Behaviour =
  | { readonly json: unknown }
  | { readonly status: number }
  | { readonly redirect: string }
  /** A body of this many bytes: valid JSON padding, declared (content-length) or chunked. */
  | { readonly bytes: number; readonly chunked?: boolean }
  /** Headers after `delayMs` (a slow endpoint), or the body stalls after the headers. */
  | { readonly delayMs: number; readonly then: Behaviour; readonly stallBody?: boolean }
  /** Destroys the socket without answering (an endpoint that went down mid-connection). */
  | { readonly reset: true };

export interface JwksServer {
  readonly url: string;
  /** Paths requested, in order. */
  readonly hits: string[];
  /** Requests nobody routed (answered 501). */
  readonly unexpected: string[];
  route(path: string, behaviour: Behaviour): void;
  /** How many times `path` was requested. */
  count(path: string): number;
  close(): Promise<void>;
}

export async function startJwksServer(): Promise<JwksServer> {
  const routes = new Map<string, Behaviour>();
  const hits: string[] = [];
  const unexpected: string[] = [];
  const timers = new Set<NodeJS.Timeout>();
  const server = createServer((req, res) => {
    const path = req.url ?? '';
    hits.push(path);
    const behaviour = req.method === 'GET' ? routes.get(path) : undefined;
    if (!behaviour) {
      unexpected.push(`${req.method} ${path}`);
      res.writeHead(501).end();
      return;
    }
    answer(req, res, behaviour, timers);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    hits,
    unexpected,
    route: (path, behaviour) => void routes.set(path, behaviour),
    count: (path) => hits.filter((h) => h === path).length,
    close: () => {
      for (const t of timers) clearTimeout(t);
      server.closeAllConnections();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function answer(req: IncomingMessage, res: ServerResponse, b: Behaviour, timers: Set<NodeJS.Timeout>): void {
  if ('json' in b) {
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(b.json));
  } else if ('status' in b) {
    res.writeHead(b.status, { 'content-type': 'application/json' }).end('{"error":"unavailable"}');
  } else if ('redirect' in b) {
    res.writeHead(302, { location: b.redirect }).end();
  } else if ('bytes' in b) {
    const body = `{"keys":[],"pad":"${'x'.repeat(Math.max(0, b.bytes - 22))}"}`;
    res.writeHead(200, { 'content-type': 'application/json', ...(b.chunked ? {} : { 'content-length': String(Buffer.byteLength(body)) }) });
    // Written in 64 KiB pieces so a capped reader can stop early.
    for (let i = 0; i < body.length; i += 65_536) res.write(body.slice(i, i + 65_536));
    res.end();
  } else if ('delayMs' in b) {
    if (b.stallBody) res.writeHead(200, { 'content-type': 'application/json' }).write('{"keys":');
    const timer = setTimeout(() => {
      timers.delete(timer);
      if (b.stallBody) res.end('[]}');
      else if (!res.destroyed) answer(req, res, b.then, timers);
    }, b.delayMs);
    timers.add(timer);
  } else {
    req.socket.destroy();
  }
}
