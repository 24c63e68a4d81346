/**
 * Identity shows on /metrics: refused tokens by endpoint kind and code, and key-set refreshes by
 * key set and outcome, so a trust outage or a wave of bad tokens can be alerted on.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startTestBroker, type TestBroker } from '../support/broker_harness.js';

let qm: TestBroker;
beforeAll(async () => {
  qm = await startTestBroker();
});
afterAll(async () => qm.stop());

const metric = (text: string, pattern: RegExp): number => Number(pattern.exec(text)?.[1] ?? 0);

it('counts refused tokens by kind and code, and not accepted ones', async () => {
  const agent = await qm.agentToken('spiffe://dev.local/agent/triage');
  expect((await qm.request('GET', '/v1/profiles', { token: agent })).status).toBe(200);
  const before = (await qm.request('GET', '/metrics')).text;
  expect(metric(before, /^quartermaster_token_refusals_total\{kind="agent",code="ERR_TOKEN_MALFORMED"\} (\d+)$/mu)).toBe(0);

  expect((await qm.request('GET', '/v1/profiles', { token: 'not.a.jwt' })).status).toBe(401);
  expect((await qm.request('GET', '/v1/profiles', { token: 'not.a.jwt' })).status).toBe(401);
  expect((await qm.request('GET', '/v1/audit', { token: agent })).status).toBe(401); // an agent token on an operator endpoint
  const after = (await qm.request('GET', '/metrics')).text;
  expect(metric(after, /^quartermaster_token_refusals_total\{kind="agent",code="ERR_TOKEN_MALFORMED"\} (\d+)$/mu)).toBe(2);
  expect(metric(after, /^quartermaster_token_refusals_total\{kind="operator",code="ERR_TOKEN_ISSUER_UNTRUSTED"\} (\d+)$/mu)).toBe(1);
  // Nothing secret in a label: codes and kinds only.
  expect(after).not.toContain(agent);
});

it('counts key-set refreshes by key set and outcome', async () => {
  const text = (await qm.request('GET', '/metrics')).text;
  const ok = [...text.matchAll(/^quartermaster_key_set_refreshes_total\{key_set="([^"]+)",outcome="ok"\} (\d+)$/gmu)];
  expect(ok.length).toBeGreaterThanOrEqual(2); // the dev trust domain's bundle and the operator issuer's keys
  for (const [, , count] of ok) expect(Number(count)).toBeGreaterThanOrEqual(1);
});
