/**
 * Deviation outcomes decided by a policy set (src/policy/signal_policy.ts): the strongest permitted
 * outcome action wins; a forbid of one outcome leaves the weaker ones; a schema without the outcome
 * actions decides `none` for every signal and says so; the shipped cases pass (policy_tests.yaml
 * `signals`), each deviation policy deciding at least one.
 */
import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadPolicySet, readPolicyDir, SCHEMA_FILE } from '../../src/policy/policy_set.js';
import { parseSignalTests, runPolicyTests } from '../../src/policy/policy_tests.js';
import type { SignalPolicyRequest } from '../../src/policy/signal_policy.js';

const DIR = 'config/policies';
const TESTS = readFileSync(join(DIR, 'policy_tests.yaml'), 'utf8');
const [first] = parseSignalTests(TESTS);
const base = first!.request;
const withSeverity = (severity: SignalPolicyRequest['signal']['severity']): SignalPolicyRequest => ({
  ...base,
  signal: { ...base.signal, severity },
});

function setOf(files: Record<string, string>, schema = readFileSync(join(DIR, SCHEMA_FILE), 'utf8')) {
  const dir = mkdtempSync(join(tmpdir(), 'qm-signal-policies-'));
  writeFileSync(join(dir, SCHEMA_FILE), schema);
  copyFileSync(join(DIR, 'trust.cedar'), join(dir, 'trust.cedar'));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return loadPolicySet(readPolicyDir(dir));
}

describe('signal outcomes', () => {
  it('passes the shipped signal cases, each deviation policy deciding one', () => {
    const shipped = loadPolicySet(readPolicyDir(DIR));
    const results = runPolicyTests(shipped, TESTS).slice(-parseSignalTests(TESTS).length);
    expect(results.filter((r) => !r.passed)).toEqual([]);
    for (const id of ['deviation-revokes-in-incident', 'deviation-high-revokes-everywhere', 'deviation-critical-quarantines'])
      expect(
        results.some((r) => r.got.policyIds.includes(id)),
        id,
      ).toBe(true);
  });

  it('applies the strongest permitted outcome; a forbid of one leaves the weaker ones', () => {
    const deviation = readFileSync(join(DIR, 'deviation.cedar'), 'utf8');
    const shipped = setOf({ 'deviation.cedar': deviation });
    expect(shipped.decideSignal(withSeverity('critical'))).toMatchObject({
      outcome: 'quarantine',
      policyIds: ['deviation-critical-quarantines'],
    });
    const noQuarantine = setOf({
      'deviation.cedar': deviation,
      'never.cedar':
        '@id("siem-never-quarantines")\nforbid (principal, action == Quartermaster::Action::"quarantine", resource)\nwhen { resource.source == "siem" };\n',
    });
    expect(noQuarantine.decideSignal(withSeverity('critical'))).toMatchObject({
      outcome: 'revoke_everywhere',
      policyIds: ['deviation-high-revokes-everywhere'],
      declared: true,
    });
    // Another source is not touched by that forbid.
    expect(
      noQuarantine.decideSignal({ ...withSeverity('critical'), signal: { ...base.signal, severity: 'critical', source: 'edr' } }).outcome,
    ).toBe('quarantine');
  });

  it('reads the incident only when the signal concerns one (context has incident)', () => {
    const set = setOf({
      'sev1.cedar':
        '@id("sev1-revokes")\npermit (principal, action == Quartermaster::Action::"revokeInIncident", resource)\nwhen { context has incident && context.incident.severity == 1 };\n',
    });
    const sev1 = { ...base, incident: { ...base.incident!, severity: 1 } };
    expect(set.decideSignal(sev1)).toMatchObject({ outcome: 'revoke_in_incident', policyIds: ['sev1-revokes'], errors: [] });
    expect(set.decideSignal(base)).toEqual({ outcome: 'none', policyIds: [], errors: [], declared: true });
    const about: SignalPolicyRequest = { agent: base.agent, signal: base.signal, quarantined: false, hour: 12 };
    expect(set.decideSignal(about)).toMatchObject({ outcome: 'none', errors: [] });
  });

  it('names every permit that chose the outcome, sorted, and reports a request the schema refuses', () => {
    const both = setOf({
      'two.cedar':
        '@id("z-medium-revokes")\npermit (principal, action == Quartermaster::Action::"revokeInIncident", resource)\nwhen { resource.severity == "medium" };\n' +
        '@id("a-siem-revokes")\npermit (principal, action == Quartermaster::Action::"revokeInIncident", resource)\nwhen { resource.source == "siem" };\n',
    });
    expect(both.decideSignal(base)).toEqual({
      outcome: 'revoke_in_incident',
      policyIds: ['a-siem-revokes', 'z-medium-revokes'],
      errors: [],
      declared: true,
    });
    // A value of the wrong type (the broker never sends one) is refused by the schema: no outcome, the errors named.
    const unfit = both.decideSignal({ ...base, hour: 'noon' as unknown as number });
    expect(unfit.outcome).toBe('none');
    expect(unfit.errors.length).toBe(3);
    expect(unfit.errors.every((e) => /^(revokeInIncident|revokeEverywhere|quarantine): /u.test(e))).toBe(true);
  });

  it('decides none for every signal under a schema without the outcome actions, and says so', () => {
    const schema = readFileSync(join(DIR, SCHEMA_FILE), 'utf8');
    const old = schema.slice(0, schema.indexOf('  // A deviation signal')) + '}\n';
    const set = setOf({}, old);
    expect(set.source.signalActions).toBe(false);
    expect(set.decideSignal(withSeverity('critical'))).toEqual({ outcome: 'none', policyIds: [], errors: [], declared: false });
    expect(setOf({}).source.signalActions).toBe(true);
  });
});
