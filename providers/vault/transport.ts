/**
 * The HTTP transport under node-vault, through its `request-promise` option: node-vault still
 * builds every request (URL, X-Vault-Token, X-Vault-Namespace) and judges every answer (its
 * ApiResponseError for any status but 200/204); this only moves bytes, on node:http(s) with the
 * provider's keep-alive agents.
 *
 * Why not node-vault's default (axios with follow-redirects):
 * - redirects: axios follows up to 5 and re-sends the custom X-Vault-Token header to wherever a
 *   `Location` points. Here a 3xx is an answer like any other non-2xx (node-vault rejects it),
 *   so the broker's token only ever goes to the configured `address`;
 * - time: one deadline covers connect, headers and body (axios's timeout is per socket
 *   inactivity, so a slow drip could hold a call open indefinitely);
 * - size: answers are capped while they stream;
 * - cost: axios's per-request config merging and redirect wrapper were the largest share of the
 *   broker's CPU per Vault call, which a close of 1000 grants pays ~1500 times on the same event
 *   loop that serves grant requests (docs/performance.md, S5).
 *
 * Failures reject with an Error whose `code` is Node's (ECONNREFUSED, ECONNRESET, TLS certificate
 * codes) or ETIMEDOUT / ERESPONSETOOLARGE; errors.ts classifies by that code. Nothing here holds
 * or prints a header.
 */
import { request as httpRequest, type Agent as HttpAgent, type IncomingMessage } from 'node:http';
import { request as httpsRequest, type Agent as HttpsAgent } from 'node:https';
import { readCappedBody, type BodyReadError } from '../../src/sdk.js';

/** What node-vault passes per request (its `rp(options)` call), as this provider uses it. */
interface NodeVaultRequest {
  readonly method: string;
  readonly uri: string;
  readonly headers?: Readonly<Record<string, string>>;
  /** The body to send as JSON, when it is an object (node-vault's defaults set `json: true` otherwise). */
  readonly json?: unknown;
}

/** The answer shape node-vault's handleVaultResponse reads. */
export interface NodeVaultResponse {
  readonly statusCode: number;
  readonly body: unknown;
  readonly request: { readonly path: string };
}

export interface TransportOptions {
  readonly httpAgent: HttpAgent;
  readonly httpsAgent: HttpsAgent;
  /** One deadline for connect, headers and body. */
  readonly timeoutMs: number;
  /** Largest answer accepted; Vault's answers to this provider are a few KiB. */
  readonly maxResponseBytes: number;
}

/** The object node-vault takes as `request-promise`: it calls `.defaults(rpDefaults)` once. */
export interface RequestPromiseLike {
  defaults(defaults: unknown): (options: NodeVaultRequest) => Promise<NodeVaultResponse>;
}

class TransportError extends Error {
  override readonly name = 'TransportError';
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export function vaultTransport(options: TransportOptions): RequestPromiseLike {
  // node-vault's defaults (json, full response, no throwing on status, strictSSL) describe what
  // this transport always does; TLS verification lives in the https agent and cannot be turned off.
  return { defaults: () => (req) => send(req, options) };
}

function send(req: NodeVaultRequest, options: TransportOptions): Promise<NodeVaultResponse> {
  const target = new URL(req.uri);
  const https = target.protocol === 'https:';
  const body = typeof req.json === 'object' && req.json !== null ? Buffer.from(JSON.stringify(req.json), 'utf8') : undefined;
  const headers: Record<string, string | number> = { ...req.headers, accept: 'application/json' };
  if (body !== undefined) {
    headers['content-type'] = 'application/json';
    headers['content-length'] = body.length;
  }
  return new Promise<NodeVaultResponse>((resolve, reject) => {
    let settled = false;
    const fail = (code: string, message: string): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      request.destroy();
      reject(new TransportError(code, message));
    };
    const onResponse = (res: IncomingMessage): void => {
      readCappedBody(res, options.maxResponseBytes).then(
        (text) => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          resolve({ statusCode: res.statusCode ?? 0, body: parseBody(text), request: { path: target.pathname } });
        },
        (err: BodyReadError) => fail(err.reason === 'too_large' ? 'ERESPONSETOOLARGE' : (err.code ?? 'ECONNRESET'), err.message),
      );
    };
    const request = https
      ? httpsRequest(target, { method: req.method, headers, agent: options.httpsAgent }, onResponse)
      : httpRequest(target, { method: req.method, headers, agent: options.httpAgent }, onResponse);
    const timer = setTimeout(() => fail('ETIMEDOUT', `no complete answer within ${options.timeoutMs} ms`), options.timeoutMs);
    request.on('error', (err: NodeJS.ErrnoException) => fail(typeof err.code === 'string' ? err.code : 'UNKNOWN', 'request failed'));
    request.end(body);
  });
}

/** JSON when it parses, as node-vault expects; an empty answer (204) or non-JSON text is kept as text. */
function parseBody(text: string): unknown {
  if (text === '') return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}
