/**
 * SIGHUP reloads the policy set of a running broker process (src/main.ts): a change to the policy
 * directory takes effect without a restart, and a change that does not load keeps the previous
 * set serving.
 */
import type { ChildProcess } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { afterAll, describe, expect, it } from 'vitest';
import { callBroker, devTokens, spawnBrokerProcess } from '../support/broker_process.js';
import { eventually } from '../support/eventually.js';
import { testConfigObject } from '../support/test_config.js';

let child: ChildProcess | undefined;
afterAll(() => {
  if (child && child.exitCode === null) child.kill('SIGKILL');
});

describe('policy reload on SIGHUP', () => {
  it('takes a valid change at once and keeps serving the old set through a broken one', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'qm-policy-reload-'));
    const policies = join(dir, 'policies');
    mkdirSync(policies);
    for (const f of ['schema.cedarschema', 'trust.cedar', 'tiers.cedar', 'ttl.cedar'])
      copyFileSync(join('config/policies', f), join(policies, f));
    const keyDir = join(dir, 'keys');
    const configFile = join(dir, 'quartermaster.yaml');
    writeFileSync(configFile, stringify(testConfigObject({ keyDir, policy: { dir: policies, watch: false } })));
    const broker = await spawnBrokerProcess('test/support/receiver_broker_child.ts', configFile);
    child = broker.proc;
    const { operator, agent } = await devTokens(keyDir);
    const call = (path: string, token: string, body: unknown) => callBroker(broker.url, 'POST', path, token, body);
    expect((await call('/v1/incidents', operator, { id: 'INC-HUP', title: 't', severity: 'sev2' })).status).toBe(201);
    const ask = () => call('/v1/grants', agent, { incident_id: 'INC-HUP', profile: 'demo', purpose: 'p' });
    expect((await ask()).status).toBe(201);

    // Broken: SIGHUP keeps the old set serving.
    const trust = readFileSync(join(policies, 'trust.cedar'), 'utf8');
    writeFileSync(join(policies, 'trust.cedar'), trust.replace('unless {', 'unless {{'));
    child.kill('SIGHUP');
    // Valid: dev.local no longer trusted; after SIGHUP the agent is refused by that policy.
    const metrics = async () => (await fetch(`${broker.url}/metrics`)).text();
    await eventually(async () => /quartermaster_policy_reloads_total\{set="enforced",outcome="failed"\} 1/u.test(await metrics()));
    expect((await ask()).status).toBe(201);
    writeFileSync(join(policies, 'trust.cedar'), trust.replace('["dev.local"]', '["prod.example.com"]'));
    child.kill('SIGHUP');
    const refused = await eventually(async () => {
      const r = await ask();
      return r.status === 403 ? r : null;
    });
    expect(refused.body.error.decided_by).toEqual(['policy:trusted-trust-domains']);
  });
});
