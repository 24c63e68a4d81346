/**
 * A single-use profile over HTTP: the agent token backs one grant; the same token again — or the
 * same token with its ECDSA signature re-encoded as the high-S twin — answers 401
 * ERR_TOKEN_REPLAYED, and the refusal is audited. Other profiles are unaffected.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestBroker, type TestBroker } from '../support/broker_harness.js';
import { highSTwin } from '../identity/token_factory.js';

const demo = {
  provider: 'jwt',
  maxTtl: 900,
  defaultTtl: 300,
  tier: 'read',
  agents: ['spiffe://dev\\.local/agent/[A-Za-z0-9._-]+'],
  params: { audience: 'urn:quartermaster:demo-api', scope: 'alerts:read' },
};

describe('single-use profiles', () => {
  let qm: TestBroker;
  let operator: string;
  beforeAll(async () => {
    qm = await startTestBroker({ profiles: { demo, 'one-shot': { ...demo, singleUse: true } } });
    operator = await qm.operatorToken();
    expect(
      (await qm.request('POST', '/v1/incidents', { token: operator, body: { id: 'INC-SU', title: 't', severity: 'sev3' } })).status,
    ).toBe(201);
  });
  afterAll(async () => qm?.stop());

  const grant = (token: string, profile: string) =>
    qm.request('POST', '/v1/grants', { token, body: { incident_id: 'INC-SU', profile, purpose: 'p' } });

  it('issues once per token and refuses the replay, however the signature is encoded', async () => {
    const token = await qm.agentToken('spiffe://dev.local/agent/triage');
    expect((await grant(token, 'one-shot')).status).toBe(201);
    for (const replay of [token, highSTwin(token)]) {
      const res = await grant(replay, 'one-shot');
      expect(res.status).toBe(401);
      expect(res.body.error.code).toBe('ERR_TOKEN_REPLAYED');
      expect(res.headers.get('www-authenticate')).toBe('Bearer error="invalid_token"');
    }
    // The token itself is still a valid identity: a profile that is not single-use serves it.
    expect((await grant(token, 'demo')).status).toBe(201);
    // A fresh token is a new token.
    expect((await grant(await qm.agentToken('spiffe://dev.local/agent/triage'), 'one-shot')).status).toBe(201);

    const audit = await qm.request('GET', '/v1/audit?incident=INC-SU', { token: operator });
    // Both replays are one kind of refusal: audited once, the repeat counted into the window's summary.
    expect(audit.body.events.filter((e: any) => e.type === 'grant.denied').map((e: any) => e.reason)).toEqual(['ERR_TOKEN_REPLAYED']);
  });
});
