/**
 * Agent token claims through the broker (policy.agentClaims): the verifier keeps the mapped
 * claims of a verified agent token, the grant's decision reads them as principal.claims, a claim
 * of the wrong type is refused as unfit, and the claims' values reach neither the audit nor the log.
 */
import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SCHEMA_FILE } from '../../src/policy/policy_set.js';
import { startTestBroker, type TestBroker } from '../support/broker_harness.js';

const AGENT = 'spiffe://dev.local/agent/triage';
let qm: TestBroker;

function policyDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'qm-claims-e2e-'));
  for (const f of ['trust.cedar', 'tiers.cedar', 'ttl.cedar']) copyFileSync(join('config/policies', f), join(dir, f));
  const schema = readFileSync(join('config/policies', SCHEMA_FILE), 'utf8').replace(
    'type AgentClaims = {};',
    'type AgentClaims = { team?: String, ns?: String };',
  );
  writeFileSync(join(dir, SCHEMA_FILE), schema);
  writeFileSync(
    join(dir, 'claims.cedar'),
    `@id("ir-team-only")
forbid (principal, action == Quartermaster::Action::"issue", resource)
unless { principal.claims has team && principal.claims.team == "incident-response" };
`,
  );
  return dir;
}

beforeAll(async () => {
  qm = await startTestBroker({
    policy: { dir: policyDir(), agentClaims: { team: 'team', ns: ['kubernetes.io', 'namespace'] } },
  });
  const opened = await qm.request('POST', '/v1/incidents', {
    token: await qm.operatorToken(),
    body: { id: 'INC-C1', title: 't', severity: 'sev3' },
  });
  expect(opened.status).toBe(201);
});
afterAll(() => qm?.stop());

const ask = async (claims: Record<string, unknown>) =>
  qm.request('POST', '/v1/grants', {
    token: await qm.agentToken(AGENT, 600, undefined, claims),
    body: { incident_id: 'INC-C1', profile: 'demo', purpose: 'triage' },
  });

describe('agent claims in the grant decision', () => {
  it('issues to the agent whose token carries the claim, and refuses another value, none, or a wrong type', async () => {
    expect((await ask({ team: 'incident-response', 'kubernetes.io': { namespace: 'ir' } })).status).toBe(201);
    for (const claims of [{ team: 'sales' }, {}]) {
      const refused = await ask(claims);
      expect([refused.status, refused.body.error.decided_by]).toEqual([403, ['policy:ir-team-only']]);
    }
    const unfit = await ask({ team: ['incident-response'] });
    expect([unfit.status, unfit.body]).toEqual([
      403,
      { error: { code: 'ERR_POLICY_DENIED', message: 'the request is not allowed by policy', decided_by: ['policy:request-unfit'] } },
    ]);
  });

  it('keeps the claim values out of the audit and the log', async () => {
    const marker = 'claim-value-7f3a9c';
    const refused = await ask({ team: marker });
    expect(refused.status).toBe(403);
    const audit = await qm.request('GET', '/v1/audit?incident=INC-C1', { token: await qm.operatorToken() });
    expect(audit.status).toBe(200);
    expect(audit.body.events.some((e: { type: string }) => e.type === 'grant.denied')).toBe(true);
    expect(audit.text).not.toContain(marker);
    expect(qm.logs.text()).not.toContain(marker);
  });

  it('refuses to start when policy.agentClaims maps a claim the schema does not declare', async () => {
    await expect(startTestBroker({ policy: { dir: 'config/policies', agentClaims: { team: 'team' } } })).rejects.toThrow(
      /policy\.agentClaims maps "team", but the schema declares no Agent\.claims\.team/u,
    );
  });
});
