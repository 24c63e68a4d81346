/**
 * Revocation events out (src/events/revocation_events.ts): a receiver started by the test gets a
 * verifiable Security Event Token (RFC 8417, CAEP session-revoked, pushed per RFC 8935) for every
 * revoked grant — verified with only the broker's /.well-known/ssf-jwks.json — also when it was
 * down during the revocation and came back; a SET it refuses with 400 is not sent again.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createLocalJWKSet, decodeJwt, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SESSION_REVOKED } from '../../src/events/revocation_events.js';
import { startTestBroker, type TestBroker } from '../support/broker_harness.js';
import { eventually } from '../support/eventually.js';

const received: string[] = [];
let status = 202;
let port = 0;
let receiver: Server | null = null;

async function startReceiver(): Promise<void> {
  receiver = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      if (req.headers['content-type'] === 'application/secevent+jwt') received.push(body);
      res.writeHead(status, { 'content-type': 'application/json' }).end(status === 400 ? '{"err":"invalid_request"}' : '');
    });
  });
  await new Promise<void>((resolve) => (receiver as Server).listen(port, '127.0.0.1', resolve));
  port = (receiver.address() as AddressInfo).port;
}
const stopReceiver = () => new Promise<void>((resolve) => (receiver ? receiver.close(() => resolve()) : resolve()));

let qm: TestBroker;
let operator: string;
const AGENT = 'spiffe://dev.local/agent/triage';

beforeAll(async () => {
  await startReceiver();
  qm = await startTestBroker({
    events: { receivers: [{ name: 'mcp', url: `http://127.0.0.1:${port}/events`, audience: 'urn:mcp-server' }] },
  });
  operator = await qm.operatorToken();
});
afterAll(async () => {
  await qm?.stop();
  await stopReceiver();
});

const open = async (id: string) =>
  expect((await qm.request('POST', '/v1/incidents', { token: operator, body: { id, title: 't', severity: 'sev2' } })).status).toBe(201);
const grant = async (incident: string) => {
  const res = await qm.request('POST', '/v1/grants', {
    token: await qm.agentToken(AGENT),
    body: { incident_id: incident, profile: 'demo', purpose: 'p' },
  });
  expect(res.status).toBe(201);
  return res.body as { grant: { id: string }; credential: { access_token: string } };
};
async function verified(set: string) {
  const jwks = await qm.request('GET', '/.well-known/ssf-jwks.json');
  const { payload, protectedHeader } = await jwtVerify(set, createLocalJWKSet(jwks.body), {
    audience: 'urn:mcp-server',
    typ: 'secevent+jwt',
  });
  return { payload: payload as Record<string, any>, protectedHeader };
}
const setsFor = async (grantIds: string[]) =>
  (await Promise.all(received.map(verified))).filter((s) => grantIds.includes(s.payload.sub_id?.id));

describe('revocation events', () => {
  it('pushes a verifiable SET for every grant revoked at a close, naming the token a relying party holds', async () => {
    await open('INC-SET-1');
    const [a, b] = [await grant('INC-SET-1'), await grant('INC-SET-1')];
    expect((await qm.request('POST', '/v1/incidents/INC-SET-1/close', { token: operator })).status).toBe(202);
    const sets = await eventually(async () => {
      const found = await setsFor([a.grant.id, b.grant.id]);
      return found.length === 2 ? found : null;
    });
    const config = await qm.request('GET', '/.well-known/ssf-configuration');
    for (const { payload, protectedHeader } of sets) {
      expect(protectedHeader).toMatchObject({ alg: 'EdDSA', typ: 'secevent+jwt' });
      expect(payload).toMatchObject({ iss: config.body.issuer, aud: 'urn:mcp-server', txn: 'INC-SET-1', sub_id: { format: 'opaque' } });
      expect(payload.events[SESSION_REVOKED]).toMatchObject({
        initiating_entity: 'admin',
        reason: 'incident_closed',
        incident_id: 'INC-SET-1',
        agent: AGENT,
      });
    }
    // The subject is what a broker-signed token calls itself: its jti.
    expect(sets.map((s) => s.payload.sub_id.id).sort()).toEqual(
      [decodeJwt(a.credential.access_token).jti, decodeJwt(b.credential.access_token).jti].sort(),
    );
    expect(config.body).toMatchObject({ delivery_methods_supported: ['urn:ietf:rfc:8935'], events_supported: [SESSION_REVOKED] });
  });

  it('delivers the SET of a revocation that happened while the receiver was down, once it is back', async () => {
    await open('INC-SET-2');
    const g = await grant('INC-SET-2');
    await stopReceiver();
    expect((await qm.request('DELETE', `/v1/grants/${g.grant.id}`, { token: await qm.agentToken(AGENT) })).status).toBe(202);
    await eventually(async () => (await qm.broker.store.getGrant(g.grant.id))?.state === 'revoked');
    const metrics = async () => (await qm.request('GET', '/metrics')).text;
    await eventually(async () => /quartermaster_revocation_events_total\{receiver="mcp",outcome="retried"\} [1-9]/u.test(await metrics()));
    expect(await setsFor([g.grant.id])).toHaveLength(0);
    await startReceiver();
    const [set] = await eventually(async () => {
      const found = await setsFor([g.grant.id]);
      return found.length > 0 ? found : null;
    });
    expect(set?.payload.events[SESSION_REVOKED]).toMatchObject({ initiating_entity: 'user', reason: 'released' });
  });

  it('does not resend a SET the receiver refused as invalid (400), and audits it', async () => {
    await open('INC-SET-3');
    const refused = await grant('INC-SET-3');
    status = 400;
    const countOf = (grantId: string) =>
      received.filter((r) => decodeJwt(r).sub_id && (decodeJwt(r).sub_id as { id: string }).id === grantId).length;
    expect((await qm.request('POST', '/v1/incidents/INC-SET-3/close', { token: operator })).status).toBe(202);
    const audit = await eventually(async () => {
      const events = (await qm.request('GET', '/v1/audit?incident=INC-SET-3', { token: operator })).body.events as {
        type: string;
        reason?: string;
      }[];
      return events.find((e) => e.type === 'revocation.event_undelivered') ?? null;
    });
    expect(audit.reason).toBe('rejected');
    // Later revocations still go out, and the refused SET never comes again.
    status = 202;
    await open('INC-SET-4');
    const later = await grant('INC-SET-4');
    expect((await qm.request('POST', '/v1/incidents/INC-SET-4/close', { token: operator })).status).toBe(202);
    await eventually(async () => countOf(later.grant.id) === 1);
    expect(countOf(refused.grant.id)).toBe(1);
  });
});
