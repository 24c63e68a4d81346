/**
 * Resource servers introspect with their own workload token (identity.introspection.clients), not
 * an operator's: each learns `active: true` only for broker-signed tokens of its own audiences,
 * and its token, made for the introspection audience, is neither an agent's nor an operator's.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mintAgentToken } from '../../src/identity/dev_issuer.js';
import { startTestBroker, type TestBroker } from '../support/broker_harness.js';
import { AGENT_ISSUER, AUDIENCE, INTROSPECTION_AUDIENCE } from '../support/test_config.js';

const AGENT = 'spiffe://dev.local/agent/triage';
const ALERTS_API = 'spiffe://dev.local/rs/alerts-api';
const TIMELINE_API = 'spiffe://dev.local/rs/timeline-api';
let qm: TestBroker;
let tokens: { alerts: string; timeline: string };

const workloadToken = (id: string, audience = INTROSPECTION_AUDIENCE) =>
  mintAgentToken({ keyDir: qm.keyDir, issuer: AGENT_ISSUER, audience, agentId: id, ttlSeconds: 600, now: Date.now() });
const introspect = async (callerToken: string, token: string) =>
  qm.request('POST', '/oauth2/introspect', { token: callerToken, form: { token } });

beforeAll(async () => {
  const profile = (audience: string) => ({
    provider: 'jwt',
    maxTtl: 900,
    defaultTtl: 300,
    tier: 'read',
    agents: ['spiffe://dev\\.local/agent/[a-z]+'],
    params: { audience, scope: 'read' },
  });
  qm = await startTestBroker({
    profiles: { alerts: profile('urn:alerts-api'), timeline: profile('urn:timeline-api') },
    introspection: {
      clients: [
        { name: 'alerts-api', id: ALERTS_API, audiences: ['urn:alerts-api'] },
        { name: 'timeline-api', id: TIMELINE_API, audiences: ['urn:timeline-api', 'urn:other'] },
      ],
    },
  });
  const operator = await qm.operatorToken();
  expect(
    (await qm.request('POST', '/v1/incidents', { token: operator, body: { id: 'INC-RS', title: 't', severity: 'sev3' } })).status,
  ).toBe(201);
  const grant = async (profileName: string) => {
    const granted = await qm.request('POST', '/v1/grants', {
      token: await qm.agentToken(AGENT),
      body: { incident_id: 'INC-RS', profile: profileName, purpose: 'read' },
    });
    expect(granted.status).toBe(201);
    return { token: granted.body.credential.access_token as string, id: granted.body.grant.id as string };
  };
  const [alerts, timeline] = [await grant('alerts'), await grant('timeline')];
  tokens = { alerts: alerts.token, timeline: timeline.token };
});
afterAll(() => qm.stop());

describe('introspection clients', () => {
  it("tell a client its own audience's token is active and another audience's is not, while an operator sees both", async () => {
    const alertsApi = await workloadToken(ALERTS_API);
    expect((await introspect(alertsApi, tokens.alerts)).body).toMatchObject({ active: true, aud: 'urn:alerts-api', sub: AGENT });
    expect((await introspect(alertsApi, tokens.timeline)).body).toEqual({ active: false });
    const timelineApi = await workloadToken(TIMELINE_API);
    expect((await introspect(timelineApi, tokens.timeline)).body).toMatchObject({ active: true, aud: 'urn:timeline-api' });
    expect((await introspect(timelineApi, tokens.alerts)).body).toEqual({ active: false });
    const operator = await qm.operatorToken();
    expect((await introspect(operator, tokens.alerts)).body).toMatchObject({ active: true });
    expect((await introspect(operator, tokens.timeline)).body).toMatchObject({ active: true });
  });

  it('counts answers per caller in quartermaster_introspections_total', async () => {
    const before = await qm.request('GET', '/metrics');
    const count = (text: string, labels: string) =>
      Number(new RegExp(`^quartermaster_introspections_total\\{${labels}\\} (\\d+)$`, 'mu').exec(text)?.[1] ?? 0);
    const alertsApi = await workloadToken(ALERTS_API);
    await introspect(alertsApi, tokens.alerts);
    await introspect(alertsApi, tokens.timeline);
    await introspect(alertsApi, tokens.timeline);
    const after = (await qm.request('GET', '/metrics')).text;
    expect(count(after, 'caller="alerts-api",active="true"') - count(before.text, 'caller="alerts-api",active="true"')).toBe(1);
    expect(count(after, 'caller="alerts-api",active="false"') - count(before.text, 'caller="alerts-api",active="false"')).toBe(2);
    expect(after).not.toContain(ALERTS_API);
  });

  it('refuses a workload that is not a configured client with 403, and says nothing of the token', async () => {
    expect((await introspect(await workloadToken(ALERTS_API), tokens.alerts)).status).toBe(200);
    const stranger = await introspect(await workloadToken('spiffe://dev.local/rs/unknown'), tokens.alerts);
    expect([stranger.status, stranger.body.error.code, stranger.body.error.message]).toEqual([
      403,
      'ERR_FORBIDDEN',
      'not an introspection client',
    ]);
    expect(stranger.text).not.toContain('active');
  });

  it("takes a client's token only for the introspection audience, and never at the agents' endpoints", async () => {
    expect((await introspect(await workloadToken(ALERTS_API), tokens.alerts)).status).toBe(200);
    // The same workload with an agent-audience token: refused here.
    const agentAudience = await introspect(await workloadToken(ALERTS_API, AUDIENCE), tokens.alerts);
    expect([agentAudience.status, agentAudience.body.error.code]).toEqual([401, 'ERR_TOKEN_AUDIENCE']);
    // The introspection token does not pass as an agent's, even for a workload a profile would allow.
    const asAgent = await qm.request('GET', '/v1/profiles', { token: await workloadToken(AGENT) });
    expect([asAgent.status, asAgent.body.error.code]).toEqual([401, 'ERR_TOKEN_AUDIENCE']);
    expect((await qm.request('GET', '/v1/profiles', { token: await qm.agentToken(AGENT) })).status).toBe(200);
  });
});
