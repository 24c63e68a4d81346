/**
 * A local HTTP server on 127.0.0.1 that speaks Vault's HTTP API for every endpoint the vault
 * provider uses, with real semantics (see token_store.ts, leases.ts, acl.ts). Anything else is
 * answered 501 and recorded in `unexpected`, which tests assert empty (CONTRIBUTING.md #16).
 *
 * It can be sealed (503 everywhere, as Vault answers while sealed) and can go down (listener
 * closed, open connections destroyed: clients see ECONNREFUSED) and come back on the same port.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { AclStore } from './acl.js';
import { LeaseStore } from './leases.js';
import { sysRoutes } from './routes_sys.js';
import { tokenRoutes } from './routes_token.js';
import type { FakeVaultOptions, FakeVaultState, Route, RouteResult } from './state.js';
import { TokenStore } from './token_store.js';
import { newTokenId, VaultHttpError } from './values.js';

export type { FakeVaultOptions } from './state.js';

export interface FakeVault {
  readonly url: string;
  readonly port: number;
  readonly rootToken: string;
  readonly state: FakeVaultState;
  /** `METHOD /path` of every request no route knows. Tests assert it stays empty. */
  readonly unexpected: string[];
  /** X-Vault-Namespace of every request, in order (undefined when absent). */
  readonly namespaces: Array<string | undefined>;
  /** Requests per route name (e.g. `auth/token/revoke-accessor`), including refused ones. */
  count(route: string): number;
  counts(): Record<string, number>;
  /** Epoch ms (performance.timeOrigin-based) when each route was first handled since the last reset: when its effect applied. */
  firstHandledAt(): Record<string, number>;
  resetCounts(): void;
  /** Whether the token with this accessor still exists (not revoked, not expired). */
  tokenAlive(accessor: string): boolean;
  leaseAlive(leaseId: string): boolean;
  /** Changes the latency added before every answer (FakeVaultOptions.latencyMs) from the next request on. */
  setLatency(ms: number): void;
  seal(): void;
  unseal(): void;
  goDown(): Promise<void>;
  comeBack(): Promise<void>;
  stop(): Promise<void>;
}

const ROUTES: readonly Route[] = [...tokenRoutes, ...sysRoutes];
const MAX_BODY_BYTES = 1024 * 1024;

export async function startFakeVault(options: FakeVaultOptions = {}): Promise<FakeVault> {
  const now = options.now ?? Date.now;
  const leases = new LeaseStore(now);
  const tokens = new TokenStore(now, (token) => leases.revokeByToken(token.id));
  const state: FakeVaultState = { now, tokens, leases, acl: new AclStore(), roles: new Map(), options };
  const rootToken = options.rootToken ?? newTokenId();
  tokens.create({ id: rootToken, policies: ['root'], parentId: null, path: 'auth/token/root', ttlSeconds: 0 });

  const unexpected: string[] = [];
  const namespaces: Array<string | undefined> = [];
  let counts = new Map<string, number>();
  let firstHandled = new Map<string, number>();
  let sealed = false;
  let latencyMs = options.latencyMs ?? 0;

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const raw = await readBody(req);
    if (latencyMs > 0) await new Promise((r) => setTimeout(r, latencyMs));
    const url = new URL(req.url ?? '/', 'http://fake');
    let method = req.method ?? 'GET';
    if (method === 'GET' && url.searchParams.get('list') === 'true') method = 'LIST';
    namespaces.push(headerValue(req, 'x-vault-namespace'));
    const path = url.pathname.startsWith('/v1/') ? url.pathname.slice(4) : null;
    const found = path === null ? undefined : findRoute(method, path);
    if (!found || path === null) {
      unexpected.push(`${method} ${url.pathname}`);
      return send(res, { status: 501, body: { errors: [`fake vault: no route for ${method} ${url.pathname}`] } });
    }
    const { route, params } = found;
    counts.set(route.name, (counts.get(route.name) ?? 0) + 1);
    if (sealed) {
      if (route.name === 'sys/health') return send(res, { status: 503, body: { initialized: true, sealed: true, standby: true } });
      return send(res, { status: 503, body: { errors: ['Vault is sealed'] } });
    }
    let body: Record<string, unknown> = {};
    if (raw.length > 0) {
      try {
        body = JSON.parse(raw) as Record<string, unknown>;
      } catch {
        return send(res, { status: 400, body: { errors: ['failed to parse JSON input'] } });
      }
    }
    const tokenId = headerValue(req, 'x-vault-token');
    const token = tokenId === undefined ? undefined : tokens.byId(tokenId);
    if (route.capabilities !== null) {
      if (!token || !state.acl.allows(token.policies, path, route.capabilities)) {
        return send(res, { status: 403, body: { errors: ['permission denied'] } });
      }
    }
    const lastUse = token !== undefined && route.capabilities !== null && tokens.use(token);
    let result: RouteResult;
    try {
      result = route.handle({ state, path, params, body, token });
    } catch (err) {
      result =
        err instanceof VaultHttpError
          ? { status: err.status, body: { errors: [err.message] } }
          : { status: 500, body: { errors: ['1 error occurred: internal error'] } };
    }
    if (lastUse && token) tokens.revokeTree(token.id);
    if (!firstHandled.has(route.name)) firstHandled.set(route.name, performance.timeOrigin + performance.now());
    send(res, result);
  };

  const sockets = new Set<Socket>();
  const server: Server = createServer((req, res) => {
    handle(req, res).catch(() => send(res, { status: 500, body: { errors: ['internal error'] } }));
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  await listen(server, 0);
  const port = (server.address() as AddressInfo).port;
  let up = true;

  const goDown = async (): Promise<void> => {
    if (!up) return;
    up = false;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const socket of sockets) socket.destroy();
    await closed;
  };

  return {
    url: `http://127.0.0.1:${port}`,
    port,
    rootToken,
    state,
    unexpected,
    namespaces,
    count: (route) => counts.get(route) ?? 0,
    counts: () => Object.fromEntries(counts),
    firstHandledAt: () => Object.fromEntries(firstHandled),
    resetCounts: () => {
      counts = new Map();
      firstHandled = new Map();
    },
    tokenAlive: (accessor) => tokens.byAccessor(accessor) !== undefined,
    leaseAlive: (id) => leases.lookup(id) !== undefined,
    seal: () => {
      sealed = true;
    },
    unseal: () => {
      sealed = false;
    },
    setLatency: (ms) => {
      latencyMs = ms;
    },
    goDown,
    async comeBack() {
      if (up) return;
      await listen(server, port);
      up = true;
    },
    stop: goDown,
  };
}

function findRoute(method: string, path: string): { route: Route; params: Record<string, string> } | undefined {
  for (const route of ROUTES) {
    if (!route.methods.includes(method)) continue;
    const match = route.pattern.exec(path);
    if (match) return { route, params: { ...match.groups } };
  }
  return undefined;
}

function headerValue(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return typeof value === 'string' && value.length > 0 ? value : undefined;
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) req.destroy(new Error('body too large'));
      else chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function send(res: ServerResponse, result: RouteResult): void {
  if (result.status === 204 || result.body === undefined) {
    res.writeHead(result.status === 200 ? 204 : result.status).end();
    return;
  }
  const text = JSON.stringify(result.body);
  res.writeHead(result.status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) }).end(text);
}

function listen(server: Server, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
}
