/**
 * Remote and file key sources as docs/security.md §1 "Keys" and the fault matrix (§5: JWKS endpoint
 * down, slow, oversized, rotating) specify them, against a local key server (test/fakes). Time is
 * the injected clock: refresh intervals, refresh hints, cooldowns and staleness move with `now`,
 * never with sleeps; only the server's own delays exercise the fetch timeout.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { BrokerError } from '../../src/errors.js';
import type { Identity } from '../../src/identity/types.js';
import { startJwksServer, type JwksServer } from '../fakes/jwks_server.js';
import { createLogger } from '../../src/logging.js';
import { eventually } from '../support/broker_harness.js';
import { createLogCapture } from '../support/log_capture.js';
import { AUDIENCE, bundleOf, createWorld, jwksOf, specs, START, type World } from './identity_world.js';
import { build, createSigner, withClaims, type Signer, type TokenSpec } from './token_factory.js';

let now = START;
const nowSec = (): number => Math.floor(now / 1000);
const S = specs(nowSec);
const r1 = createSigner('ES256', 'remote-1');
const r2 = createSigner('ES256', 'remote-2');
const K8S_ISS_PATH = '/k8s';

let server: JwksServer;
let world: World;
beforeAll(async () => {
  server = await startJwksServer();
});
afterAll(() => server.close());
beforeEach(() => {
  now = START;
  world = createWorld(() => now);
  server.hits.length = 0;
  server.route('/bundle', { json: bundleOf(r1.jwk) });
});
afterEach(() => {
  world.cleanup();
  expect(server.unexpected).toEqual([]);
});

const remoteSpec = (signer: Signer): TokenSpec => ({
  header: { alg: 'ES256', kid: signer.kid },
  payload: { sub: 'spiffe://remote.example/agent/x', aud: AUDIENCE, iat: nowSec(), exp: nowSec() + 600 },
  signer,
});
const remote = (signer: Signer = r1): string => build(remoteSpec(signer));

/** Every key-set refresh outcome the identity reported (the broker turns these into metrics). */
let refreshes: string[] = [];

function bootRemote(bundle: Record<string, unknown> = {}): Promise<Identity> {
  refreshes = [];
  return world.boot({
    config: world.config((raw) => {
      raw.agents.spiffe.push({
        trustDomain: 'remote.example',
        bundle: { endpoint: `${server.url}/bundle`, timeoutMs: 500, maxBytes: 65_536, ...bundle },
        algorithms: ['ES256'],
      });
    }),
    onKeySetRefresh: (keySet, result) => refreshes.push(`${keySet} ${result}`),
  });
}

async function outcome(call: Promise<unknown>): Promise<string> {
  return call.then(
    () => 'ok',
    (err: BrokerError) => `${err.status} ${err.code}`,
  );
}

/** Polls until the server has answered `path` `n` times (a background refresh has run). */
async function untilHits(path: string, n: number): Promise<void> {
  await eventually(async () => server.count(path) >= n, 5000, 5);
  expect(server.count(path)).toBe(n);
}

/** Polls until `call` has the wanted outcome: background refreshes finish on their own time. */
const until = (call: () => Promise<unknown>, wanted: string): Promise<boolean> =>
  eventually(async () => (await outcome(call())) === wanted, 5000, 5);

describe('SPIFFE bundle endpoint', () => {
  it('verifies JWT-SVIDs with the keys the endpoint serves, fetched once at boot', async () => {
    const identity = await bootRemote();
    expect(await outcome(identity.authenticateAgent(remote()))).toBe('ok');
    expect(await outcome(identity.authenticateAgent(build(S.agent())))).toBe('ok');
    expect(server.hits).toEqual(['/bundle']);
  });

  it('uses only keys marked use jwt-svid', async () => {
    server.route('/bundle', {
      json: {
        keys: [
          { ...r1.jwk, use: 'x509-svid' },
          { ...r2.jwk, use: 'sig' },
        ],
      },
    });
    const identity = await bootRemote();
    expect(await outcome(identity.authenticateAgent(remote(r1)))).toBe('401 ERR_TOKEN_SIGNATURE');
    expect(await outcome(identity.authenticateAgent(remote(r2)))).toBe('401 ERR_TOKEN_SIGNATURE');
  });

  it('picks up a rotated key on its unknown kid, at most once per cooldown', async () => {
    const identity = await bootRemote();
    server.route('/bundle', { json: bundleOf(r1.jwk, r2.jwk) });
    // Within the cooldown after the boot fetch, an unknown kid does not refetch.
    now += 29_000;
    expect(await outcome(identity.authenticateAgent(remote(r2)))).toBe('401 ERR_TOKEN_SIGNATURE');
    expect(server.count('/bundle')).toBe(1);
    now += 1_000;
    expect(await outcome(identity.authenticateAgent(remote(r2)))).toBe('ok');
    expect(server.count('/bundle')).toBe(2);
    // An attacker cycling kids gets one fetch per cooldown, not one per request.
    for (let i = 0; i < 20; i++)
      expect(await outcome(identity.authenticateAgent(build({ ...remoteSpec(r1), header: { alg: 'ES256', kid: `x${i}` } })))).toBe(
        '401 ERR_TOKEN_SIGNATURE',
      );
    expect(server.count('/bundle')).toBe(2);
  });

  it('stops accepting a key removed from the bundle at the next refresh', async () => {
    const identity = await bootRemote();
    const token = remote(r1);
    expect(await outcome(identity.authenticateAgent(token))).toBe('ok');
    server.route('/bundle', { json: bundleOf(r2.jwk) });
    now += 299_000;
    expect(await outcome(identity.authenticateAgent(token))).toBe('ok');
    expect(server.count('/bundle')).toBe(1);
    now += 1_000;
    await until(() => identity.authenticateAgent(token), '401 ERR_TOKEN_SIGNATURE');
    expect(await outcome(identity.authenticateAgent(remote(r2)))).toBe('ok');
  });

  it('honours a shorter spiffe_refresh_hint, and caps a longer one at refreshSeconds', async () => {
    server.route('/bundle', { json: { ...bundleOf(r1.jwk), spiffe_refresh_hint: 60 } });
    const identity = await bootRemote();
    now += 59_000;
    await identity.authenticateAgent(remote());
    expect(server.count('/bundle')).toBe(1);
    server.route('/bundle', { json: { ...bundleOf(r1.jwk), spiffe_refresh_hint: 2_419_200 } });
    now += 1_000;
    await identity.authenticateAgent(remote());
    await untilHits('/bundle', 2);
    // 28 days hinted, but a removed key must stop working within refreshSeconds (300 s).
    now += 299_000;
    await identity.authenticateAgent(remote());
    expect(server.count('/bundle')).toBe(2);
    now += 1_000;
    // The second refresh may still be finishing in the background; a due refresh starts on the
    // first request after it has.
    await eventually(
      async () => {
        await identity.authenticateAgent(remote());
        return server.count('/bundle') >= 3;
      },
      5000,
      5,
    );
    expect(server.count('/bundle')).toBe(3);
  });

  it('keeps the last good keys while the endpoint is down, up to maxStalenessSeconds, then fails closed with 503', async () => {
    const identity = await bootRemote({ refreshSeconds: 300, maxStalenessSeconds: 3600 });
    server.route('/bundle', { status: 503 });
    now += 300_000;
    expect(await outcome(identity.authenticateAgent(remote()))).toBe('ok');
    await untilHits('/bundle', 2);
    now = START + 3_600_000;
    expect(await outcome(identity.authenticateAgent(remote()))).toBe('ok');
    now += 1;
    expect(await outcome(identity.authenticateAgent(remote()))).toBe('503 ERR_IDENTITY_UNAVAILABLE');
    // Other trust domains are not affected; recovery needs no restart.
    expect(await outcome(identity.authenticateAgent(build(S.agent())))).toBe('ok');
    server.route('/bundle', { json: bundleOf(r1.jwk) });
    now += 30_000;
    expect(await outcome(identity.authenticateAgent(remote()))).toBe('ok');
    // Each fetch of the remote bundle was reported: ok at boot, failed while down, ok once back.
    const remoteSet = refreshes.filter((r) => r.includes('remote.example'));
    expect(remoteSet[0]).toMatch(/ ok$/u);
    expect(remoteSet.some((r) => r.endsWith(' failed'))).toBe(true);
    expect(remoteSet.at(-1)).toMatch(/ ok$/u);
  });

  it('answers an unknown kid with 503, not 401, while the endpoint is down', async () => {
    const identity = await bootRemote();
    server.route('/bundle', { reset: true });
    now += 30_000;
    expect(await outcome(identity.authenticateAgent(remote(r2)))).toBe('503 ERR_IDENTITY_UNAVAILABLE');
    expect(await outcome(identity.authenticateAgent(remote(r1)))).toBe('ok');
  });

  it.each([
    ['down (HTTP 503)', { status: 503 }],
    ['resetting connections', { reset: true }],
    // Far longer than the test's own timeout: boot finishing at all proves the fetch timed out.
    ['slower than timeoutMs', { delayMs: 600_000, then: { json: bundleOf(r1.jwk) } }],
    ['stalling mid-body past timeoutMs', { delayMs: 600_000, then: { json: {} }, stallBody: true }],
    ['answering 5 MB with a content-length', { bytes: 5 * 1024 * 1024 }],
    ['answering 5 MB chunked', { bytes: 5 * 1024 * 1024, chunked: true }],
    ['redirecting elsewhere', { redirect: '/elsewhere' }],
    ['serving a private key', { json: bundleOf({ ...(r1.privateKey.export({ format: 'jwk' }) as object), kid: r1.kid }) }],
    ['serving HTML', { json: '<html>' }],
  ] as const)('boots while the endpoint is %s: that trust domain answers 503 until a fetch succeeds', async (_name, behaviour) => {
    server.route('/bundle', behaviour);
    server.route('/elsewhere', { json: bundleOf(r1.jwk) });
    const identity = await bootRemote();
    expect(await outcome(identity.authenticateAgent(remote()))).toBe('503 ERR_IDENTITY_UNAVAILABLE');
    expect(await outcome(identity.authenticateAgent(build(S.agent())))).toBe('ok');
    expect(server.count('/elsewhere')).toBe(0);
    server.route('/bundle', { json: bundleOf(r1.jwk) });
    now += 30_000;
    expect(await outcome(identity.authenticateAgent(remote()))).toBe('ok');
  });

  it('logs a remote key set that is unavailable at boot, naming it and the cause', async () => {
    server.route('/bundle', { status: 503 });
    const capture = createLogCapture();
    await world.boot({
      logger: createLogger({ level: 'error', destination: capture }),
      config: world.config((raw) => {
        raw.agents.spiffe.push({
          trustDomain: 'remote.example',
          bundle: { endpoint: `${server.url}/bundle`, timeoutMs: 500, maxBytes: 65_536 },
          algorithms: ['ES256'],
        });
      }),
    });
    const errors = capture.lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(errors).toMatchObject([
      {
        level: 'error',
        msg: 'key set unavailable at boot; its tokens answer 503 until a fetch succeeds',
        keySet: 'identity.agents.spiffe[remote.example].bundle',
        err: 'FetchError: answered HTTP 503: not 200',
      },
    ]);
  });

  it('keeps the last good keys when a refresh answers 5 MB or a private key', async () => {
    const identity = await bootRemote();
    for (const behaviour of [
      { bytes: 5 * 1024 * 1024 },
      { json: bundleOf({ ...(r2.privateKey.export({ format: 'jwk' }) as object), kid: r2.kid }) },
    ]) {
      server.route('/bundle', behaviour);
      now += 30_000;
      expect(await outcome(identity.authenticateAgent(remote(r2)))).toBe('503 ERR_IDENTITY_UNAVAILABLE');
      expect(await outcome(identity.authenticateAgent(remote(r1)))).toBe('ok');
    }
  });
});

describe('OIDC issuer keys', () => {
  const issuer = (): string => `${server.url}${K8S_ISS_PATH}`;
  const k8s = createSigner('RS256', 'k8s-1');
  const k8sSpec = (): TokenSpec => ({
    header: { alg: 'RS256', kid: k8s.kid },
    payload: {
      iss: issuer(),
      sub: 'system:serviceaccount:incident-agents:triage',
      aud: AUDIENCE,
      iat: nowSec(),
      exp: nowSec() + 600,
      'kubernetes.io': { namespace: 'incident-agents' },
    },
    signer: k8s,
  });
  const bootOidc = (keys: Record<string, unknown>, iss = issuer()): Promise<Identity> =>
    world.boot({
      config: world.config((raw) => {
        raw.agents.oidc.push({
          name: 'k8s',
          issuer: iss,
          keys,
          algorithms: ['RS256'],
          claims: [{ claim: '/kubernetes.io/namespace', equals: 'incident-agents' }],
        });
      }),
    });

  it('discovers jwks_uri from the issuer once, then fetches keys from it', async () => {
    server.route(`${K8S_ISS_PATH}/.well-known/openid-configuration`, { json: { issuer: issuer(), jwks_uri: `${server.url}/k8s-keys` } });
    server.route('/k8s-keys', { json: jwksOf(k8s.jwk) });
    const identity = await bootOidc({ discovery: true });
    await expect(identity.authenticateAgent(build(k8sSpec()))).resolves.toMatchObject({
      id: `${issuer()}#system:serviceaccount:incident-agents:triage`,
    });
    now += 300_000;
    await identity.authenticateAgent(build(withClaims(k8sSpec(), { jti: 'a' })));
    await untilHits('/k8s-keys', 2);
    expect(server.count(`${K8S_ISS_PATH}/.well-known/openid-configuration`)).toBe(1);
  });

  it('refuses a discovery document that names another issuer', async () => {
    server.route(`${K8S_ISS_PATH}/.well-known/openid-configuration`, {
      json: { issuer: `${issuer()}/`, jwks_uri: `${server.url}/k8s-keys` },
    });
    server.route('/k8s-keys', { json: jwksOf(k8s.jwk) });
    const identity = await bootOidc({ discovery: true });
    expect(await outcome(identity.authenticateAgent(build(k8sSpec())))).toBe('503 ERR_IDENTITY_UNAVAILABLE');
    expect(server.count('/k8s-keys')).toBe(0);
  });

  it('refuses a jwks_uri that is plain http off loopback', async () => {
    server.route(`${K8S_ISS_PATH}/.well-known/openid-configuration`, {
      json: { issuer: issuer(), jwks_uri: 'http://keys.example.com/jwks' },
    });
    expect(await outcome((await bootOidc({ discovery: true })).authenticateAgent(build(k8sSpec())))).toBe('503 ERR_IDENTITY_UNAVAILABLE');
  });

  it('discovers again after the jwks_uri stops answering', async () => {
    const wellKnown = `${K8S_ISS_PATH}/.well-known/openid-configuration`;
    server.route(wellKnown, { json: { issuer: issuer(), jwks_uri: `${server.url}/old-keys` } });
    server.route('/old-keys', { json: jwksOf(k8s.jwk) });
    const identity = await bootOidc({ discovery: true });
    server.route('/old-keys', { status: 404 });
    server.route(wellKnown, { json: { issuer: issuer(), jwks_uri: `${server.url}/new-keys` } });
    const rotated = createSigner('RS256', 'k8s-2');
    server.route('/new-keys', { json: jwksOf(k8s.jwk, rotated.jwk) });
    now += 30_000;
    expect(
      await outcome(identity.authenticateAgent(build({ ...k8sSpec(), header: { alg: 'RS256', kid: rotated.kid }, signer: rotated }))),
    ).toBe('503 ERR_IDENTITY_UNAVAILABLE');
    now += 30_000;
    expect(
      await outcome(identity.authenticateAgent(build({ ...k8sSpec(), header: { alg: 'RS256', kid: rotated.kid }, signer: rotated }))),
    ).toBe('ok');
    expect(server.count(wellKnown)).toBe(2);
  });

  it('fetches an explicit jwksUri and applies claim constraints to nested claims', async () => {
    server.route('/k8s-keys', { json: jwksOf(k8s.jwk) });
    const identity = await bootOidc({ jwksUri: `${server.url}/k8s-keys` });
    expect(await outcome(identity.authenticateAgent(build(k8sSpec())))).toBe('ok');
    expect(await outcome(identity.authenticateAgent(build(withClaims(k8sSpec(), { 'kubernetes.io': { namespace: 'default' } }))))).toBe(
      '401 ERR_TOKEN_CLAIMS',
    );
    expect(server.count(`${K8S_ISS_PATH}/.well-known/openid-configuration`)).toBe(0);
  });
});

describe('key files', () => {
  it('re-reads a rotated file on an unknown kid after the cooldown, and keeps the last good keys over a broken rewrite', async () => {
    const identity = await world.boot();
    const rotated = createSigner('ES256', 'rotated');
    const rotatedToken = (): string => build({ ...S.other(), header: { alg: 'ES256', kid: rotated.kid }, signer: rotated });
    world.write(world.files.other, bundleOf(rotated.jwk));
    expect(await outcome(identity.authenticateAgent(rotatedToken()))).toBe('401 ERR_TOKEN_SIGNATURE');
    now += 30_000;
    expect(await outcome(identity.authenticateAgent(rotatedToken()))).toBe('ok');
    world.write(world.files.other, '{"keys": [');
    now += 300_000;
    await identity.authenticateAgent(rotatedToken());
    await until(
      () => identity.authenticateAgent(build({ ...S.other(), header: { alg: 'ES256', kid: 'nope' } })),
      '503 ERR_IDENTITY_UNAVAILABLE',
    );
    expect(await outcome(identity.authenticateAgent(rotatedToken()))).toBe('ok');
  });
});
