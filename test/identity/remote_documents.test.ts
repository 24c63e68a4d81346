/**
 * Fetching key and discovery documents (src/identity/bounded_fetch.ts, oidc_discovery.ts) against
 * the local key server (test/fakes): only a 200 is an answer, redirects are named and never
 * followed, the body cap holds to the byte, the deadline covers the whole answer, and a discovery
 * document must name exactly the configured issuer and an https (or loopback http) jwks_uri.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { fetchBounded, FetchError } from '../../src/identity/bounded_fetch.js';
import { createOidcKeySet, createSpiffeBundleKeySet } from '../../src/identity/key_sources.js';
import { createLogger } from '../../src/logging.js';
import { createLogCapture } from '../support/log_capture.js';
import { createSigner } from './token_factory.js';
import { discoverJwksUri, discoveryUrl } from '../../src/identity/oidc_discovery.js';
import { startJwksServer, type JwksServer } from '../fakes/jwks_server.js';

const LIMITS = { timeoutMs: 2000, maxBytes: 1024 };
let server: JwksServer;
beforeAll(async () => {
  server = await startJwksServer();
});
afterAll(() => server.close());
beforeEach(() => {
  server.hits.length = 0;
});

/** The FetchError a fetch was refused with; fails the test if it succeeded or threw something else. */
async function refused(call: Promise<unknown>): Promise<string> {
  const err = await call.then(
    () => new Error('expected a FetchError'),
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(FetchError);
  expect((err as FetchError).name).toBe('FetchError');
  return (err as FetchError).message;
}

describe('fetchBounded', () => {
  it('returns the body of a 200 answer as text', async () => {
    server.route('/doc', { json: { keys: [], note: 'caf\u00e9' } });
    expect(await fetchBounded(`${server.url}/doc`, LIMITS)).toBe('{"keys":[],"note":"caf\u00e9"}');
  });

  it.each([
    [201, 'answered HTTP 201: not 200'],
    [299, 'answered HTTP 299: not 200'],
    [300, 'answered HTTP 300: a redirect, which is not followed'],
    [302, 'answered HTTP 302: a redirect, which is not followed'],
    [399, 'answered HTTP 399: a redirect, which is not followed'],
    [400, 'answered HTTP 400: not 200'],
    [503, 'answered HTTP 503: not 200'],
  ])('refuses HTTP %i', async (status, message) => {
    server.route('/doc', { json: { keys: [] } });
    await expect(fetchBounded(`${server.url}/doc`, LIMITS)).resolves.toBe('{"keys":[]}');
    server.route('/doc', { status });
    expect(await refused(fetchBounded(`${server.url}/doc`, LIMITS))).toBe(message);
  });

  it('never follows a redirect', async () => {
    server.route('/doc', { redirect: '/elsewhere' });
    server.route('/elsewhere', { json: { keys: [] } });
    expect(await refused(fetchBounded(`${server.url}/doc`, LIMITS))).toBe('answered HTTP 302: a redirect, which is not followed');
    expect(server.count('/elsewhere')).toBe(0);
  });

  it.each([false, true])('takes an answer of exactly maxBytes and refuses one byte more (chunked: %s)', async (chunked) => {
    // The fake pads to `bytes` - 2 characters of JSON.
    server.route('/doc', { bytes: 1026, chunked });
    expect(await fetchBounded(`${server.url}/doc`, LIMITS)).toHaveLength(1024);
    server.route('/doc', { bytes: 1027, chunked });
    expect(await refused(fetchBounded(`${server.url}/doc`, LIMITS))).toBe('answer exceeds maxBytes 1024');
  });

  it('gives up when the answer does not complete within timeoutMs', async () => {
    server.route('/slow', { delayMs: 60_000, then: { json: { keys: [] } } });
    expect(await refused(fetchBounded(`${server.url}/slow`, { ...LIMITS, timeoutMs: 100 }))).toBe('no complete answer within 100 ms');
    server.route('/stall', { delayMs: 60_000, then: { json: {} }, stallBody: true });
    expect(await refused(fetchBounded(`${server.url}/stall`, { ...LIMITS, timeoutMs: 100 }))).toBe('no complete answer within 100 ms');
  });

  it('names an answer that ends before its declared length', async () => {
    const short = createHttpServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': '100' });
      res.write('{"keys":[');
      setImmediate(() => res.socket?.destroy());
    });
    await new Promise<void>((resolve) => short.listen(0, '127.0.0.1', resolve));
    try {
      const url = `http://127.0.0.1:${(short.address() as AddressInfo).port}/doc`;
      expect(await refused(fetchBounded(url, LIMITS))).toMatch(/^answer (cut short|interrupted)$/u);
    } finally {
      short.closeAllConnections();
      await new Promise<void>((resolve) => short.close(() => resolve()));
    }
  });

  it('names the error code of a connection that fails', async () => {
    server.route('/reset', { reset: true });
    expect(await refused(fetchBounded(`${server.url}/reset`, LIMITS))).toBe('request failed: ECONNRESET');
    // https to a plain-http listener: a TLS failure, still a FetchError.
    expect(await refused(fetchBounded(`${server.url.replace('http:', 'https:')}/doc`, LIMITS))).toMatch(/^request failed: E[A-Z_]+$/u);
  });
});

describe('OIDC discovery', () => {
  const issuer = (): string => `${server.url}/iss`;
  const wellKnown = '/iss/.well-known/openid-configuration';

  it('appends the well-known path to the issuer, without a doubled slash', () => {
    expect(discoveryUrl('https://idp.example')).toBe('https://idp.example/.well-known/openid-configuration');
    expect(discoveryUrl('https://idp.example/')).toBe('https://idp.example/.well-known/openid-configuration');
    expect(discoveryUrl('https://idp.example/tenant/')).toBe('https://idp.example/tenant/.well-known/openid-configuration');
    expect(discoveryUrl('https://idp.example/a/b')).toBe('https://idp.example/a/b/.well-known/openid-configuration');
  });

  it('returns the jwks_uri of a document that names the configured issuer', async () => {
    server.route(wellKnown, { json: { issuer: issuer(), jwks_uri: 'https://keys.example/jwks' } });
    expect(await discoverJwksUri(issuer(), LIMITS)).toBe('https://keys.example/jwks');
    server.route(wellKnown, { json: { issuer: issuer(), jwks_uri: `${server.url}/jwks` } });
    expect(await discoverJwksUri(issuer(), LIMITS)).toBe(`${server.url}/jwks`);
    expect(server.hits).toEqual([wellKnown, wellKnown]);
  });

  it.each([
    // The fake server JSON-encodes `json`; undefined encodes to an empty body.
    ['an empty body', undefined, 'discovery document is not valid JSON'],
    ['a JSON string', '<html>', 'discovery document is not a JSON object'],
    ['an array', ['x'], 'discovery document is not a JSON object'],
    ['null', null, 'discovery document is not a JSON object'],
  ])('refuses a document that is %s', async (_name, json, message) => {
    server.route(wellKnown, { json: { issuer: issuer(), jwks_uri: 'https://keys.example/jwks' } });
    await expect(discoverJwksUri(issuer(), LIMITS)).resolves.toBe('https://keys.example/jwks');
    server.route(wellKnown, { json });
    expect(await refused(discoverJwksUri(issuer(), LIMITS))).toBe(message);
  });

  it.each([
    ['another issuer', 'https://evil.example'],
    ['the issuer with a trailing slash', 'ISSUER/'],
    ['no issuer', undefined],
  ])('refuses a document naming %s', async (_name, advertised) => {
    const named = advertised?.replace('ISSUER', issuer());
    server.route(wellKnown, { json: { issuer: named, jwks_uri: 'https://keys.example/jwks' } });
    expect(await refused(discoverJwksUri(issuer(), LIMITS))).toBe(
      `discovery document names issuer ${JSON.stringify(String(named))}, not the configured ${JSON.stringify(issuer())}`,
    );
  });

  it('logs the jwks_uri a key set discovered, once', async () => {
    const signer = createSigner('ES256', 'disc-es');
    server.route(wellKnown, { json: { issuer: issuer(), jwks_uri: `${server.url}/jwks` } });
    server.route('/jwks', { json: { keys: [signer.jwk] } });
    const capture = createLogCapture();
    let now = Date.UTC(2030, 0, 1);
    const keys = createOidcKeySet(
      { discovery: true, timeoutMs: 2000, maxBytes: 65_536, refreshSeconds: 300, cooldownSeconds: 30, maxStalenessSeconds: 3600 },
      issuer(),
      'identity.agents.oidc[k8s].keys',
      { logger: createLogger({ level: 'info', destination: capture }), now: () => now },
    );
    await keys.loaded;
    now += 30_000;
    expect(await keys.keyFor('unknown')).toBeUndefined();
    expect((await keys.keyFor('disc-es'))?.kid).toBe('disc-es');
    const discovered = capture.lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.msg === 'discovered jwks_uri');
    expect(discovered).toMatchObject([{ keySet: 'identity.agents.oidc[k8s].keys', jwksUri: `${server.url}/jwks` }]);
    expect(server.hits).toEqual([wellKnown, '/jwks', '/jwks']);
  });

  it.each([
    ['no jwks_uri', undefined],
    ['a numeric jwks_uri', 7],
    ['a jwks_uri in an array', ['https://keys.example/jwks']],
    ['a plain-http jwks_uri off loopback', 'http://keys.example/jwks'],
    ['a jwks_uri with userinfo', 'https://user@keys.example/jwks'],
  ])('refuses %s', async (_name, jwksUri) => {
    server.route(wellKnown, { json: { issuer: issuer(), jwks_uri: jwksUri } });
    expect(await refused(discoverJwksUri(issuer(), LIMITS))).toBe('discovery document has no https jwks_uri');
  });
});

/** A self-signed certificate for 127.0.0.1 (openssl), and an HTTPS server answering `body` on every path. */
async function tlsServer(body: string): Promise<{ url: string; caFile: string; requests: string[]; close: () => Promise<void> }> {
  const requests: string[] = [];
  const dir = mkdtempSync(join(tmpdir(), 'qm-identity-tls-'));
  const caFile = join(dir, 'cert.pem');
  const keyFile = join(dir, 'key.pem');
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-keyout',
      keyFile,
      '-out',
      caFile,
      '-days',
      '1',
    ].concat(['-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1']),
    { stdio: 'ignore' },
  );
  const https = createServer({ cert: readFileSync(caFile, 'utf8'), key: readFileSync(keyFile, 'utf8') }, (req, res) => {
    requests.push(`${req.method ?? ''} ${req.url ?? ''} accept=${req.headers.accept ?? ''}`);
    res.writeHead(200, { 'content-type': 'application/json' }).end(body);
  });
  await new Promise<void>((resolve) => https.listen(0, '127.0.0.1', resolve));
  return {
    url: `https://127.0.0.1:${(https.address() as AddressInfo).port}`,
    caFile,
    requests,
    close: () => {
      https.closeAllConnections();
      return new Promise<void>((resolve) => https.close(() => resolve()));
    },
  };
}

describe('endpoints under a private CA', () => {
  const signer = createSigner('ES256', 'tls-es');
  const deps = { logger: createLogger({ level: 'silent' }), now: () => Date.UTC(2030, 0, 1) };
  const timing = { refreshSeconds: 300, cooldownSeconds: 30, maxStalenessSeconds: 3600 };

  it('trusts the certificate of caFile, and only with it', async () => {
    const tls = await tlsServer(JSON.stringify({ keys: [{ ...signer.jwk, use: 'jwt-svid' }] }));
    try {
      const ca = readFileSync(tls.caFile, 'utf8');
      expect(await fetchBounded(`${tls.url}/bundle`, { ...LIMITS, ca })).toContain('"tls-es"');
      expect(tls.requests).toEqual(['GET /bundle accept=application/json']);
      expect(await refused(fetchBounded(`${tls.url}/bundle`, LIMITS))).toMatch(/^request failed: [A-Z_]+$/u);

      const source = { endpoint: `${tls.url}/bundle`, timeoutMs: 2000, maxBytes: 65_536, ...timing };
      const trusted = createSpiffeBundleKeySet({ ...source, caFile: tls.caFile }, 'bundle', deps);
      await trusted.loaded;
      expect((await trusted.keyFor('tls-es'))?.kid).toBe('tls-es');
      const untrusted = createSpiffeBundleKeySet(source, 'bundle', deps);
      await expect(untrusted.loaded).rejects.toThrow(/^request failed: /u);

      const jwks = createOidcKeySet(
        { jwksUri: `${tls.url}/jwks`, timeoutMs: 2000, maxBytes: 65_536, caFile: tls.caFile, ...timing },
        'https://idp',
        'keys',
        deps,
      );
      await jwks.loaded;
      // An OIDC set takes only use "sig" or no use: the jwt-svid key is ignored, the set is empty.
      expect(await jwks.keyFor('tls-es')).toBeUndefined();
    } finally {
      await tls.close();
    }
  });
});
