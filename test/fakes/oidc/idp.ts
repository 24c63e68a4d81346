/**
 * A local OpenID Provider on 127.0.0.1:0 for the console's sign-in: the authorization-code flow
 * for one public client (no secret, token_endpoint_auth_method none) with PKCE S256, as OpenID
 * Connect Core 1.0 §3.1, OpenID Connect Discovery 1.0 §3–4, RFC 6749 §4.1 and §5, RFC 7636 and
 * RFC 9207 (`iss` in the authorization response) describe it. authorize.ts holds the authorization
 * endpoint and its sign-in page; this file the server, discovery, the JWKS and the token endpoint.
 * A browser drives it from another origin, so discovery, JWKS and token answer CORS (Fetch
 * standard §3.2) for the configured origins. Python's authlib checks it (authlib_check.py).
 *
 * Tokens are ES256 JWTs signed with a key made at start, named by its RFC 7638 thumbprint. Two
 * deliberate departures: discovery lists ES256 alone, where Discovery §3 says RS256 MUST be
 * included, because the broker pins its operator algorithms (config `algorithms: [ES256]`); and the
 * access token is typed `JWT`, not RFC 9068's `at+jwt`, because the broker accepts only JWT/JOSE
 * (src/identity/token_header.ts isAcceptedTyp). Its claims are RFC 9068 §2.2's plus the roles; the ID
 * token carries the roles too, as the console can hand the broker either token (its `token` setting).
 *
 * Any request to a path or method without a route answers 501 and is recorded in `unexpected`,
 * which tests assert empty (CONTRIBUTING.md #16). Every token request is recorded in `tokenRequests`.
 */
import { createHash, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, type JWK, SignJWT } from 'jose';
import { createAuthorizationEndpoint, type IssuedCode, param, readForm, repeatedParam } from './authorize.js';

export interface FakeIdpOptions {
  readonly clientId: string;
  /** Compared exactly, as OIDC Core §3.1.2.1 requires (no prefix or pattern matching). */
  readonly redirectUris: readonly string[];
  /** The access token's `aud`: the broker's operator audience. */
  readonly accessTokenAudience: string;
  /** Claim that carries the roles in both tokens; default `roles`. */
  readonly rolesClaim?: string;
  /** Who can sign in (by username, which becomes `sub`) and their roles. */
  readonly users: Readonly<Record<string, { readonly roles: readonly string[] }>>;
  /** Origins allowed to read discovery, JWKS and token answers; undefined allows any (`*`). */
  readonly allowedOrigins?: readonly string[];
  /** Milliseconds since the epoch (codes expire after 60 s, tokens after 600 s); default Date.now. */
  readonly now?: () => number;
}

export interface TokenRequest {
  readonly grantType: string | undefined;
  readonly clientId: string | undefined;
  readonly ok: boolean;
  /** The RFC 6749 §5.2 error code when not ok. */
  readonly error?: string;
}

export interface FakeIdp {
  /** The issuer identifier, e.g. http://127.0.0.1:PORT (no trailing slash). */
  readonly url: string;
  readonly tokenRequests: TokenRequest[];
  /** `METHOD /path` of every request no route knows. Tests assert it stays empty. */
  readonly unexpected: string[];
  close(): Promise<void>;
}

const TOKEN_TTL_SECONDS = 600;
/** RFC 7636 §4.1: code-verifier = 43*128unreserved. */
const CODE_VERIFIER = /^[A-Za-z0-9._~-]{43,128}$/u;
const CORS_PATHS: ReadonlySet<string> = new Set(['/.well-known/openid-configuration', '/jwks', '/token']);
/** Claims the fake sets itself, which the roles claim must not overwrite. */
const OWN_CLAIMS: ReadonlySet<string> = new Set('iss sub aud exp nbf iat jti azp scope client_id auth_time nonce at_hash'.split(' '));

type TokenOutcome = { readonly status: number; readonly body: Record<string, unknown>; readonly headers?: Record<string, string> };

export async function startFakeIdp(options: FakeIdpOptions): Promise<FakeIdp> {
  const rolesClaim = options.rolesClaim ?? 'roles';
  if (OWN_CLAIMS.has(rolesClaim)) throw new Error(`rolesClaim must not be a claim the provider sets itself, got ${rolesClaim}`);
  const now = options.now ?? Date.now;
  const { privateKey, publicKey } = await generateKeyPair('ES256');
  const publicJwk = await exportJWK(publicKey);
  const kid = await calculateJwkThumbprint(publicJwk);
  const jwks = { keys: [{ ...publicJwk, kid, alg: 'ES256', use: 'sig' } satisfies JWK] };

  const tokenRequests: TokenRequest[] = [];
  const unexpected: string[] = [];
  const codes = new Map<string, IssuedCode>();
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const authorize = createAuthorizationEndpoint({ issuer, ...options, now }, codes);

  const discovery = {
    issuer,
    authorization_endpoint: `${issuer}/authorize`,
    token_endpoint: `${issuer}/token`,
    jwks_uri: `${issuer}/jwks`,
    response_types_supported: ['code'],
    response_modes_supported: ['query'],
    grant_types_supported: ['authorization_code'],
    code_challenge_methods_supported: ['S256'],
    token_endpoint_auth_methods_supported: ['none'],
    id_token_signing_alg_values_supported: ['ES256'],
    subject_types_supported: ['public'],
    scopes_supported: ['openid', 'profile', 'email'],
    authorization_response_iss_parameter_supported: true,
  };

  const sign = (claims: Record<string, unknown>): Promise<string> =>
    new SignJWT(claims).setProtectedHeader({ alg: 'ES256', kid, typ: 'JWT' }).sign(privateKey);

  /** RFC 6749 §4.1.3–4.1.4 with RFC 7636 §4.5–4.6; errors as §5.2 describes them. */
  const exchange = async (req: IncomingMessage, form: URLSearchParams | null): Promise<TokenOutcome> => {
    const refuse = (error: string, description: string, status = 400): TokenOutcome => ({
      status,
      body: { error, error_description: description },
      // §5.2: a client that tried the Authorization header gets a 401 with a challenge.
      ...(status === 401 && req.headers.authorization !== undefined ? { headers: { 'www-authenticate': 'Basic realm="fake-idp"' } } : {}),
    });
    if (form === null) return refuse('invalid_request', 'the body must be application/x-www-form-urlencoded');
    const repeated = repeatedParam(form);
    if (repeated !== undefined) return refuse('invalid_request', `the ${repeated} parameter is repeated`);
    const grantType = param(form, 'grant_type');
    if (grantType === undefined) return refuse('invalid_request', 'grant_type is required');
    if (grantType !== 'authorization_code') return refuse('unsupported_grant_type', 'only authorization_code is supported');
    const clientId = param(form, 'client_id');
    if (req.headers.authorization !== undefined || param(form, 'client_secret') !== undefined) {
      return refuse('invalid_client', 'this client is public: it authenticates with none (its client_id alone)', 401);
    }
    if (clientId !== options.clientId)
      return refuse('invalid_client', clientId === undefined ? 'client_id is required' : 'unknown client', 401);
    const code = param(form, 'code');
    const redirectUri = param(form, 'redirect_uri');
    const verifier = param(form, 'code_verifier');
    if (code === undefined) return refuse('invalid_request', 'code is required');
    if (redirectUri === undefined) return refuse('invalid_request', 'redirect_uri is required');
    if (verifier === undefined) return refuse('invalid_request', 'code_verifier is required');
    if (!CODE_VERIFIER.test(verifier)) return refuse('invalid_request', 'code_verifier is not 43 to 128 unreserved characters');

    // A refused attempt does not use the code up, as in node-oidc-provider; only a success does.
    const issued = codes.get(code);
    if (issued === undefined) return refuse('invalid_grant', 'unknown authorization code');
    if (issued.used) return refuse('invalid_grant', 'authorization code already used');
    if (issued.expiresAt <= now()) return refuse('invalid_grant', 'authorization code expired');
    if (issued.clientId !== clientId) return refuse('invalid_grant', 'authorization code was issued to another client');
    if (issued.redirectUri !== redirectUri) return refuse('invalid_grant', 'redirect_uri does not match the authorization request');
    if (createHash('sha256').update(verifier).digest('base64url') !== issued.codeChallenge) {
      return refuse('invalid_grant', 'PKCE verification failed');
    }
    const user = Object.hasOwn(options.users, issued.username) ? options.users[issued.username] : undefined;
    if (user === undefined) return refuse('invalid_grant', 'the user is gone');
    issued.used = true;

    const iat = Math.floor(now() / 1000);
    const common = { iss: issuer, sub: issued.username, azp: clientId, iat, exp: iat + TOKEN_TTL_SECONDS, auth_time: issued.authTime };
    const roles = { [rolesClaim]: [...user.roles] };
    const accessToken = await sign({
      ...common,
      aud: options.accessTokenAudience,
      client_id: clientId,
      scope: issued.scope,
      jti: randomUUID(),
      ...roles,
    });
    // at_hash (OIDC Core §3.1.3.6): the left half of SHA-256 of the access token, base64url.
    const atHash = createHash('sha256').update(accessToken).digest().subarray(0, 16).toString('base64url');
    const idToken = await sign({
      ...common,
      aud: clientId,
      at_hash: atHash,
      ...(issued.nonce === undefined ? {} : { nonce: issued.nonce }),
      ...roles,
    });
    return {
      status: 200,
      body: { access_token: accessToken, token_type: 'Bearer', expires_in: TOKEN_TTL_SECONDS, id_token: idToken, scope: issued.scope },
    };
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const method = req.method ?? 'GET';
    const path = new URL(req.url ?? '/', issuer).pathname;
    const cors = CORS_PATHS.has(path) ? corsHeaders(req, options.allowedOrigins) : {};
    if (method === 'OPTIONS' && CORS_PATHS.has(path)) {
      // A preflight from an origin not allowed gets no CORS headers, so the browser refuses the request.
      if (cors['access-control-allow-origin'] === undefined) return void res.writeHead(403, cors).end();
      return void res
        .writeHead(204, {
          ...cors,
          'access-control-allow-methods': 'GET, POST',
          'access-control-allow-headers': 'content-type, accept, dpop, authorization',
          'access-control-max-age': '600',
        })
        .end();
    }
    if (method === 'GET' && path === '/.well-known/openid-configuration') return sendJson(res, 200, discovery, cors);
    if (method === 'GET' && path === '/jwks') return sendJson(res, 200, jwks, cors);
    if (method === 'GET' && path === '/authorize') return authorize.show(new URL(req.url ?? '/', issuer), res);
    if (method === 'POST' && path === '/authorize') return authorize.signIn(req, res);
    if (method === 'POST' && path === '/token') {
      const form = await readForm(req);
      const outcome = await exchange(req, form);
      const error = outcome.status === 200 ? undefined : String(outcome.body.error);
      tokenRequests.push({
        grantType: form === null ? undefined : param(form, 'grant_type'),
        clientId: form === null ? undefined : param(form, 'client_id'),
        ok: error === undefined,
        ...(error === undefined ? {} : { error }),
      });
      // RFC 6749 §5.1: token responses are never cached.
      return sendJson(res, outcome.status, outcome.body, { ...cors, ...outcome.headers, 'cache-control': 'no-store', pragma: 'no-cache' });
    }
    // Browsers ask for it on their own after showing the sign-in page; it is not the client's doing.
    if (method === 'GET' && path === '/favicon.ico') return void res.writeHead(404).end();
    unexpected.push(`${method} ${path}`);
    res.writeHead(501, { 'content-type': 'text/plain' }).end(`fake idp: no route for ${method} ${path}`);
  };

  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    handle(req, res).catch((err: unknown) => {
      unexpected.push(`${req.method} ${req.url}: ${String(err)}`);
      if (!res.headersSent) res.writeHead(500).end();
    });
  });

  return {
    url: issuer,
    tokenRequests,
    unexpected,
    close: () => {
      server.closeAllConnections();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** The request's Origin when allowed (`*` when any is), with Vary; nothing for a request without Origin. */
function corsHeaders(req: IncomingMessage, allowed: readonly string[] | undefined): Record<string, string> {
  const origin = req.headers.origin;
  if (origin === undefined) return {};
  if (allowed === undefined) return { 'access-control-allow-origin': '*' };
  return allowed.includes(origin) ? { 'access-control-allow-origin': origin, vary: 'Origin' } : { vary: 'Origin' };
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', ...headers, 'content-length': String(Buffer.byteLength(text)) }).end(text);
}
