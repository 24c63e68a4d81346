/**
 * The broker's own deviation detectors on two brokers over one Redis, with the shipped policies:
 * each fires on its pattern — counted by both replicas into one store window, once per window —
 * and not on its valid counterpart; what it fired is decided like any signal (a high request-rate
 * signal revokes the agent's grants everywhere, a low request-after-close one is only audited).
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestBroker, type TestBroker } from '../support/broker_harness.js';
import { eventually } from '../support/eventually.js';
import { startRedisServer, type RedisServer } from '../support/redis_server.js';

let redis: RedisServer;
let brokers: TestBroker[] = [];
/** Both brokers' clock: the tests move it to age tokens, never to wait. */
let offset = 0;
const now = () => Date.now() + offset;

beforeAll(async () => {
  redis = await startRedisServer();
  const keyDir = mkdtempSync(join(tmpdir(), 'qm-detectors-'));
  const options = {
    keyDir,
    now,
    store: { kind: 'redis' as const, url: redis.url, keyPrefix: 'qm-detectors:' },
    policy: { dir: 'config/policies', watch: false },
    profiles: {
      demo: {
        provider: 'jwt',
        maxTtl: 900,
        defaultTtl: 300,
        tier: 'read',
        agents: ['spiffe://dev\\.local/agent/[a-z-]+'],
        params: { audience: 'urn:quartermaster:demo-api', scope: 'alerts:read' },
      },
      isolate: {
        provider: 'jwt',
        maxTtl: 900,
        tier: 'contain',
        agents: ['spiffe://dev\\.local/agent/[a-z-]+'],
        params: { audience: 'urn:quartermaster:edr', scope: 'hosts:isolate' },
      },
      admin: {
        provider: 'jwt',
        maxTtl: 900,
        tier: 'read',
        agents: ['spiffe://dev\\.local/agent/admin'],
        params: { audience: 'urn:admin', scope: 'admin' },
      },
    },
    deviation: {
      detectors: {
        repeatedDenials: { threshold: 3, windowSeconds: 60 },
        outOfScopeProfiles: { threshold: 2, windowSeconds: 60 },
        requestRate: { threshold: 6, windowSeconds: 60 },
        revokedTokenUse: { threshold: 1, windowSeconds: 3600 },
        requestsAfterClose: { threshold: 2, windowSeconds: 60 },
      },
    },
  };
  brokers = [await startTestBroker(options), await startTestBroker(options)];
});
afterAll(async () => {
  await Promise.all(brokers.map((b) => b.stop()));
  await redis?.stop();
});

const broker = (i: number) => brokers[i % 2] as TestBroker;
async function open(id: string, severity = 'sev2'): Promise<void> {
  const res = await broker(0).request('POST', '/v1/incidents', {
    token: await broker(0).operatorToken(),
    body: { id, title: 't', severity },
  });
  expect(res.status).toBe(201);
}
/** A grant request on broker `i % 2`; its status. */
async function ask(i: number, agent: string, incident: string, profile = 'demo'): Promise<{ status: number; body: any }> {
  return broker(i).request('POST', '/v1/grants', {
    token: await broker(i).agentToken(agent),
    body: { incident_id: incident, profile, purpose: 'triage' },
  });
}
async function deviations(agent: string, kind: string): Promise<any[]> {
  const events = (await broker(1).request('GET', '/v1/audit?limit=1000', { token: await broker(1).operatorToken() })).body.events as any[];
  return events.filter((e) => e.type === 'deviation.decided' && e.data?.agent === agent && e.data?.kind === kind);
}
/** Every detection both brokers started has finished, and every signal it raised has been decided. */
async function quiet(): Promise<void> {
  await Promise.all(brokers.map((b) => b.broker.detectors.settled()));
  await eventually(async () => (await broker(0).broker.store.inboxDepth()) === 0);
}
const fired = (agent: string, kind: string) =>
  eventually(async () => {
    const found = await deviations(agent, kind);
    return found.length > 0 ? found : null;
  });

describe('deviation detectors', () => {
  it('repeated denials: fires at the third policy denial across both replicas, once per window, not at two', async () => {
    const agent = 'spiffe://dev.local/agent/denied';
    await open('INC-D1', 'sev4'); // containment is for sev1-3: every isolate request is denied
    for (const i of [0, 1]) expect((await ask(i, agent, 'INC-D1', 'isolate')).status).toBe(403);
    expect((await ask(0, agent, 'INC-D1')).status).toBe(201); // an allowed request is no denial
    await quiet();
    expect(await deviations(agent, 'repeated_denials')).toEqual([]);

    expect((await ask(1, agent, 'INC-D1', 'isolate')).status).toBe(403);
    const [event] = await fired(agent, 'repeated_denials');
    expect(event).toMatchObject({ actor: 'quartermaster', data: { source: 'quartermaster', detector: true, severity: 'medium' } });
    for (const i of [0, 1]) expect((await ask(i, agent, 'INC-D1', 'isolate')).status).toBe(403);
    await quiet();
    expect(await deviations(agent, 'repeated_denials')).toHaveLength(1);
  });

  it('out-of-scope profiles: fires at the second request for a profile the agent may not have, not for allowed ones', async () => {
    const agent = 'spiffe://dev.local/agent/prober';
    await open('INC-D2');
    for (const i of [0, 1]) expect((await ask(i, agent, 'INC-D2')).status).toBe(201);
    expect((await ask(0, agent, 'INC-D2', 'admin')).status).toBe(403);
    await quiet();
    expect(await deviations(agent, 'out_of_scope_profile')).toEqual([]);

    expect((await ask(1, agent, 'INC-D2', 'no-such-profile')).status).toBe(404);
    const [event] = await fired(agent, 'out_of_scope_profile');
    // Medium: the agent's grants in that incident are revoked.
    expect(event).toMatchObject({ incidentId: 'INC-D2', data: { outcome: 'revoke_in_incident', revoked: 2 } });
  });

  it('request rate: fires at the sixth request in the window, and its high severity revokes the agent everywhere', async () => {
    const agent = 'spiffe://dev.local/agent/flooder';
    await open('INC-D3');
    const granted: string[] = [];
    for (let i = 0; i < 5; i++) granted.push((await ask(i, agent, 'INC-D3')).body.grant.id as string);
    await quiet();
    expect(await deviations(agent, 'request_rate')).toEqual([]);

    expect((await ask(5, agent, 'INC-D3')).status).toBe(201);
    const [event] = await fired(agent, 'request_rate');
    expect(event).toMatchObject({
      data: { severity: 'high', outcome: 'revoke_everywhere', decidedBy: ['deviation-high-revokes-everywhere'] },
    });
    await eventually(async () => {
      const grants = await Promise.all(granted.map((id) => broker(0).broker.store.getGrant(id)));
      return grants.every((g) => g?.state === 'revoked' && g.revokeReason === 'deviation');
    });
  });

  it('revoked token use: fires when a released grant’s token is introspected, not for a live or merely expired one', async () => {
    const agent = 'spiffe://dev.local/agent/replayer';
    await open('INC-D4');
    const introspect = async (token: string) =>
      (await broker(1).request('POST', '/oauth2/introspect', { token: await broker(1).operatorToken(), form: { token } })).body.active;
    const live = (await ask(0, agent, 'INC-D4')).body;
    expect(await introspect(live.credential.access_token)).toBe(true);
    await quiet();
    expect(await deviations(agent, 'revoked_token_use')).toEqual([]);

    const released = await broker(0).request('DELETE', `/v1/grants/${live.grant.id}`, { token: await broker(0).agentToken(agent) });
    expect(released.status).toBe(202);
    await eventually(async () => (await broker(0).broker.store.getGrant(live.grant.id))?.state === 'revoked');
    expect(await introspect(live.credential.access_token)).toBe(false);
    const [event] = await fired(agent, 'revoked_token_use');
    expect(event).toMatchObject({ incidentId: 'INC-D4', grantId: live.grant.id, data: { severity: 'medium' } });

    // A token past its expiry answers inactive too, but nobody revoked it: no signal.
    const agent2 = 'spiffe://dev.local/agent/patient';
    const expiring = (await ask(0, agent2, 'INC-D4')).body;
    offset += 3600_000;
    expect(await introspect(expiring.credential.access_token)).toBe(false);
    await quiet();
    expect(await deviations(agent2, 'revoked_token_use')).toEqual([]);
  });

  it('requests after close: fires at the second request for the closed incident, low severity, audited only', async () => {
    const agent = 'spiffe://dev.local/agent/straggler';
    await open('INC-D5');
    await open('INC-D6');
    const held = (await ask(0, agent, 'INC-D6')).body.grant.id as string;
    expect((await ask(1, agent, 'INC-D5')).status).toBe(201);
    expect((await broker(0).request('POST', '/v1/incidents/INC-D5/close', { token: await broker(0).operatorToken() })).status).toBe(202);
    expect((await ask(0, agent, 'INC-D5')).status).toBe(409);
    expect((await ask(1, agent, 'INC-D6')).status).toBe(201); // an open incident: no deviation
    await quiet();
    expect(await deviations(agent, 'request_after_close')).toEqual([]);

    expect((await ask(1, agent, 'INC-D5')).status).toBe(409);
    const [event] = await fired(agent, 'request_after_close');
    expect(event).toMatchObject({ incidentId: 'INC-D5', data: { severity: 'low', outcome: 'none', decidedBy: [], revoked: 0 } });
    expect((await broker(0).broker.store.getGrant(held))?.state).toBe('active');
  });
});
