/**
 * Guarantee 5: no secret in any log line, error body or audit event. Canary secrets — agent and
 * operator JWTs, the issued access token, a forged token, the broker's signing key — are fed
 * through every path (success, refusals, malformed input, introspection, release, close), then
 * every sink is searched for each of them and for their signature parts.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestBroker, type TestBroker } from '../support/broker_harness.js';

describe('no secret reaches a log line, an error body or an audit event', () => {
  let qm: TestBroker;
  const responses: Array<{ path: string; status: number; text: string; issuesCredential: boolean }> = [];

  const signalSecret = `whsec_${Buffer.from('canary signal source secret 0123456789').toString('base64')}`;
  beforeAll(async () => {
    const secretFile = join(mkdtempSync(join(tmpdir(), 'qm-leak-')), 'siem');
    writeFileSync(secretFile, signalSecret, { mode: 0o600 });
    qm = await startTestBroker({ logLevel: 'trace', deviation: { sources: [{ name: 'siem', secretFiles: [secretFile] }] } });
  });
  afterAll(async () => qm?.stop());

  it('keeps every canary out of every sink', async () => {
    const operator = await qm.operatorToken();
    const agent = await qm.agentToken('spiffe://dev.local/agent/triage');
    const outsider = await qm.agentToken('spiffe://dev.local/agent/a/b');
    const expiredAgent = await qm.agentToken('spiffe://dev.local/agent/triage', 60, Date.now() - 600_000);
    const forged = `${agent.slice(0, agent.lastIndexOf('.'))}.${Buffer.from('canary-forged-signature-0123456789abcdef').toString('base64url')}`;
    const garbageBearer = 'CANARY.GARBAGE.TOKEN-9f8e7d6c5b4a';
    /** Keeps a response for the sink search, once it is the answer its path must get (a refusal that is not refused searches nothing). */
    const record = async (
      path: string,
      res: { status: number; text: string },
      expected: readonly [number, string | null],
      issuesCredential = false,
    ) => {
      let code: string | null = null;
      try {
        code = (JSON.parse(res.text) as { error?: { code?: string } }).error?.code ?? null;
      } catch {
        /* not JSON (metrics) */
      }
      expect([path, res.status, code]).toEqual([path, ...expected]);
      responses.push({ path, status: res.status, text: res.text, issuesCredential });
      return res;
    };
    const grantBody = { incident_id: 'INC-LEAK', profile: 'demo', purpose: 'p' };

    await record(
      'open',
      await qm.request('POST', '/v1/incidents', { token: operator, body: { id: 'INC-LEAK', title: 't', severity: 'sev3' } }),
      [201, null],
    );
    // The valid request first: each refusal below changes one thing about it.
    const granted = await record('grant', await qm.request('POST', '/v1/grants', { token: agent, body: grantBody }), [201, null], true);
    const accessToken = JSON.parse(granted.text).credential.access_token as string;
    const grantId = JSON.parse(granted.text).grant.id as string;

    // Refusals and malformed input, each carrying a secret somewhere it does not belong.
    const badTokens: Array<readonly [string, string]> = [
      [forged, 'ERR_TOKEN_SIGNATURE'],
      [garbageBearer, 'ERR_TOKEN_MALFORMED'],
      [expiredAgent, 'ERR_TOKEN_EXPIRED'],
      [operator, 'ERR_TOKEN_ISSUER_UNTRUSTED'],
      [accessToken, 'ERR_TOKEN_CLAIMS'],
    ];
    for (const [token, code] of badTokens) {
      await record(`grant-bad-token ${code}`, await qm.request('POST', '/v1/grants', { token, body: grantBody }), [401, code]);
    }
    await record('grant-denied', await qm.request('POST', '/v1/grants', { token: outsider, body: grantBody }), [403, 'ERR_POLICY_DENIED']);
    await record(
      'grant-secret-in-body',
      await qm.request('POST', '/v1/grants', { token: agent, body: { ...grantBody, token: accessToken } }),
      [400, 'ERR_VALIDATION'],
    );
    await record(
      'grant-bad-json',
      await qm.request('POST', '/v1/grants', {
        token: agent,
        body: `{"purpose":"${accessToken}`,
        headers: { 'content-type': 'application/json' },
      }),
      [400, 'ERR_BAD_REQUEST'],
    );
    await record('op-with-agent-token', await qm.request('GET', '/v1/incidents/INC-LEAK', { token: agent }), [
      401,
      'ERR_TOKEN_ISSUER_UNTRUSTED',
    ]);
    await record('op-with-access-token', await qm.request('GET', '/v1/audit', { token: accessToken }), [401, 'ERR_TOKEN_ISSUER_UNTRUSTED']);
    await record('malformed-authorization', await qm.request('GET', '/v1/audit', { headers: { authorization: `Basic ${accessToken}` } }), [
      401,
      'ERR_UNAUTHENTICATED',
    ]);
    const active = await record(
      'introspect-active',
      await qm.request('POST', '/oauth2/introspect', { token: operator, form: { token: accessToken } }),
      [200, null],
    );
    expect(JSON.parse(active.text)).toMatchObject({ active: true });
    const forgedAnswer = await record(
      'introspect-forged',
      await qm.request('POST', '/oauth2/introspect', { token: operator, form: { token: forged } }),
      [200, null],
    );
    expect(JSON.parse(forgedAnswer.text)).toEqual({ active: false });
    // An agent's token is for the agents' audience, not the introspection clients' one.
    await record('introspect-as-agent', await qm.request('POST', '/oauth2/introspect', { token: agent, form: { token: accessToken } }), [
      401,
      'ERR_TOKEN_AUDIENCE',
    ]);
    // Deviation signals: signed by a source, and one naming a whole token where a jti belongs.
    const signal = (id: string, subject: Record<string, string>) => JSON.stringify({ id, kind: 'siem.test', severity: 'low', subject });
    const signed = (body: string, secret = signalSecret) => {
      const ts = new Date();
      const headers = {
        'webhook-id': `msg_${body.length}`,
        'webhook-timestamp': String(Math.floor(ts.getTime() / 1000)),
        'webhook-signature': new Webhook(secret).sign(`msg_${body.length}`, ts, body),
      };
      signatures.push(headers['webhook-signature'].slice(3));
      return { body, headers };
    };
    const signatures: string[] = [];
    await record('signal', await qm.request('POST', '/v1/signals', signed(signal('leak-1', { format: 'jti', id: grantId }))), [202, null]);
    await record(
      'signal-token-as-jti',
      await qm.request('POST', '/v1/signals', signed(signal('leak-2', { format: 'jti', id: accessToken }))),
      [404, 'ERR_SIGNAL_SUBJECT_UNKNOWN'],
    );
    await record(
      'signal-forged',
      await qm.request(
        'POST',
        '/v1/signals',
        signed(signal('leak-3', { format: 'jti', id: grantId }), `whsec_${Buffer.from('x'.repeat(32)).toString('base64')}`),
      ),
      [401, 'ERR_WEBHOOK_SIGNATURE'],
    );
    await record('read-grant', await qm.request('GET', `/v1/grants/${grantId}`, { token: agent }), [200, null]);
    await record('release', await qm.request('DELETE', `/v1/grants/${grantId}`, { token: agent }), [202, null]);
    await record('grant-2', await qm.request('POST', '/v1/grants', { token: agent, body: grantBody }), [201, null], true);
    await record('close', await qm.request('POST', '/v1/incidents/INC-LEAK/close', { token: operator }), [202, null]);
    await record('read-incident', await qm.request('GET', '/v1/incidents/INC-LEAK', { token: operator }), [200, null]);
    const audit = await record('audit', await qm.request('GET', '/v1/audit?limit=1000', { token: operator }), [200, null]);
    await record('metrics', await qm.request('GET', '/metrics'), [200, null]);
    await record('jwks', await qm.request('GET', '/.well-known/jwks.json'), [200, null]);

    const signingKey = JSON.parse(readFileSync(join(qm.keyDir, 'jwt-signing-key.json'), 'utf8')) as { d: string };
    const secondToken = JSON.parse(responses.find((r) => r.path === 'grant-2')!.text).credential.access_token as string;
    const canaries: Record<string, string> = {
      signingKeyD: signingKey.d,
      garbageBearer,
      signalSecret,
      signalKey: signalSecret.slice('whsec_'.length),
      ...Object.fromEntries(signatures.map((s, i) => [`signalSignature${i}`, s])),
    };
    for (const [name, jwt] of Object.entries({ operator, agent, outsider, expiredAgent, forged, accessToken, secondToken })) {
      canaries[name] = jwt;
      canaries[`${name}.signature`] = jwt.slice(jwt.lastIndexOf('.') + 1);
    }

    const logs = qm.logs.text();
    expect(logs.length).toBeGreaterThan(1000); // the sinks were really written to
    expect(JSON.parse(audit.text).events.length).toBeGreaterThanOrEqual(5);
    const sinks = [
      { name: 'logs', text: logs },
      ...responses.filter((r) => !r.issuesCredential).map((r) => ({ name: `response ${r.path} (${r.status})`, text: r.text })),
    ];
    const leaks: string[] = [];
    for (const sink of sinks) {
      for (const [name, value] of Object.entries(canaries)) {
        if (sink.text.includes(value)) leaks.push(`${name} in ${sink.name}`);
      }
    }
    expect(leaks).toEqual([]);
    // The credential responses carry their own token, and only it.
    const issuing = responses.filter((r) => r.issuesCredential);
    expect(issuing.map((r) => r.text.includes(canaries.agent!))).toEqual([false, false]);
  });
});
