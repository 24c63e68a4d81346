/**
 * Rolling out a policy change: a reload swaps the set in whole, a set that does not load keeps the
 * old one serving (with a metric and an error log naming file and line), a file change reloads on
 * its own, and a shadow set's differing decisions are counted and logged while the enforced set's
 * decisions stand.
 */
import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../src/logging.js';
import { createMetrics } from '../../src/metrics.js';
import { createPolicyEngine } from '../../src/policy/policy_engine.js';
import { parsePolicyTests } from '../../src/policy/policy_tests.js';
import { createLogCapture, type LogCapture } from '../support/log_capture.js';
import { eventually } from '../support/eventually.js';

const SHIPPED = 'config/policies';
const parsed = (logs: LogCapture): Array<Record<string, any>> => logs.lines.map((l) => JSON.parse(l) as Record<string, any>);
const FILES = ['schema.cedarschema', 'trust.cedar', 'tiers.cedar', 'ttl.cedar'];
const copyOfShipped = (): string => {
  const dir = mkdtempSync(join(tmpdir(), 'qm-engine-'));
  for (const f of FILES) copyFileSync(join(SHIPPED, f), join(dir, f));
  return dir;
};
/** The shipped decision table's first case: a read by a dev.local agent, allowed by tier-read. */
const READ = parsePolicyTests(readFileSync(join(SHIPPED, 'policy_tests.yaml'), 'utf8'))[0]!.request;
const count = async (
  metrics: ReturnType<typeof createMetrics>,
  name: 'policyReloads' | 'policyShadowDifferences',
  labels: Record<string, string>,
) =>
  (await metrics[name].get()).values.find((v) => Object.entries(labels).every(([k, x]) => (v.labels as Record<string, unknown>)[k] === x))
    ?.value ?? 0;

describe('policy reloads', () => {
  it('swaps in a valid change whole, and keeps the old set serving when the new one does not load', async () => {
    const dir = copyOfShipped();
    const logs = createLogCapture();
    const metrics = createMetrics({ defaultMetrics: false });
    const engine = createPolicyEngine({ dir, watchFiles: false, logger: createLogger({ level: 'info', destination: logs }), metrics });
    expect(engine.decide(READ)).toMatchObject({ effect: 'allow', policyIds: ['tier-read'] });
    // A change that does not parse: the old set keeps deciding.
    writeFileSync(join(dir, 'trust.cedar'), readFileSync(join(dir, 'trust.cedar'), 'utf8').replace('unless {', 'unless {{'));
    expect(engine.reload()).toEqual({ enforced: 'kept' });
    expect(engine.decide(READ)).toMatchObject({ effect: 'allow', policyIds: ['tier-read'] });
    expect(await count(metrics, 'policyReloads', { set: 'enforced', outcome: 'failed' })).toBe(1);
    const line = parsed(logs).find((l) => l.msg === 'policy set does not load; the previous set keeps serving');
    expect(line?.problems).toEqual([expect.stringMatching(/^trust\.cedar:\d+: /u)]);
    // A valid change: dev.local is no longer trusted.
    writeFileSync(
      join(dir, 'trust.cedar'),
      readFileSync(join(SHIPPED, 'trust.cedar'), 'utf8').replace('["dev.local"]', '["prod.example.com"]'),
    );
    expect(engine.reload()).toEqual({ enforced: 'reloaded' });
    expect(engine.decide(READ)).toMatchObject({ effect: 'deny', policyIds: ['trusted-trust-domains'] });
    expect(await count(metrics, 'policyReloads', { set: 'enforced', outcome: 'reloaded' })).toBe(1);
    engine.close();
  });

  it('reloads on its own when a file of the directory changes', async () => {
    const dir = copyOfShipped();
    const metrics = createMetrics({ defaultMetrics: false });
    const engine = createPolicyEngine({ dir, logger: createLogger({ level: 'silent' }), metrics });
    expect(engine.decide(READ).effect).toBe('allow');
    writeFileSync(
      join(dir, 'trust.cedar'),
      readFileSync(join(SHIPPED, 'trust.cedar'), 'utf8').replace('["dev.local"]', '["prod.example.com"]'),
    );
    await eventually(async () => engine.decide(READ).effect === 'deny', 10_000);
    expect(await count(metrics, 'policyReloads', { set: 'enforced', outcome: 'reloaded' })).toBeGreaterThanOrEqual(1);
    engine.close();
  });

  it('counts and logs where the shadow set decides otherwise, and enforces only the enforced set', async () => {
    const shadowDir = copyOfShipped();
    writeFileSync(
      join(shadowDir, 'tiers.cedar'),
      readFileSync(join(SHIPPED, 'tiers.cedar'), 'utf8').replace(
        'resource.tier == "read" &&',
        'resource.tier == "read" && context.incident.severity <= 1 &&',
      ),
    );
    const logs = createLogCapture();
    const metrics = createMetrics({ defaultMetrics: false });
    const engine = createPolicyEngine({
      dir: SHIPPED,
      shadowDir,
      watchFiles: false,
      logger: createLogger({ level: 'info', destination: logs }),
      metrics,
    });
    // The same decision where both agree (a sev1 read): nothing counted.
    expect(engine.decide({ ...READ, incident: { ...READ.incident, severity: 1 } }).effect).toBe('allow');
    expect(await count(metrics, 'policyShadowDifferences', { enforced: 'allow', shadow: 'deny' })).toBe(0);
    // A sev2 read: the shadow would deny; the enforced set allows, and that is the decision.
    expect(engine.decide(READ)).toMatchObject({ effect: 'allow', policyIds: ['tier-read'] });
    expect(await count(metrics, 'policyShadowDifferences', { enforced: 'allow', shadow: 'deny' })).toBe(1);
    expect(parsed(logs).filter((l) => l.msg === 'shadow policy decides otherwise (not enforced)')).toHaveLength(1);
    engine.close();
  });
});

describe('a shadow set that does not load', () => {
  it('is reported at start and on reload, never stopping the enforced set; fixed, it loads on the next reload', async () => {
    const dir = copyOfShipped();
    const shadowDir = copyOfShipped();
    writeFileSync(join(shadowDir, 'trust.cedar'), 'permit (principal, action, resource);\n');
    const logs = createLogCapture();
    const metrics = createMetrics({ defaultMetrics: false });
    const engine = createPolicyEngine({
      dir,
      shadowDir,
      watchFiles: false,
      logger: createLogger({ level: 'info', destination: logs }),
      metrics,
    });
    expect(parsed(logs).find((l) => l.msg === 'shadow policy set does not load')).toMatchObject({
      dir: shadowDir,
      problems: [expect.stringMatching(/^trust\.cedar:1: a policy needs an @id/u)],
    });
    expect(engine.decide(READ)).toMatchObject({ effect: 'allow', policyIds: ['tier-read'] });
    expect(engine.reload()).toEqual({ enforced: 'reloaded', shadow: 'kept' });
    expect(await count(metrics, 'policyReloads', { set: 'shadow', outcome: 'failed' })).toBe(1);
    copyFileSync(join(SHIPPED, 'trust.cedar'), join(shadowDir, 'trust.cedar'));
    expect(engine.reload()).toEqual({ enforced: 'reloaded', shadow: 'reloaded' });
    expect(
      parsed(logs)
        .filter((l) => l.msg === 'policy set reloaded')
        .map((l) => [l.set, l.policies]),
    ).toEqual([
      ['enforced', 8],
      ['enforced', 8],
      ['shadow', 8],
    ]);
    engine.close();
  });

  it('warns when a directory cannot be watched, and still serves', () => {
    const logs = createLogCapture();
    const missing = join(tmpdir(), `qm-no-such-dir-${process.pid}`);
    const engine = createPolicyEngine({
      dir: copyOfShipped(),
      shadowDir: missing,
      logger: createLogger({ level: 'info', destination: logs }),
      metrics: createMetrics({ defaultMetrics: false }),
    });
    expect(parsed(logs).find((l) => l.msg === 'policy directory not watched; reload with SIGHUP')).toMatchObject({ dir: missing });
    expect(engine.decide(READ).effect).toBe('allow');
    engine.close();
  });
});

describe('the engine and the claims mapping', () => {
  it('loads a shadow set that declares fewer of the mapped claims than the enforced one', () => {
    const withClaims = (dir: string) =>
      writeFileSync(
        join(dir, 'schema.cedarschema'),
        readFileSync(join(SHIPPED, 'schema.cedarschema'), 'utf8').replace(
          'type AgentClaims = {};',
          'type AgentClaims = { team?: String };',
        ),
      );
    const dir = copyOfShipped();
    withClaims(dir);
    const logs = createLogCapture();
    const engine = createPolicyEngine({
      dir,
      shadowDir: copyOfShipped(),
      watchFiles: false,
      agentClaims: ['team'],
      logger: createLogger({ level: 'info', destination: logs }),
      metrics: createMetrics({ defaultMetrics: false }),
    });
    expect(parsed(logs).find((l) => l.msg === 'shadow policy set does not load')).toBeUndefined();
    expect(engine.reload()).toEqual({ enforced: 'reloaded', shadow: 'reloaded' });
    // The enforced set must declare every mapped claim.
    expect(() =>
      createPolicyEngine({
        dir: copyOfShipped(),
        watchFiles: false,
        agentClaims: ['team'],
        logger: createLogger({ level: 'silent' }),
        metrics: createMetrics({ defaultMetrics: false }),
      }),
    ).toThrow(/policy\.agentClaims maps "team"/u);
    engine.close();
  });

  it('answers the annotations of an enforced policy, and none for an unknown one', () => {
    const dir = copyOfShipped();
    copyFileSync(join(SHIPPED, 'approvals.cedar'), join(dir, 'approvals.cedar'));
    const engine = createPolicyEngine({
      dir,
      watchFiles: false,
      logger: createLogger({ level: 'silent' }),
      metrics: createMetrics({ defaultMetrics: false }),
    });
    expect(engine.annotations('remediate-needs-approval')).toEqual({ quorum: '2' });
    expect(engine.annotations('tier-read')).toEqual({});
    expect(engine.annotations('no-such-policy')).toEqual({});
    engine.close();
  });
});
