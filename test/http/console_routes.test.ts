/**
 * The console's HTTP side (src/http/routes/console.ts, middleware/conditional_get.ts): its assets
 * under the strict CSP, the sign-in method, the development token, the session, and conditional
 * GETs with ETags. Each refusal follows the valid case.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { request as httpRequest } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestBroker, type TestBroker } from '../support/broker_harness.js';

/** A stand-in for the built console: an index.html and one hashed asset, as vite writes them. */
function fakeBuild(): string {
  const dir = mkdtempSync(join(tmpdir(), 'qm-console-assets-'));
  writeFileSync(
    join(dir, 'index.html'),
    '<!doctype html><title>console</title><script type="module" src="/console/assets/app-1.js"></script>',
  );
  mkdirSync(join(dir, 'assets'));
  writeFileSync(join(dir, 'assets', 'app-1.js'), 'export {};\n');
  return dir;
}

let assets: string;
let qm: TestBroker;
beforeAll(async () => {
  assets = fakeBuild();
  qm = await startTestBroker({
    console: { assetsDir: assets },
    operators: { permissions: { viewer: ['incidents.read', 'approvals.read'] } },
  });
});
afterAll(async () => qm?.stop());

describe('the console assets', () => {
  it('are served at /console/ under a CSP with no inline script and no framing', async () => {
    const page = await qm.request('GET', '/console/');
    expect(page.status).toBe(200);
    expect(page.text).toContain('<title>console</title>');
    const csp = page.headers.get('content-security-policy') ?? '';
    const directives = new Map(
      csp
        .split(';')
        .map((d) => d.trim().split(/\s+/u) as [string, ...string[]])
        .map(([k, ...v]) => [k, v]),
    );
    expect(directives.get('script-src')).toEqual(["'self'"]);
    expect(directives.get('default-src')).toEqual(["'none'"]);
    expect(directives.get('frame-ancestors')).toEqual(["'none'"]);
    expect(directives.get('connect-src')).toEqual(["'self'"]);
    expect(directives.get('require-trusted-types-for')).toEqual(["'script'"]);
    expect(csp).not.toMatch(/unsafe-inline|unsafe-eval|https?:/u);
    expect(page.headers.get('x-frame-options')).toBe('DENY');
    expect(page.headers.get('x-content-type-options')).toBe('nosniff');
    expect(page.headers.get('cache-control')).toBe('no-cache');
    const asset = await qm.request('GET', '/console/assets/app-1.js');
    expect(asset.status).toBe(200);
    expect(asset.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    expect(asset.headers.get('content-security-policy')).toBe(csp);
  });

  it('redirect /console to /console/, keeping the query (the IdP redirect back)', async () => {
    const res = await fetch(`${qm.url}/console?code=abc&state=xyz`, { redirect: 'manual' });
    expect(res.status).toBe(301);
    expect(res.headers.get('location')).toBe('/console/?code=abc&state=xyz');
  });

  it('answer 404 for a file that is not there, and serve no dotfiles', async () => {
    expect((await qm.request('GET', '/console/assets/app-1.js')).status).toBe(200);
    expect((await qm.request('GET', '/console/assets/app-2.js')).status).toBe(404);
    writeFileSync(join(assets, '.env'), 'SECRET=1');
    expect((await qm.request('GET', '/console/.env')).status).toBe(404);
  });

  it('answer 503 ERR_CONSOLE_NOT_BUILT when the build is missing, and 404 ERR_CONSOLE_OFF when it is off', async () => {
    const unbuilt = await startTestBroker({ console: { assetsDir: mkdtempSync(join(tmpdir(), 'qm-empty-')) } });
    const off = await startTestBroker({ console: { enabled: false, assetsDir: assets } });
    try {
      const missing = await unbuilt.request('GET', '/console/');
      expect([missing.status, missing.body.error.code]).toEqual([503, 'ERR_CONSOLE_NOT_BUILT']);
      expect(missing.text).not.toContain(tmpdir());
      const refused = await off.request('GET', '/console/');
      expect([refused.status, refused.body.error.code]).toEqual([404, 'ERR_CONSOLE_OFF']);
      const signIn = await off.request('GET', '/v1/console/sign-in');
      expect([signIn.status, signIn.body.error.code]).toEqual([404, 'ERR_CONSOLE_OFF']);
    } finally {
      await unbuilt.stop();
      await off.stop();
    }
  });
});

describe('signing in', () => {
  it('offers the development sign-in with the roles the config knows', async () => {
    const res = await qm.request('GET', '/v1/console/sign-in');
    expect(res.body).toEqual({ kind: 'development', roles: ['operator', 'viewer'] });
  });

  it('mints a development operator token the API accepts, with the roles asked for', async () => {
    const minted = await qm.request('POST', '/v1/console/dev-token', { body: { subject: 'dana@example.com', roles: ['viewer'] } });
    expect(minted.status).toBe(200);
    expect(minted.headers.get('cache-control')).toBe('no-store');
    expect(minted.headers.get('etag')).toBeNull();
    const session = await qm.request('GET', '/v1/session', { token: minted.body.token });
    expect(session.status).toBe(200);
    expect(session.body).toMatchObject({
      subject: 'dana@example.com',
      roles: ['viewer'],
      permissions: ['incidents.read', 'approvals.read'],
    });
    expect((await qm.request('GET', '/v1/incidents', { token: minted.body.token })).status).toBe(200);
    const close = await qm.request('POST', '/v1/incidents/INC-X/close', { token: minted.body.token });
    expect([close.status, close.body.error.code]).toEqual([403, 'ERR_FORBIDDEN']);
    // The token is not logged.
    expect(qm.logs.text()).not.toContain(minted.body.token);
  });

  it.each([
    ['a role the config does not know', { subject: 'dana@example.com', roles: ['admin'] }],
    ['no role', { subject: 'dana@example.com', roles: [] }],
    ['a subject with markup', { subject: '<b>dana</b>', roles: ['operator'] }],
    ['an unknown field', { subject: 'dana@example.com', roles: ['operator'], ttl: 99999 }],
  ])('refuses %s (400 ERR_VALIDATION)', async (_what, body) => {
    const valid = await qm.request('POST', '/v1/console/dev-token', { body: { subject: 'dana@example.com', roles: ['operator'] } });
    expect(valid.status).toBe(200);
    const res = await qm.request('POST', '/v1/console/dev-token', { body });
    expect([res.status, res.body.error.code]).toEqual([400, 'ERR_VALIDATION']);
  });

  it("mints for the broker's own loopback page only: another Host or Origin (DNS rebinding) is refused", async () => {
    const post = (headers: Record<string, string>) =>
      new Promise<number>((resolve, reject) => {
        const body = JSON.stringify({ subject: 'dana@example.com', roles: ['operator'] });
        const req = httpRequest(
          `${qm.url}/v1/console/dev-token`,
          { method: 'POST', headers: { 'content-type': 'application/json', ...headers } },
          (res) => {
            res.resume();
            resolve(res.statusCode ?? 0);
          },
        );
        req.on('error', reject);
        req.end(body);
      });
    const { host } = new URL(qm.url);
    expect(await post({ host, origin: qm.url })).toBe(200);
    expect(await post({ host })).toBe(200);
    expect(await post({ host: `localhost:${new URL(qm.url).port}` })).toBe(200);
    expect(await post({ host: `rebind.attacker.example:${new URL(qm.url).port}` })).toBe(403);
    expect(await post({ host, origin: 'http://rebind.attacker.example' })).toBe(403);
    expect(await post({ host, origin: 'null' })).toBe(403);
  });

  it('offers the IdP, and no development token, once console.oidc is set', async () => {
    const oidc = await startTestBroker({
      console: {
        assetsDir: assets,
        oidc: { issuer: 'https://idp.example.com', clientId: 'qm-console', authorizationParams: { audience: 'quartermaster/operators' } },
      },
    });
    try {
      const res = await oidc.request('GET', '/v1/console/sign-in');
      expect(res.body).toEqual({
        kind: 'oidc',
        issuer: 'https://idp.example.com',
        client_id: 'qm-console',
        scopes: ['openid'],
        token: 'access_token',
        authorization_params: { audience: 'quartermaster/operators' },
      });
      const page = await oidc.request('GET', '/console/');
      expect(page.headers.get('content-security-policy')).toContain("connect-src 'self' https://idp.example.com;");
      const dev = await oidc.request('POST', '/v1/console/dev-token', { body: { subject: 'dana@example.com', roles: ['operator'] } });
      expect([dev.status, dev.body.error.code]).toEqual([404, 'ERR_NOT_FOUND']);
    } finally {
      await oidc.stop();
    }
  });

  it('answers /v1/session only to a valid operator token', async () => {
    expect((await qm.request('GET', '/v1/session', { token: await qm.operatorToken() })).status).toBe(200);
    const none = await qm.request('GET', '/v1/session');
    expect([none.status, none.body.error.code]).toEqual([401, 'ERR_UNAUTHENTICATED']);
    const agent = await qm.request('GET', '/v1/session', { token: await qm.agentToken('spiffe://dev.local/agent/a') });
    expect(agent.status).toBe(401);
  });
});

describe('conditional GETs', () => {
  it('answer 304 without a body while nothing changed, and 200 with a new tag once it did', async () => {
    const token = await qm.operatorToken();
    const first = await qm.request('GET', '/v1/incidents?status=open', { token });
    const tag = first.headers.get('etag');
    expect(tag).toMatch(/^W\/"[A-Za-z0-9_-]{22}"$/u);
    expect(first.headers.get('cache-control')).toBe('private, no-cache');
    const again = await qm.request('GET', '/v1/incidents?status=open', { token, headers: { 'if-none-match': tag ?? '' } });
    expect([again.status, again.text]).toEqual([304, '']);
    expect(again.headers.get('etag')).toBe(tag);
    await qm.request('POST', '/v1/incidents', { token, body: { id: 'INC-ETAG', title: 'etag', severity: 'sev3' } });
    const changed = await qm.request('GET', '/v1/incidents?status=open', { token, headers: { 'if-none-match': tag ?? '' } });
    expect(changed.status).toBe(200);
    expect(changed.headers.get('etag')).not.toBe(tag);
    expect(changed.body.incidents.map((i: { id: string }) => i.id)).toContain('INC-ETAG');
  });

  it('never tag an answer marked no-store, nor a POST', async () => {
    const token = await qm.operatorToken();
    const session = await qm.request('GET', '/v1/session', { token });
    expect([session.status, session.headers.get('etag')]).toEqual([200, null]);
    const post = await qm.request('POST', '/v1/incidents', { token, body: { id: 'INC-ETAG-2', title: 'etag', severity: 'sev3' } });
    expect([post.status, post.headers.get('etag')]).toEqual([201, null]);
    const grant = await qm.request('POST', '/v1/grants', {
      token: await qm.agentToken('spiffe://dev.local/agent/etag'),
      body: { incident_id: 'INC-ETAG-2', profile: 'demo', purpose: 'etag' },
    });
    expect([grant.status, grant.headers.get('etag')]).toEqual([201, null]);
  });

  it('compare weakly, in a list, and answer HEAD alike', async () => {
    const token = await qm.operatorToken();
    const tag = (await qm.request('GET', '/v1/incidents/INC-ETAG', { token })).headers.get('etag') ?? '';
    const strong = tag.replace(/^W\//u, '');
    expect((await qm.request('GET', '/v1/incidents/INC-ETAG', { token, headers: { 'if-none-match': strong } })).status).toBe(304);
    expect((await qm.request('GET', '/v1/incidents/INC-ETAG', { token, headers: { 'if-none-match': `W/"other", ${tag}` } })).status).toBe(
      304,
    );
    expect((await qm.request('GET', '/v1/incidents/INC-ETAG', { token, headers: { 'if-none-match': '*' } })).status).toBe(304);
    const head = await fetch(`${qm.url}/v1/incidents/INC-ETAG`, {
      method: 'HEAD',
      headers: { authorization: `Bearer ${token}`, 'if-none-match': tag },
    });
    expect(head.status).toBe(304);
  });

  it('do not answer 304 to an error, nor for another tag', async () => {
    const token = await qm.operatorToken();
    const ok = await qm.request('GET', '/v1/incidents/INC-ETAG', { token });
    expect(ok.status).toBe(200);
    const other = await qm.request('GET', '/v1/incidents/INC-ETAG', { token, headers: { 'if-none-match': 'W/"something-else"' } });
    expect(other.status).toBe(200);
    const missing = await qm.request('GET', '/v1/incidents/INC-NONE', { token, headers: { 'if-none-match': '*' } });
    expect([missing.status, missing.headers.get('etag')]).toEqual([404, null]);
  });
});
