/**
 * The fake OpenID Provider's authorization endpoint (idp.ts serves the rest): RFC 6749 §4.1.1–
 * §4.1.2 with OpenID Connect Core 1.0 §3.1.2, PKCE with S256 only (RFC 7636 §4.3, §4.4.1) and the
 * `iss` authorization response parameter (RFC 9207 §2). A valid GET is answered with a sign-in
 * page — plain HTML without any JavaScript: a "Username" field and a "Sign in" button — and its
 * POST redirects back with a single-use code bound to everything the token endpoint checks.
 *
 * An unknown client_id or a redirect_uri that is not registered is answered with a 400 page and
 * never redirected (RFC 6749 §4.1.2.1, §10.15: an open redirector otherwise). Every other error
 * goes back to the client's redirect_uri as `error`, `error_description`, `state` and `iss`.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';

export interface AuthorizeConfig {
  readonly issuer: string;
  readonly clientId: string;
  readonly redirectUris: readonly string[];
  readonly users: Readonly<Record<string, { readonly roles: readonly string[] }>>;
  /** Milliseconds since the epoch. */
  readonly now: () => number;
}

/** What an authorization code stands for; the token endpoint checks each binding. */
export interface IssuedCode {
  readonly clientId: string;
  readonly redirectUri: string;
  readonly codeChallenge: string;
  readonly nonce: string | undefined;
  readonly username: string;
  readonly scope: string;
  /** When the user signed in, in seconds (the ID token's auth_time). */
  readonly authTime: number;
  /** Milliseconds since the epoch. */
  readonly expiresAt: number;
  used: boolean;
}

interface PendingRequest {
  readonly clientId: string;
  readonly redirectUri: string;
  readonly state: string;
  readonly scope: string;
  readonly codeChallenge: string;
  readonly nonce: string | undefined;
  readonly expiresAt: number;
}

/** RFC 6749 §4.1.2 recommends at most 10 minutes; a short life keeps a leaked code nearly useless. */
export const CODE_TTL_MS = 60_000;
const PENDING_TTL_MS = 10 * 60_000;
const MAX_BODY_BYTES = 64 * 1024;
/** RFC 7636 §4.2: BASE64URL(SHA256(verifier)) is 43 characters; §4.1 allows up to 128 in the ABNF. */
const CODE_CHALLENGE = /^[A-Za-z0-9_-]{43,128}$/u;

/** Answers GET (the request, checked) and POST (the sign-in form) on /authorize. */
export function createAuthorizationEndpoint(config: AuthorizeConfig, codes: Map<string, IssuedCode>) {
  const pending = new Map<string, PendingRequest>();

  const show = (url: URL, res: ServerResponse): void => {
    const q = url.searchParams;
    // Client and redirect URI first: until both are known good, nothing may be redirected.
    const clientId = q.getAll('client_id');
    if (clientId.length !== 1 || clientId[0] !== config.clientId) {
      return sendHtml(res, 400, errorPage(clientId.length === 0 ? 'The request names no client_id.' : 'The client_id is not registered.'));
    }
    const redirectUri = q.getAll('redirect_uri');
    if (redirectUri.length !== 1 || !config.redirectUris.includes(redirectUri[0] ?? '')) {
      return sendHtml(res, 400, errorPage('The redirect_uri is missing or not registered for this client.'));
    }
    const back = redirectUri[0] ?? '';
    const stateValues = q.getAll('state');
    const state = stateValues.length === 1 ? param(q, 'state') : undefined;
    const refuse = (error: string, description: string) =>
      redirect(res, back, { error, error_description: description, state }, config.issuer);

    const repeated = repeatedParam(q);
    if (repeated !== undefined) return refuse('invalid_request', `the ${repeated} parameter is repeated`);
    if (param(q, 'request') !== undefined) return refuse('request_not_supported', 'request objects are not supported');
    if (param(q, 'request_uri') !== undefined) return refuse('request_uri_not_supported', 'request_uri is not supported');
    const responseType = param(q, 'response_type');
    if (responseType === undefined) return refuse('invalid_request', 'response_type is required');
    if (responseType !== 'code') return refuse('unsupported_response_type', 'only response_type=code is supported');
    const responseMode = param(q, 'response_mode');
    if (responseMode !== undefined && responseMode !== 'query') return refuse('invalid_request', 'only response_mode=query is supported');
    const scope = param(q, 'scope');
    if (scope === undefined || !scope.split(' ').includes('openid')) return refuse('invalid_scope', 'scope must include openid');
    if (state === undefined) return refuse('invalid_request', 'state is required');
    const codeChallenge = param(q, 'code_challenge');
    if (codeChallenge === undefined) return refuse('invalid_request', 'code challenge required');
    // An absent method means "plain" (RFC 7636 §4.3), which this provider does not support.
    if (param(q, 'code_challenge_method') !== 'S256') return refuse('invalid_request', 'transform algorithm not supported (use S256)');
    if (!CODE_CHALLENGE.test(codeChallenge)) return refuse('invalid_request', 'code_challenge is not 43 to 128 base64url characters');
    // OIDC Core §3.1.2.6: prompt=none with no session at the provider (there never is one here).
    if ((param(q, 'prompt') ?? '').split(' ').includes('none')) return refuse('login_required', 'the user must sign in');

    const requestId = randomToken();
    pending.set(requestId, {
      clientId: config.clientId,
      redirectUri: back,
      state,
      scope: [...new Set(scope.split(' ').filter((s) => s !== ''))].join(' '),
      codeChallenge,
      nonce: param(q, 'nonce'),
      expiresAt: config.now() + PENDING_TTL_MS,
    });
    sendHtml(res, 200, signInPage({ requestId, clientId: config.clientId }));
  };

  const signIn = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const form = await readForm(req);
    if (form === null) return sendHtml(res, 400, errorPage('The sign-in form must be sent as application/x-www-form-urlencoded.'));
    const requestId = param(form, 'request_id') ?? '';
    const request = pending.get(requestId);
    if (request === undefined || request.expiresAt <= config.now()) {
      pending.delete(requestId);
      return sendHtml(res, 400, errorPage('This sign-in request is unknown or has expired. Start again from the application.'));
    }
    const username = param(form, 'username') ?? '';
    if (!Object.hasOwn(config.users, username)) {
      // 200, not 401: a 401 must carry a WWW-Authenticate challenge (RFC 9110 §15.5.2), and a form is none.
      const error = username === '' ? 'Enter your username.' : `There is no user named ${username}.`;
      return sendHtml(res, 200, signInPage({ requestId, clientId: request.clientId, username, error }));
    }
    pending.delete(requestId);
    const code = randomToken();
    const now = config.now();
    codes.set(code, {
      clientId: request.clientId,
      redirectUri: request.redirectUri,
      codeChallenge: request.codeChallenge,
      nonce: request.nonce,
      username,
      scope: request.scope,
      authTime: Math.floor(now / 1000),
      expiresAt: now + CODE_TTL_MS,
      used: false,
    });
    redirect(res, request.redirectUri, { code, state: request.state }, config.issuer);
  };

  return { show, signIn };
}

/** 32 random bytes, base64url: codes and request ids nobody can guess. */
export const randomToken = (): string => randomBytes(32).toString('base64url');

/** A parameter's value; one sent empty counts as absent (RFC 6749 §3.1, §3.2). */
export function param(params: URLSearchParams, name: string): string | undefined {
  const value = params.get(name);
  return value === null || value === '' ? undefined : value;
}

/** The first parameter sent more than once: "MUST NOT be included more than once" (RFC 6749 §3.1, §3.2). */
export function repeatedParam(params: URLSearchParams): string | undefined {
  return [...new Set(params.keys())].find((name) => params.getAll(name).length > 1);
}

/** The body as form parameters, or null when it is not application/x-www-form-urlencoded. */
export async function readForm(req: IncomingMessage): Promise<URLSearchParams | null> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) {
      req.destroy();
      return null;
    }
    chunks.push(chunk);
  }
  const mediaType = (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase();
  return mediaType === 'application/x-www-form-urlencoded' ? new URLSearchParams(Buffer.concat(chunks).toString('utf8')) : null;
}

/** A 302 to the client's redirect URI, its own query kept (RFC 6749 §3.1.2), with `iss` (RFC 9207 §2). */
function redirect(res: ServerResponse, to: string, params: Record<string, string | undefined>, issuer: string): void {
  const url = new URL(to);
  for (const [name, value] of Object.entries({ ...params, iss: issuer })) if (value !== undefined) url.searchParams.append(name, value);
  res.writeHead(302, { location: url.href, 'cache-control': 'no-store' }).end();
}

const STYLE =
  'body{font-family:system-ui,sans-serif;max-width:24rem;margin:4rem auto;padding:0 1rem;color:#1a1a1a}' +
  'label,input,button{display:block;font:inherit}input{box-sizing:border-box;width:100%;margin:.25rem 0 1rem;padding:.4rem}' +
  'button{padding:.4rem 1.2rem}.error{color:#a40000}';
/** The page runs no script at all; its one inline style is allowed by hash, nothing else loads. */
const CSP = `default-src 'none'; style-src 'sha256-${createHash('sha256').update(STYLE).digest('base64')}'; frame-ancestors 'none'; base-uri 'none'`;

function page(title: string, body: string): string {
  return [
    '<!doctype html>',
    '<html lang="en">',
    '<head>',
    '<meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    `<title>${title}</title>`,
    `<style>${STYLE}</style>`,
    '</head>',
    '<body>',
    '<main>',
    body,
    '</main>',
    '</body>',
    '</html>',
    '',
  ].join('\n');
}

function signInPage(p: { requestId: string; clientId: string; username?: string; error?: string }): string {
  const error = p.error === undefined ? '' : `<p class="error" id="sign-in-error" role="alert">${escapeHtml(p.error)}</p>\n`;
  const described = p.error === undefined ? '' : ' aria-invalid="true" aria-describedby="sign-in-error"';
  return page(
    'Sign in · Fake OpenID Provider',
    `<h1>Sign in</h1>
<p>to continue to <strong>${escapeHtml(p.clientId)}</strong></p>
${error}<form method="post" action="/authorize">
<input type="hidden" name="request_id" value="${escapeHtml(p.requestId)}">
<label for="username">Username</label>
<input id="username" name="username" type="text" autocomplete="username" required value="${escapeHtml(p.username ?? '')}"${described}>
<button type="submit">Sign in</button>
</form>`,
  );
}

function errorPage(message: string): string {
  return page('Sign-in error · Fake OpenID Provider', `<h1>Sign-in error</h1>\n<p>${escapeHtml(message)}</p>`);
}

function sendHtml(res: ServerResponse, status: number, html: string): void {
  res
    .writeHead(status, {
      'content-type': 'text/html; charset=utf-8',
      'content-length': Buffer.byteLength(html),
      'cache-control': 'no-store',
      'content-security-policy': CSP,
      'x-frame-options': 'DENY',
      'referrer-policy': 'no-referrer',
    })
    .end(html);
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/gu, (c) => `&#${c.charCodeAt(0)};`);
}
