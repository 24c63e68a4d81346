/**
 * The jwt provider's issuer follows the broker: without `providers.jwt.issuer`, tokens carry the
 * broker's own URL — the listen address in development mode, so `PORT` (or port 0 here) moves
 * it — or `server.publicUrl` when set. Downstream tools find the keys under that issuer.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeJwt } from 'jose';
import { afterEach, describe, expect, it } from 'vitest';
import { startTestBroker, type TestBroker } from '../support/broker_harness.js';

const AGENT = 'spiffe://dev.local/agent/triage';
let qm: TestBroker | undefined;
afterEach(async () => {
  await qm?.stop();
  qm = undefined;
});

async function issuedToken(broker: TestBroker): Promise<string> {
  const operator = await broker.operatorToken();
  expect(
    (await broker.request('POST', '/v1/incidents', { token: operator, body: { id: 'INC-URL', title: 't', severity: 'sev3' } })).status,
  ).toBe(201);
  const granted = await broker.request('POST', '/v1/grants', {
    token: await broker.agentToken(AGENT),
    body: { incident_id: 'INC-URL', profile: 'demo', purpose: 'p' },
  });
  expect(granted.status).toBe(201);
  return granted.body.credential.access_token as string;
}

describe('the issuer of broker-signed tokens', () => {
  it('is the address the broker listens on when no issuer is configured', async () => {
    const keyDir = mkdtempSync(join(tmpdir(), 'qm-url-'));
    qm = await startTestBroker({
      keyDir,
      providers: { jwt: { signingKeyFile: join(keyDir, 'jwt-signing-key.json'), generateKeyIfMissing: true } },
    });
    const token = await issuedToken(qm);
    expect(decodeJwt(token).iss).toBe(qm.url);
    expect(qm.url).not.toBe('http://127.0.0.1:8080');
    const jwks = await fetch(`${String(decodeJwt(token).iss)}/.well-known/jwks.json`);
    expect(jwks.status).toBe(200);
    const introspected = await qm.request('POST', '/oauth2/introspect', { token: await qm.operatorToken(), form: { token } });
    expect(introspected.body).toMatchObject({ active: true, iss: qm.url });
  });

  it('is server.publicUrl when that is set', async () => {
    const keyDir = mkdtempSync(join(tmpdir(), 'qm-url-'));
    qm = await startTestBroker({
      keyDir,
      server: { publicUrl: 'https://quartermaster.example.com/' },
      providers: { jwt: { signingKeyFile: join(keyDir, 'jwt-signing-key.json'), generateKeyIfMissing: true } },
    });
    expect(decodeJwt(await issuedToken(qm)).iss).toBe('https://quartermaster.example.com');
  });
});
