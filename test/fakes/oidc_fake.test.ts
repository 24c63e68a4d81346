/**
 * The fake OpenID Provider (test/fakes/oidc/) checked by a client we did not write — Debian's
 * python3-authlib runs the whole authorization-code flow with PKCE S256 and verifies both tokens —
 * and directly with fetch: the sign-in page, the token exchange and the refusals of RFC 6749
 * §4.1.2.1 and §5.2 and RFC 7636 §4.6, each after its valid counterpart, CORS for the console's
 * origin, and expiry of a code on an injected clock. A missing python3-authlib fails loudly.
 */
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { createLocalJWKSet, jwtVerify } from 'jose';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type FakeIdp, type FakeIdpOptions, startFakeIdp } from './oidc/idp.js';

const run = promisify(execFile);
const SCRIPT = fileURLToPath(new URL('./oidc/authlib_check.py', import.meta.url));
/** Debian's python3-authlib lives in the system interpreter's dist-packages, not in a pyenv or venv python. */
const PYTHON = '/usr/bin/python3';

const CONSOLE_ORIGIN = 'http://127.0.0.1:8787';
const REDIRECT_URI = `${CONSOLE_ORIGIN}/console/`;
const OTHER_REDIRECT_URI = `${CONSOLE_ORIGIN}/console/other`;
const CLIENT_ID = 'quartermaster-console';
const AUDIENCE = 'urn:quartermaster:operators';
const USER = 'alice@example.com';
const OPTIONS: FakeIdpOptions = {
  clientId: CLIENT_ID,
  redirectUris: [REDIRECT_URI, OTHER_REDIRECT_URI],
  accessTokenAudience: AUDIENCE,
  users: { [USER]: { roles: ['operator'] } },
  allowedOrigins: [CONSOLE_ORIGIN],
};

let idp: FakeIdp;
beforeEach(async () => {
  idp = await startFakeIdp(OPTIONS);
});
afterEach(async () => {
  expect(idp.unexpected).toEqual([]);
  await idp.close();
});

const pkce = () => {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
};

const authorizeParams = (challenge: string, overrides: Record<string, string | undefined> = {}) => {
  const params: Record<string, string | undefined> = {
    client_id: CLIENT_ID,
    redirect_uri: REDIRECT_URI,
    response_type: 'code',
    scope: 'openid profile',
    state: 'st-1',
    nonce: 'n-1',
    code_challenge: challenge,
    code_challenge_method: 'S256',
    ...overrides,
  };
  return new URLSearchParams(Object.entries(params).filter((e): e is [string, string] => e[1] !== undefined));
};

const getAuthorize = (params: URLSearchParams, fake = idp) => fetch(`${fake.url}/authorize?${params}`, { redirect: 'manual' });

const postForm = (url: string, form: Record<string, string>, headers: Record<string, string> = {}) =>
  fetch(url, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body: new URLSearchParams(form),
  });

const hiddenRequestId = (html: string): string => /<input type="hidden" name="request_id" value="([^"]+)">/u.exec(html)?.[1] ?? '';

/** The browser's part: the sign-in page, the form, and the redirect back (not followed). */
async function signIn(overrides: Record<string, string | undefined> = {}, fake = idp) {
  const { verifier, challenge } = pkce();
  const page = await getAuthorize(authorizeParams(challenge, overrides), fake);
  expect(page.status).toBe(200);
  const answer = await postForm(`${fake.url}/authorize`, { request_id: hiddenRequestId(await page.text()), username: USER });
  expect(answer.status).toBe(302);
  const location = new URL(answer.headers.get('location') ?? '');
  return { verifier, location, code: location.searchParams.get('code') ?? '' };
}

const redeem = (code: string, verifier: string, overrides: Record<string, string> = {}, fake = idp) =>
  postForm(`${fake.url}/token`, {
    grant_type: 'authorization_code',
    code,
    redirect_uri: REDIRECT_URI,
    client_id: CLIENT_ID,
    code_verifier: verifier,
    ...overrides,
  });

async function expectTokenError(response: Response, status: number, error: string) {
  expect(response.status).toBe(status);
  expect(response.headers.get('cache-control')).toBe('no-store');
  const body = (await response.json()) as Record<string, unknown>;
  expect(body).toEqual({ error, error_description: expect.any(String) });
}

it('passes a check driven by python3-authlib, an independent OIDC client', async () => {
  const probe = await run(PYTHON, ['-c', 'import authlib']).then(
    () => null,
    (err: { stderr?: string }) => err.stderr ?? String(err),
  );
  expect(probe, `python3-authlib is required (apt-get install -y python3-authlib): ${probe}`).toBeNull();
  const result = await run(PYTHON, [SCRIPT, idp.url, CLIENT_ID, REDIRECT_URI, USER], {
    env: { PATH: '/usr/bin:/bin', HOME: '/nonexistent' },
    timeout: 60_000,
  }).catch((err: { stdout?: string; stderr?: string }) => ({ stdout: err.stdout ?? '', stderr: err.stderr ?? String(err), failed: true }));
  expect(result, result.stderr).not.toHaveProperty('failed');
  const lines = result.stdout.trim().split('\n');
  const access = JSON.parse(lines.find((l) => l.startsWith('ACCESS '))?.slice('ACCESS '.length) ?? 'null') as Record<string, unknown>;
  expect(access).toMatchObject({ iss: idp.url, sub: USER, aud: AUDIENCE, azp: CLIENT_ID, client_id: CLIENT_ID, roles: ['operator'] });
  expect(access.scope).toBe('openid profile');
  expect(JSON.parse(lines.at(-1)?.replace(/^OK /u, '') ?? 'null')).toEqual({
    steps: [
      'discovery validated',
      'jwks holds public ES256 signing keys',
      'signed in; redirected with code, state and iss',
      'code redeemed with the verifier',
      'id_token verified: signature, iss, aud, azp, nonce, at_hash',
      'access token verified',
      'a used code refused with invalid_grant',
      'a wrong code_verifier refused with invalid_grant',
      'an unregistered redirect_uri refused with 400, not redirected',
    ],
  });
  expect(idp.tokenRequests).toEqual([
    { grantType: 'authorization_code', clientId: CLIENT_ID, ok: true },
    { grantType: 'authorization_code', clientId: CLIENT_ID, ok: false, error: 'invalid_grant' },
    { grantType: 'authorization_code', clientId: CLIENT_ID, ok: false, error: 'invalid_grant' },
  ]);
});

describe('discovery and keys', () => {
  it('publishes the metadata and the public JWKS, readable from the allowed origin only', async () => {
    const doc = await fetch(`${idp.url}/.well-known/openid-configuration`, { headers: { origin: CONSOLE_ORIGIN } });
    expect(doc.headers.get('access-control-allow-origin')).toBe(CONSOLE_ORIGIN);
    expect(await doc.json()).toMatchObject({
      issuer: idp.url,
      authorization_endpoint: `${idp.url}/authorize`,
      token_endpoint: `${idp.url}/token`,
      jwks_uri: `${idp.url}/jwks`,
      code_challenge_methods_supported: ['S256'],
      token_endpoint_auth_methods_supported: ['none'],
      id_token_signing_alg_values_supported: ['ES256'],
      authorization_response_iss_parameter_supported: true,
    });
    const jwks = (await (await fetch(`${idp.url}/jwks`)).json()) as { keys: Array<Record<string, unknown>> };
    expect(jwks.keys).toEqual([
      { kty: 'EC', crv: 'P-256', x: expect.any(String), y: expect.any(String), kid: expect.any(String), alg: 'ES256', use: 'sig' },
    ]);

    const preflight = (origin: string) =>
      fetch(`${idp.url}/token`, {
        method: 'OPTIONS',
        headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' },
      });
    const allowed = await preflight(CONSOLE_ORIGIN);
    expect(allowed.status).toBe(204);
    expect(allowed.headers.get('access-control-allow-origin')).toBe(CONSOLE_ORIGIN);
    expect(allowed.headers.get('access-control-allow-methods')).toBe('GET, POST');
    expect(allowed.headers.get('access-control-allow-headers')).toBe('content-type, accept, dpop, authorization');
    const refused = await preflight('http://evil.example');
    expect(refused.status).toBe(403);
    expect(refused.headers.get('access-control-allow-origin')).toBeNull();
    const foreign = await fetch(`${idp.url}/jwks`, { headers: { origin: 'http://evil.example' } });
    expect(foreign.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('answers any origin with * when no origins are configured', async () => {
    const scratch = await startFakeIdp({ clientId: CLIENT_ID, redirectUris: [REDIRECT_URI], accessTokenAudience: AUDIENCE, users: {} });
    try {
      const doc = await fetch(`${scratch.url}/.well-known/openid-configuration`, { headers: { origin: 'http://anywhere.example' } });
      expect(doc.headers.get('access-control-allow-origin')).toBe('*');
    } finally {
      await scratch.close();
    }
  });
});

describe('sign-in page', () => {
  it('shows a form without script, with a labelled Username field and a Sign in button', async () => {
    const page = await getAuthorize(authorizeParams(pkce().challenge));
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    const html = await page.text();
    expect(html).toMatch(/^<!doctype html>\n<html lang="en">/u);
    expect(html).toMatch(/<title>Sign in · Fake OpenID Provider<\/title>/u);
    expect(html).toContain('<form method="post" action="/authorize">');
    expect(html).toContain('<label for="username">Username</label>');
    expect(html).toContain('<input id="username" name="username" type="text" autocomplete="username" required value="">');
    expect(html).toContain('<button type="submit">Sign in</button>');
    expect(html).not.toMatch(/<script|\son\w+=/iu);
    expect(hiddenRequestId(html)).toMatch(/^[A-Za-z0-9_-]{43}$/u);
  });

  it('shows the form again with an error for an unknown user, and signs a known one in', async () => {
    const page = await getAuthorize(authorizeParams(pkce().challenge));
    const requestId = hiddenRequestId(await page.text());
    const unknown = await postForm(`${idp.url}/authorize`, { request_id: requestId, username: 'mallory@example.com' });
    expect(unknown.status).toBe(200);
    const html = await unknown.text();
    expect(html).toContain('<p class="error" id="sign-in-error" role="alert">There is no user named mallory@example.com.</p>');
    expect(html).toContain('aria-describedby="sign-in-error"');
    const known = await postForm(`${idp.url}/authorize`, { request_id: hiddenRequestId(html), username: USER });
    expect(known.status).toBe(302);
    const location = new URL(known.headers.get('location') ?? '');
    expect(`${location.origin}${location.pathname}`).toBe(REDIRECT_URI);
    expect(location.searchParams.get('code')).toMatch(/^[A-Za-z0-9_-]{43}$/u);
    expect(location.searchParams.get('state')).toBe('st-1');
    expect(location.searchParams.get('iss')).toBe(idp.url);
  });
});

describe('authorization request refusals', () => {
  it('answers an unknown client_id or an unregistered redirect_uri with a 400 page, never a redirect', async () => {
    const { challenge } = pkce();
    expect((await getAuthorize(authorizeParams(challenge))).status).toBe(200);
    for (const overrides of [
      { client_id: 'someone-else' },
      { client_id: undefined },
      { redirect_uri: 'https://attacker.example/console/' },
      { redirect_uri: `${REDIRECT_URI}x` },
      { redirect_uri: undefined },
    ]) {
      const refused = await getAuthorize(authorizeParams(challenge, overrides));
      expect(refused.status, JSON.stringify(overrides)).toBe(400);
      expect(refused.headers.get('location')).toBeNull();
      expect(await refused.text()).toContain('<h1>Sign-in error</h1>');
    }
  });

  it('sends other errors back to the redirect_uri with error, state and iss', async () => {
    const { challenge } = pkce();
    expect((await getAuthorize(authorizeParams(challenge))).status).toBe(200);
    const cases: Array<[Record<string, string | undefined>, string]> = [
      [{ code_challenge: undefined }, 'invalid_request'],
      [{ code_challenge_method: 'plain' }, 'invalid_request'],
      [{ code_challenge_method: undefined }, 'invalid_request'],
      [{ code_challenge: 'short' }, 'invalid_request'],
      [{ response_type: 'token' }, 'unsupported_response_type'],
      [{ scope: 'profile' }, 'invalid_scope'],
      [{ prompt: 'none' }, 'login_required'],
    ];
    for (const [overrides, error] of cases) {
      const refused = await getAuthorize(authorizeParams(challenge, overrides));
      expect(refused.status, JSON.stringify(overrides)).toBe(302);
      const location = new URL(refused.headers.get('location') ?? '');
      expect(`${location.origin}${location.pathname}`).toBe(REDIRECT_URI);
      expect(Object.fromEntries(location.searchParams)).toEqual({
        error,
        error_description: expect.any(String),
        state: 'st-1',
        iss: idp.url,
      });
    }
    const noState = new URL((await getAuthorize(authorizeParams(challenge, { state: undefined }))).headers.get('location') ?? '');
    expect(Object.fromEntries(noState.searchParams)).toEqual({
      error: 'invalid_request',
      error_description: 'state is required',
      iss: idp.url,
    });
  });
});

describe('token endpoint', () => {
  it('redeems a code for an access token and an ID token signed with the published key', async () => {
    const { verifier, code } = await signIn();
    const response = await redeem(code, verifier, {}, idp);
    expect(response.status).toBe(200);
    expect(response.headers.get('cache-control')).toBe('no-store');
    expect(response.headers.get('pragma')).toBe('no-cache');
    const body = (await response.json()) as Record<string, unknown>;
    expect(body).toEqual({
      access_token: expect.any(String),
      token_type: 'Bearer',
      expires_in: 600,
      id_token: expect.any(String),
      scope: 'openid profile',
    });
    const keys = createLocalJWKSet((await (await fetch(`${idp.url}/jwks`)).json()) as { keys: [] });
    const access = await jwtVerify(String(body.access_token), keys, {
      issuer: idp.url,
      audience: AUDIENCE,
      algorithms: ['ES256'],
      typ: 'JWT',
    });
    expect(access.payload).toMatchObject({ sub: USER, azp: CLIENT_ID, client_id: CLIENT_ID, scope: 'openid profile', roles: ['operator'] });
    expect(access.payload.exp).toBe((access.payload.iat ?? 0) + 600);
    expect(access.payload.jti).toEqual(expect.any(String));
    const id = await jwtVerify(String(body.id_token), keys, { issuer: idp.url, audience: CLIENT_ID, algorithms: ['ES256'] });
    expect(id.payload).toMatchObject({
      sub: USER,
      azp: CLIENT_ID,
      nonce: 'n-1',
      auth_time: expect.any(Number),
      at_hash: expect.any(String),
    });
    expect(idp.tokenRequests).toEqual([{ grantType: 'authorization_code', clientId: CLIENT_ID, ok: true }]);
  });

  it('refuses a reused code with invalid_grant', async () => {
    const { verifier, code } = await signIn();
    expect((await redeem(code, verifier)).status).toBe(200);
    await expectTokenError(await redeem(code, verifier), 400, 'invalid_grant');
  });

  it('refuses a wrong code_verifier, another registered redirect_uri or another client with the matching error; the code still redeems', async () => {
    const { verifier, code } = await signIn();
    await expectTokenError(await redeem(code, pkce().verifier), 400, 'invalid_grant');
    await expectTokenError(await redeem(code, verifier, { redirect_uri: OTHER_REDIRECT_URI }), 400, 'invalid_grant');
    await expectTokenError(await redeem(code, verifier, { client_id: 'someone-else' }), 401, 'invalid_client');
    await expectTokenError(await redeem(code, 'not a verifier'), 400, 'invalid_request');
    expect((await redeem(code, verifier)).status).toBe(200);
    expect(idp.tokenRequests.map((r) => r.error ?? 'ok')).toEqual([
      'invalid_grant',
      'invalid_grant',
      'invalid_client',
      'invalid_request',
      'ok',
    ]);
  });

  it('refuses a body that is not a form, another grant type and a client secret', async () => {
    const { verifier, code } = await signIn();
    const json = await fetch(`${idp.url}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ grant_type: 'authorization_code', code, code_verifier: verifier }),
    });
    await expectTokenError(json, 400, 'invalid_request');
    await expectTokenError(await redeem(code, verifier, { grant_type: 'client_credentials' }), 400, 'unsupported_grant_type');
    await expectTokenError(await redeem(code, verifier, { client_secret: 's3cret' }), 401, 'invalid_client');
    expect((await redeem(code, verifier)).status).toBe(200);
    expect(idp.tokenRequests[0]).toEqual({ grantType: undefined, clientId: undefined, ok: false, error: 'invalid_request' });
  });

  it('refuses a code once its 60 seconds have passed', async () => {
    const clock = { now: Date.UTC(2030, 0, 15, 12) };
    const timed = await startFakeIdp({ ...OPTIONS, now: () => clock.now });
    try {
      const first = await signIn({}, timed);
      clock.now += 59_999;
      expect((await redeem(first.code, first.verifier, {}, timed)).status).toBe(200);
      const second = await signIn({}, timed);
      clock.now += 60_000;
      await expectTokenError(await redeem(second.code, second.verifier, {}, timed), 400, 'invalid_grant');
      expect(timed.unexpected).toEqual([]);
    } finally {
      await timed.close();
    }
  });
});

it('answers a path it does not serve with 501 and records it', async () => {
  const scratch = await startFakeIdp(OPTIONS);
  try {
    expect((await fetch(`${scratch.url}/userinfo`)).status).toBe(501);
    expect((await fetch(`${scratch.url}/token`)).status).toBe(501);
    expect(scratch.unexpected).toEqual(['GET /userinfo', 'GET /token']);
  } finally {
    await scratch.close();
  }
});
