/**
 * The HTTP server under both incident-tool fakes (./pagerduty.ts, ./incidentio.ts): one GET route,
 * `<prefix>/{id}`, answered from an in-memory map of incidents in the vendor's own shapes, a
 * token check, and a FIFO queue of "next answers" for failures and misbehaviour. Anything else
 * (another method, path or a query string) answers 501 and is recorded in `unexpected`, which
 * tests assert empty (CONTRIBUTING.md #16). It listens on 127.0.0.1:0.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One request the fake routed (method GET, on the incident path), in arrival order. */
export interface RecordedRequest {
  readonly method: string;
  /** The raw request target, exactly as sent (`/incidents/a%2Fb`). */
  readonly path: string;
  /** The id, URL-decoded from the path. */
  readonly id: string;
  readonly authorization: string | undefined;
  readonly accept: string | undefined;
}

/** What the next request(s) get instead of the normal answer (queued with `misbehaveNext`). */
export type Misbehaviour =
  /** Accepts the request and never answers (a timeout). */
  | { readonly kind: 'hang' }
  /** Sends 200 and the start of a body, then nothing more. */
  | { readonly kind: 'stall' }
  /** Sends 200, then one byte of whitespace every `everyMs`, never ending (a slow drip defeats an idle timeout, not a deadline). */
  | { readonly kind: 'drip'; readonly everyMs: number }
  /** A redirect to `location`. */
  | { readonly kind: 'redirect'; readonly location: string; readonly status?: 301 | 302 | 303 | 307 | 308 }
  /** A 200 whose body (the incident, padded) is `bytes` long: declared in content-length, or chunked. */
  | { readonly kind: 'oversize'; readonly bytes: number; readonly chunked?: boolean }
  /** Any status and body. */
  | { readonly kind: 'raw'; readonly status: number; readonly body: string; readonly contentType?: string }
  /** Destroys the socket without answering. */
  | { readonly kind: 'reset' };

export interface FailOptions {
  /** Sent as `Retry-After` (and in the vendor's own rate-limit fields) on this failure. */
  readonly retryAfterSeconds?: number;
}

/** How one vendor speaks, for the shared server. */
export interface Dialect<Entry> {
  /** `/incidents` or `/v2/incidents`. */
  readonly prefix: string;
  readonly tokenPrefix: string;
  /** The Authorization header the vendor accepts for `token`. */
  readonly authorization: (token: string) => string;
  /** The 200 body for an incident. */
  readonly render: (id: string, record: Entry) => unknown;
  /** The error body for `status`; `missingKey` when no Authorization was sent. */
  readonly error: (status: number, options: { readonly missingKey?: boolean; readonly retryAfterSeconds?: number }) => unknown;
  /** Extra headers of a failure (PagerDuty's `ratelimit-*`). */
  readonly failureHeaders?: (status: number, options: FailOptions) => Readonly<Record<string, string>>;
}

export interface FakeServer<Entry> {
  readonly url: string;
  readonly token: string;
  readonly incidents: Map<string, Entry>;
  readonly requests: RecordedRequest[];
  readonly unexpected: string[];
  failNext(count: number, status: number, options?: FailOptions): void;
  misbehaveNext(count: number, misbehaviour: Misbehaviour): void;
  stop(): Promise<void>;
}

/** What each vendor's fake offers tests (./index.ts describes it). */
export interface IncidentToolFake<Status extends string, Extra> {
  readonly url: string;
  readonly token: string;
  setIncident(id: string, status: Status, extra?: Extra): void;
  removeIncident(id: string): void;
  failNext(count: number, status: number, options?: FailOptions): void;
  misbehaveNext(count: number, misbehaviour: Misbehaviour): void;
  readonly requests: readonly RecordedRequest[];
  readonly unexpected: readonly string[];
  stop(): Promise<void>;
}

type Pending = { readonly kind: 'fail'; readonly status: number; readonly options: FailOptions } | Misbehaviour;

const JSON_TYPE = 'application/json; charset=utf-8';

export async function startFakeServer<Entry>(dialect: Dialect<Entry>, token?: string): Promise<FakeServer<Entry>> {
  const secret = token ?? `${dialect.tokenPrefix}${randomBytes(12).toString('hex')}`;
  const incidents = new Map<string, Entry>();
  const requests: RecordedRequest[] = [];
  const unexpected: string[] = [];
  const pending: Pending[] = [];
  const route = new RegExp(`^${dialect.prefix.replaceAll('/', '\\/')}\\/([^/?#]+)$`, 'u');

  const server = createServer((req, res) => {
    const target = req.url ?? '';
    const match = req.method === 'GET' ? route.exec(target) : null;
    const id = match?.[1] === undefined ? undefined : safeDecode(match[1]);
    if (id === undefined) {
      unexpected.push(`${req.method} ${target}`);
      res.writeHead(501).end();
      return;
    }
    requests.push({ method: 'GET', path: target, id, authorization: req.headers.authorization, accept: req.headers.accept });
    const next = pending.shift();
    if (next !== undefined) {
      if (next.kind === 'fail') {
        const headers = {
          ...(next.options.retryAfterSeconds === undefined ? {} : { 'retry-after': String(next.options.retryAfterSeconds) }),
          ...dialect.failureHeaders?.(next.status, next.options),
        };
        sendJson(res, next.status, dialect.error(next.status, next.options), headers);
      } else {
        misbehave(req, res, next, incidents.has(id) ? dialect.render(id, incidents.get(id) as Entry) : { incident: { id } });
      }
      return;
    }
    const authorization = req.headers.authorization;
    if (authorization !== dialect.authorization(secret)) {
      sendJson(res, 401, dialect.error(401, { missingKey: authorization === undefined }));
      return;
    }
    const record = incidents.get(id);
    if (record === undefined) sendJson(res, 404, dialect.error(404, {}));
    else sendJson(res, 200, dialect.render(id, record));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));

  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    token: secret,
    incidents,
    requests,
    unexpected,
    failNext: (count, status, options = {}) => {
      for (let i = 0; i < count; i += 1) pending.push({ kind: 'fail', status, options });
    },
    misbehaveNext: (count, misbehaviour) => {
      for (let i = 0; i < count; i += 1) pending.push(misbehaviour);
    },
    stop: () => {
      server.closeAllConnections();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Readonly<Record<string, string>> = {}): void {
  res.writeHead(status, { 'content-type': JSON_TYPE, ...headers }).end(JSON.stringify(body));
}

function misbehave(req: IncomingMessage, res: ServerResponse, how: Misbehaviour, answer: unknown): void {
  res.on('error', () => undefined); // the client hangs up on purpose in most of these
  switch (how.kind) {
    case 'hang':
      return;
    case 'stall':
      res.writeHead(200, { 'content-type': JSON_TYPE }).write('{"incident":');
      return;
    case 'drip': {
      res.writeHead(200, { 'content-type': JSON_TYPE }).write(' ');
      const drip = setInterval(() => res.write(' '), how.everyMs);
      res.on('close', () => clearInterval(drip));
      return;
    }
    case 'redirect':
      res.writeHead(how.status ?? 302, { location: how.location }).end();
      return;
    case 'oversize': {
      const text = JSON.stringify(answer);
      // `{...,"padding":"xxx"}`: still valid JSON, so only the size can refuse it.
      const fill = Math.max(0, how.bytes - text.length - '"padding":"",'.length);
      const body = `${text.slice(0, -1)},"padding":"${'x'.repeat(fill)}"}`;
      res.writeHead(200, { 'content-type': JSON_TYPE, ...(how.chunked ? {} : { 'content-length': String(Buffer.byteLength(body)) }) });
      for (let i = 0; i < body.length && !res.destroyed; i += 65_536) res.write(body.slice(i, i + 65_536));
      res.end();
      return;
    }
    case 'raw':
      res.writeHead(how.status, { 'content-type': how.contentType ?? JSON_TYPE }).end(how.body);
      return;
    case 'reset':
      req.socket.destroy();
      return;
  }
}

function safeDecode(segment: string): string | undefined {
  try {
    return decodeURIComponent(segment);
  } catch {
    return undefined;
  }
}
