/**
 * The whole lifecycle over HTTP against the real broker, run once per store (memory, Redis):
 * open → grant → introspect active → close → introspect inactive → report 1/1 revoked,
 * plus the issue-path refusals, release, TTL clamping and expiry.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, startTestBroker, type TestBroker } from '../support/broker_harness.js';
import type { TestConfigOptions } from '../support/test_config.js';

const TRIAGE = 'spiffe://dev.local/agent/triage';
const CONTAIN = 'spiffe://dev.local/agent/contain';

export function describeLifecycle(
  name: string,
  storeOptions: () => Promise<TestConfigOptions['store']>,
  cleanup: () => Promise<void> = async () => undefined,
): void {
  describe(`lifecycle over HTTP (${name} store)`, () => {
    let qm: TestBroker;
    let clockOffsetMs = 0;
    let operator: string;
    let agent: string;
    let incidentSeq = 0;
    const newIncident = async (): Promise<string> => {
      const id = `INC-${name}-${++incidentSeq}`;
      const res = await qm.request('POST', '/v1/incidents', { token: operator, body: { id, title: 'db latency', severity: 'sev2' } });
      expect(res.status).toBe(201);
      return id;
    };
    const requestGrant = (token: string, body: Record<string, unknown>) => qm.request('POST', '/v1/grants', { token, body });
    const introspect = (token: string) => qm.request('POST', '/oauth2/introspect', { token: operator, form: { token } });

    beforeAll(async () => {
      const store = await storeOptions();
      qm = await startTestBroker({ ...(store ? { store } : {}), now: () => Date.now() + clockOffsetMs });
      operator = await qm.operatorToken();
      agent = await qm.agentToken(TRIAGE);
    });
    afterAll(async () => {
      await qm?.stop();
      await cleanup();
    });

    it('issues, introspects, closes and reports 1 of 1 grants revoked', async () => {
      const opened = await qm.request('POST', '/v1/incidents', {
        token: operator,
        body: { id: `INC-1-${name}`, title: 'Payments API 5xx', severity: 'sev2' },
      });
      expect(opened.status).toBe(201);
      expect(opened.body.incident).toMatchObject({ id: `INC-1-${name}`, status: 'open', severity: 'sev2', opened_by: 'alice@example.com' });

      const granted = await requestGrant(agent, { incident_id: `INC-1-${name}`, profile: 'demo', purpose: 'read alerts' });
      expect(granted.status).toBe(201);
      expect(granted.headers.get('cache-control')).toBe('no-store');
      expect(granted.body.grant).toMatchObject({
        incident_id: `INC-1-${name}`,
        profile: 'demo',
        agent: TRIAGE,
        state: 'active',
        ttl_seconds: 300,
      });
      expect(granted.body.grant).not.toHaveProperty('handle');
      const accessToken: string = granted.body.credential.access_token;
      expect(accessToken.split('.')).toHaveLength(3);

      const before = await introspect(accessToken);
      expect(before.status).toBe(200);
      expect(before.body).toMatchObject({
        active: true,
        incident: `INC-1-${name}`,
        grant: granted.body.grant.id,
        scope: 'alerts:read',
        sub: TRIAGE,
      });

      const closed = await qm.request('POST', `/v1/incidents/INC-1-${name}/close`, { token: operator });
      expect(closed.status).toBe(202);
      expect(closed.body.incident.status).toBe('closed');
      // The tombstone alone makes the token inactive: introspection answers from the ledger.
      expect((await introspect(accessToken)).body).toEqual({ active: false });

      const report = await eventually(async () => {
        const res = await qm.request('GET', `/v1/incidents/INC-1-${name}`, { token: operator });
        return res.body.revocation.by_state.revoked === 1 ? res.body : null;
      });
      expect(report.revocation).toMatchObject({ total: 1, outstanding: 0, confirmed: 1 });
      expect(report.revocation.close_to_all_revoked_ms).toBeGreaterThanOrEqual(0);
      expect(report.grants[0]).toMatchObject({ state: 'revoked', revoke_reason: 'incident_closed' });
      // The same report without the grant list, for pollers of large incidents.
      const slim = await qm.request('GET', `/v1/incidents/INC-1-${name}?grants=false`, { token: operator });
      expect(slim.body).toEqual({ incident: report.incident, revocation: report.revocation });
      const bad = await qm.request('GET', `/v1/incidents/INC-1-${name}?grants=no`, { token: operator });
      expect([bad.status, bad.body.error.code]).toEqual([400, 'ERR_VALIDATION']);

      const again = await qm.request('POST', `/v1/incidents/INC-1-${name}/close`, { token: operator });
      expect(again.status).toBe(200);

      const audit = await qm.request('GET', `/v1/audit?incident=INC-1-${name}`, { token: operator });
      expect(audit.body.events.map((e: { type: string }) => e.type)).toEqual([
        'incident.opened',
        'grant.issued',
        'incident.closed',
        'grant.revoked',
      ]);
    });

    it('refuses a grant for a closed incident with 409 ERR_INCIDENT_CLOSED', async () => {
      const id = await newIncident();
      expect((await requestGrant(agent, { incident_id: id, profile: 'demo', purpose: 'p' })).status).toBe(201);
      await qm.request('POST', `/v1/incidents/${id}/close`, { token: operator });
      const res = await requestGrant(agent, { incident_id: id, profile: 'demo', purpose: 'p' });
      expect(res.status).toBe(409);
      expect(res.body).toEqual({ error: { code: 'ERR_INCIDENT_CLOSED', message: expect.any(String) } });
    });

    it('lists incidents newest first with their live grant counts, open ones alone on asking', async () => {
      const [held, closed] = [await newIncident(), await newIncident()];
      expect((await requestGrant(agent, { incident_id: held, profile: 'demo', purpose: 'p' })).status).toBe(201);
      expect((await requestGrant(agent, { incident_id: held, profile: 'demo', purpose: 'p' })).status).toBe(201);
      await qm.request('POST', `/v1/incidents/${closed}/close`, { token: operator });
      const all = await qm.request('GET', '/v1/incidents?limit=500', { token: operator });
      expect(all.status).toBe(200);
      const byId = new Map((all.body.incidents as { id: string }[]).map((i) => [i.id, i]));
      expect(byId.get(held)).toMatchObject({ status: 'open', title: 'db latency', live_grants: 2 });
      expect(byId.get(closed)).toMatchObject({ status: 'closed', live_grants: 0 });
      const opened = (all.body.incidents as { opened_at: string }[]).map((i) => Date.parse(i.opened_at));
      expect(opened).toEqual([...opened].sort((a, b) => b - a));
      const open = (await qm.request('GET', '/v1/incidents?status=open&limit=500', { token: operator })).body.incidents as { id: string }[];
      expect(open.map((i) => i.id)).toContain(held);
      expect(open.map((i) => i.id)).not.toContain(closed);
      expect((await qm.request('GET', '/v1/incidents?limit=1', { token: operator })).body.incidents).toHaveLength(1);
      for (const bad of ['status=gone', 'limit=0', 'limit=501', 'other=1'])
        expect((await qm.request('GET', `/v1/incidents?${bad}`, { token: operator })).status, bad).toBe(400);
      expect((await qm.request('GET', '/v1/incidents', { token: agent })).status).toBe(401);
    });

    it('answers 404 for an unknown incident and for an unknown profile', async () => {
      const id = await newIncident();
      expect((await requestGrant(agent, { incident_id: id, profile: 'demo', purpose: 'p' })).status).toBe(201);
      const noIncident = await requestGrant(agent, { incident_id: 'INC-nope', profile: 'demo', purpose: 'p' });
      expect([noIncident.status, noIncident.body.error.code]).toEqual([404, 'ERR_INCIDENT_NOT_FOUND']);
      const noProfile = await requestGrant(agent, { incident_id: id, profile: 'nope', purpose: 'p' });
      expect([noProfile.status, noProfile.body.error.code]).toEqual([404, 'ERR_PROFILE_NOT_FOUND']);
    });

    it('refuses an agent the profile does not list with 403 ERR_POLICY_DENIED', async () => {
      const id = await newIncident();
      expect((await requestGrant(agent, { incident_id: id, profile: 'demo', purpose: 'p' })).status).toBe(201);
      const outsider = await qm.agentToken('spiffe://dev.local/agent/triage/x/admin');
      const res = await requestGrant(outsider, { incident_id: id, profile: 'demo', purpose: 'p' });
      expect([res.status, res.body.error.code]).toEqual([403, 'ERR_POLICY_DENIED']);
      // The body names what decided, and nothing more (no reasons, no patterns).
      expect(res.body).toEqual({
        error: { code: 'ERR_POLICY_DENIED', message: 'the request is not allowed by policy', decided_by: ['profiles.demo.agents'] },
      });
      const audit = await qm.request('GET', `/v1/audit?incident=${id}`, { token: operator });
      const events = audit.body.events as Array<{ type: string; data?: Record<string, unknown> }>;
      expect(events.find((e) => e.type === 'grant.issued')?.data).toMatchObject({ decidedBy: ['profiles.demo.agents'], purpose: 'p' });
      expect(events.find((e) => e.type === 'grant.denied')?.data).toMatchObject({ decidedBy: ['profiles.demo.agents'] });
    });

    it('answers an agent no profile allows the same 403 whatever the incident: open, closed or unknown', async () => {
      const open = await newIncident();
      const closed = await newIncident();
      expect((await qm.request('POST', `/v1/incidents/${closed}/close`, { token: operator })).status).toBe(202);
      const outsider = await qm.agentToken('spiffe://dev.local/agent/triage/x/admin');
      const answers = await Promise.all(
        [open, closed, 'INC-never-opened'].map((id) => requestGrant(outsider, { incident_id: id, profile: 'demo', purpose: 'probe' })),
      );
      expect(answers.map((r) => [r.status, r.body.error.code, r.body.error.decided_by])).toEqual([
        [403, 'ERR_POLICY_DENIED', ['profiles.demo.agents']],
        [403, 'ERR_POLICY_DENIED', ['profiles.demo.agents']],
        [403, 'ERR_POLICY_DENIED', ['profiles.demo.agents']],
      ]);
      // An agent the profile allows still gets the incident's real answer.
      expect((await requestGrant(agent, { incident_id: closed, profile: 'demo', purpose: 'p' })).body.error.code).toBe(
        'ERR_INCIDENT_CLOSED',
      );
    });

    it('lets only the agents assigned to an incident act on it, once an operator assigns some', async () => {
      const id = `INC-${name}-assigned`;
      const opened = await qm.request('POST', '/v1/incidents', {
        token: operator,
        body: { id, title: 'assigned', severity: 'sev2', agents: ['spiffe://dev\\.local/agent/contain'] },
      });
      expect([opened.status, opened.body.incident.agents]).toEqual([201, ['spiffe://dev\\.local/agent/contain']]);
      const contain = await qm.agentToken(CONTAIN);
      expect((await requestGrant(contain, { incident_id: id, profile: 'demo', purpose: 'p' })).status).toBe(201);
      const refused = await requestGrant(agent, { incident_id: id, profile: 'demo', purpose: 'p' });
      expect([refused.status, refused.body.error.code, refused.body.error.decided_by]).toEqual([
        403,
        'ERR_POLICY_DENIED',
        ['incident.agents'],
      ]);
      // The operator ends the assignment: every agent the profile allows may act again.
      const patched = await qm.request('PATCH', `/v1/incidents/${id}`, { token: operator, body: { agents: null } });
      expect(patched.status).toBe(200);
      expect(patched.body.incident).not.toHaveProperty('agents');
      expect((await requestGrant(agent, { incident_id: id, profile: 'demo', purpose: 'p' })).status).toBe(201);
      const bad = await qm.request('PATCH', `/v1/incidents/${id}`, { token: operator, body: { agents: ['spiffe://(unclosed'] } });
      expect([bad.status, bad.body.error.code]).toEqual([400, 'ERR_VALIDATION']);
      const empty = await qm.request('PATCH', `/v1/incidents/${id}`, { token: operator, body: { agents: [] } });
      expect([empty.status, empty.body.error.code]).toEqual([400, 'ERR_VALIDATION']);
    });

    it('lets the agent release its own grant, and only its own', async () => {
      const id = await newIncident();
      const granted = await requestGrant(agent, { incident_id: id, profile: 'demo', purpose: 'p' });
      const grantId: string = granted.body.grant.id;
      const other = await qm.agentToken(CONTAIN);
      const stranger = await qm.request('DELETE', `/v1/grants/${grantId}`, { token: other });
      expect([stranger.status, stranger.body.error.code]).toEqual([404, 'ERR_GRANT_NOT_FOUND']);
      expect((await introspect(granted.body.credential.access_token)).body.active).toBe(true);

      const released = await qm.request('DELETE', `/v1/grants/${grantId}`, { token: agent });
      expect(released.status).toBe(202);
      expect(['revoking', 'revoked']).toContain(released.body.grant.state);
      expect((await introspect(granted.body.credential.access_token)).body).toEqual({ active: false });
      const done = await eventually(async () => {
        const res = await qm.request('GET', `/v1/grants/${grantId}`, { token: agent });
        return res.body.grant.state === 'revoked' ? res.body.grant : null;
      });
      expect(done.revoke_reason).toBe('released');
      expect((await qm.request('DELETE', `/v1/grants/${grantId}`, { token: agent })).status).toBe(202);
    });

    it("changes an open incident's severity and title, audited, and refuses to change a closed one", async () => {
      const id = await newIncident();
      const patched = await qm.request('PATCH', `/v1/incidents/${id}`, { token: operator, body: { severity: 'sev1' } });
      expect(patched.status).toBe(200);
      expect(patched.body.incident).toMatchObject({ id, severity: 'sev1', title: 'db latency', status: 'open' });
      expect(
        (await qm.request('PATCH', `/v1/incidents/${id}`, { token: operator, body: { title: 'db down' } })).body.incident,
      ).toMatchObject({ severity: 'sev1', title: 'db down' });
      const audit = await qm.request('GET', `/v1/audit?incident=${id}`, { token: operator });
      const updates = audit.body.events
        .filter((e: { type: string }) => e.type === 'incident.updated')
        .map((e: { data: Record<string, unknown> }) => e.data);
      expect(updates).toEqual([
        {
          severity: 'sev1',
          previousSeverity: 'sev2',
          tokenFingerprint: expect.any(String),
          requestId: patched.headers.get('x-request-id'),
        },
        { titleChanged: true, tokenFingerprint: expect.any(String), requestId: expect.any(String) },
      ]);
      const empty = await qm.request('PATCH', `/v1/incidents/${id}`, { token: operator, body: {} });
      expect([empty.status, empty.body.error.code]).toEqual([400, 'ERR_VALIDATION']);
      const unknown = await qm.request('PATCH', '/v1/incidents/INC-never', { token: operator, body: { severity: 'sev1' } });
      expect([unknown.status, unknown.body.error.code]).toEqual([404, 'ERR_INCIDENT_NOT_FOUND']);
      expect((await qm.request('PATCH', `/v1/incidents/${id}`, { token: agent, body: { severity: 'sev1' } })).status).toBe(401);
      expect((await qm.request('POST', `/v1/incidents/${id}/close`, { token: operator })).status).toBe(202);
      const closed = await qm.request('PATCH', `/v1/incidents/${id}`, { token: operator, body: { severity: 'sev3' } });
      expect([closed.status, closed.body.error.code]).toEqual([409, 'ERR_INCIDENT_CLOSED']);
      expect((await qm.request('GET', `/v1/incidents/${id}?grants=false`, { token: operator })).body.incident.severity).toBe('sev1');
    });

    it("lists the agent's own grants of an incident, never another agent's and never a credential", async () => {
      const id = await newIncident();
      const mine = await requestGrant(agent, { incident_id: id, profile: 'demo', purpose: 'first' });
      const mine2 = await requestGrant(agent, { incident_id: id, profile: 'demo', purpose: 'second' });
      const other = await qm.agentToken(CONTAIN);
      const theirs = await requestGrant(other, { incident_id: id, profile: 'demo', purpose: 'theirs' });
      expect([mine.status, mine2.status, theirs.status]).toEqual([201, 201, 201]);

      const listed = await qm.request('GET', `/v1/grants?incident_id=${id}`, { token: agent });
      expect(listed.status).toBe(200);
      expect(listed.body.grants.map((g: { id: string }) => g.id)).toEqual([mine.body.grant.id, mine2.body.grant.id]);
      expect(listed.text).not.toContain(mine.body.credential.access_token);
      expect(listed.body.grants[0]).not.toHaveProperty('handle');
      expect(
        (await qm.request('GET', `/v1/grants?incident_id=${id}`, { token: other })).body.grants.map((g: { id: string }) => g.id),
      ).toEqual([theirs.body.grant.id]);
      expect((await qm.request('GET', '/v1/grants?incident_id=INC-nobody-opened', { token: agent })).body).toEqual({ grants: [] });

      // Without incident_id: every incident's, still only the caller's.
      const elsewhere = await requestGrant(other, { incident_id: await newIncident(), profile: 'demo', purpose: 'elsewhere' });
      const mineElsewhere = await requestGrant(agent, { incident_id: elsewhere.body.grant.incident_id, profile: 'demo', purpose: 'third' });
      const everywhere = await qm.request('GET', '/v1/grants', { token: agent });
      expect(everywhere.status).toBe(200);
      const ids: string[] = everywhere.body.grants.map((g: { id: string }) => g.id);
      expect(ids).toEqual(expect.arrayContaining([mine.body.grant.id, mine2.body.grant.id, mineElsewhere.body.grant.id]));
      expect(ids).not.toContain(theirs.body.grant.id);
      expect(ids).not.toContain(elsewhere.body.grant.id);
      expect(everywhere.body.grants.every((g: { agent: string }) => g.agent === TRIAGE)).toBe(true);
      const bad = await qm.request('GET', '/v1/grants?incident_id=bad%20id', { token: agent });
      expect([bad.status, bad.body.error.code]).toEqual([400, 'ERR_VALIDATION']);
      expect((await qm.request('GET', `/v1/grants?incident_id=${id}`, { token: operator })).status).toBe(401);
    });

    it('clamps the TTL to the profile maxTtl and raises it to the provider minimum', async () => {
      const id = await newIncident();
      const within = await requestGrant(agent, { incident_id: id, profile: 'demo', purpose: 'p', ttl_seconds: 120 });
      expect(within.body.grant.ttl_seconds).toBe(120);
      const over = await requestGrant(agent, { incident_id: id, profile: 'demo', purpose: 'p', ttl_seconds: 5000 });
      expect(over.status).toBe(201);
      expect(over.body.grant.ttl_seconds).toBe(900);
      expect(over.body.credential.expires_in).toBe(900);
      const exp = JSON.parse(Buffer.from(over.body.credential.access_token.split('.')[1], 'base64url').toString()).exp;
      expect(exp * 1000 - Date.parse(over.body.grant.created_at)).toBeLessThanOrEqual(900_000 + 1000);
      // Below the provider's minimum (jwt: 5 s, so the token cannot arrive already expired) it is raised.
      const under = await requestGrant(agent, { incident_id: id, profile: 'demo', purpose: 'p', ttl_seconds: 1 });
      expect([under.status, under.body.grant.ttl_seconds]).toEqual([201, 5]);
    });

    it('shows a grant past its TTL as expired, and its token inactive', async () => {
      const id = await newIncident();
      const granted = await requestGrant(agent, { incident_id: id, profile: 'demo', purpose: 'p', ttl_seconds: 60 });
      const grantId: string = granted.body.grant.id;
      expect((await qm.request('GET', `/v1/grants/${grantId}`, { token: agent })).body.grant.state).toBe('active');
      clockOffsetMs += 61_000;
      try {
        const fresh = await qm.agentToken(TRIAGE);
        expect((await qm.request('GET', `/v1/grants/${grantId}`, { token: fresh })).body.grant.state).toBe('expired');
        const op = await qm.operatorToken();
        const res = await qm.request('POST', '/oauth2/introspect', { token: op, form: { token: granted.body.credential.access_token } });
        expect(res.body).toEqual({ active: false });
      } finally {
        clockOffsetMs -= 61_000;
      }
    });

    it('rejects bad input with a stable code and keeps nothing', async () => {
      const id = await newIncident();
      const missingPurpose = await requestGrant(agent, { incident_id: id, profile: 'demo' });
      expect([missingPurpose.status, missingPurpose.body.error.code]).toEqual([400, 'ERR_VALIDATION']);
      const notJson = await qm.request('POST', '/v1/grants', {
        token: agent,
        body: '{"incident_id":',
        headers: { 'content-type': 'application/json' },
      });
      expect([notJson.status, notJson.body.error.code]).toEqual([400, 'ERR_BAD_REQUEST']);
      const huge = await requestGrant(agent, { incident_id: id, profile: 'demo', purpose: 'x'.repeat(70_000) });
      expect([huge.status, huge.body.error.code]).toEqual([413, 'ERR_PAYLOAD_TOO_LARGE']);
      const incident = await qm.request('GET', `/v1/incidents/${id}`, { token: operator });
      expect(incident.body.grants).toEqual([]);
    });

    it('keeps token kinds apart: no token, operator token on agent endpoint, agent token on operator endpoint', async () => {
      const id = await newIncident();
      const none = await qm.request('POST', '/v1/grants', { body: { incident_id: id, profile: 'demo', purpose: 'p' } });
      expect([none.status, none.body.error.code]).toEqual([401, 'ERR_UNAUTHENTICATED']);
      expect(none.headers.get('www-authenticate')).toMatch(/^Bearer/);
      const opOnAgent = await requestGrant(operator, { incident_id: id, profile: 'demo', purpose: 'p' });
      expect(opOnAgent.status).toBe(401);
      const agentOnOp = await qm.request('POST', `/v1/incidents/${id}/close`, { token: agent });
      expect(agentOnOp.status).toBe(401);
      const viewer = await qm.operatorToken('bob@example.com', ['viewer']);
      const noRole = await qm.request('POST', `/v1/incidents/${id}/close`, { token: viewer });
      expect([noRole.status, noRole.body.error.code]).toEqual([403, 'ERR_FORBIDDEN']);
      expect((await qm.request('GET', `/v1/incidents/${id}`, { token: operator })).body.incident.status).toBe('open');
    });

    it('serves health, readiness, metrics and the JWKS', async () => {
      expect((await qm.request('GET', '/healthz')).status).toBe(200);
      expect((await qm.request('GET', '/readyz')).body.status).toBe('ready');
      const metrics = await qm.request('GET', '/metrics');
      expect(metrics.text).toContain('quartermaster_grants_issued_total');
      const jwks = await qm.request('GET', '/.well-known/jwks.json');
      expect(jwks.body.keys).toHaveLength(1);
      expect(jwks.body.keys[0]).not.toHaveProperty('d');
      const unknown = await qm.request('GET', '/v1/nothing');
      expect(unknown.body).toEqual({ error: { code: 'ERR_NOT_FOUND', message: 'no such endpoint' } });
    });
  });
}
