/**
 * The Cedar policy set (src/policy/): the shipped default policies pass their own decision table
 * (config/policies/policy_tests.yaml: allow and deny for every rule, the valid case first); a
 * directory that does not load names every problem as file:line: reason; and the CLI's `policy
 * validate` and `policy test` exit non-zero on a broken file and on a wrong expectation.
 */
import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadPolicySet, PolicyLoadError, readPolicyDir, SCHEMA_FILE } from '../../src/policy/policy_set.js';
import { parsePolicyTests, runPolicyTests } from '../../src/policy/policy_tests.js';
import { runCli } from '../support/cli.js';

const DIR = 'config/policies';
const TESTS = readFileSync(join(DIR, 'policy_tests.yaml'), 'utf8');

/** A copy of the shipped directory with `files` written over it. */
function policyDir(files: Record<string, string> = {}): string {
  const dir = mkdtempSync(join(tmpdir(), 'qm-policies-'));
  for (const f of [SCHEMA_FILE, 'approvals.cedar', 'trust.cedar', 'tiers.cedar', 'ttl.cedar']) copyFileSync(join(DIR, f), join(dir, f));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}
const problemsOf = (dir: string): readonly string[] => {
  try {
    readPolicyDir(dir);
  } catch (err) {
    if (err instanceof PolicyLoadError) return err.problems;
    throw err;
  }
  throw new Error('the directory loaded');
};

describe('the default policies', () => {
  // Loaded inside the tests (once), so mutation testing sees which tests cover the load.
  let loaded: ReturnType<typeof loadPolicySet> | undefined;
  const shipped = () => (loaded ??= loadPolicySet(readPolicyDir(DIR)));

  it.each(parsePolicyTests(TESTS).map((c) => [c.name, c] as const))('%s', (_name, c) => {
    const got = shipped().decide(c.request);
    expect({ effect: got.effect, policies: got.policyIds, errors: got.errors }).toEqual({
      effect: c.expect,
      policies: [...(c.policies ?? got.policyIds)].sort(),
      errors: [],
    });
  });

  it('has a case allowing and a case denying for every rule it ships', () => {
    const cases = runPolicyTests(shipped(), TESTS);
    expect(cases.every((c) => c.passed)).toBe(true);
    for (const id of Object.keys(shipped().source.policies)) {
      const decidedBy = cases.filter((c) => c.got.policyIds.includes(id));
      expect(decidedBy.length, `a case decided by ${id}`).toBeGreaterThan(0);
    }
    expect(cases.some((c) => c.got.effect === 'allow') && cases.some((c) => c.got.effect === 'deny')).toBe(true);
  });

  it('denies a request the schema does not type (a severity out of range)', () => {
    const [first] = parsePolicyTests(TESTS);
    const valid = shipped().decide(first!.request);
    expect(valid.effect).toBe('allow');
    const odd = shipped().decide({ ...first!.request, incident: { ...first!.request.incident, severity: 'high' as unknown as number } });
    expect(odd.effect).toBe('deny');
    expect(odd.errors.length).toBeGreaterThan(0);
  });
});

describe('loading a policy directory', () => {
  it('loads the shipped one, and names a syntax error by file and line', () => {
    expect(Object.keys(readPolicyDir(policyDir()).policies).sort()).toEqual([
      'quarantined-agents-get-nothing',
      'remediate-needs-approval',
      'tier-contain',
      'tier-contain-major',
      'tier-read',
      'tier-remediate',
      'trusted-trust-domains',
      'ttl-cap-contain',
      'ttl-cap-remediate',
    ]);
    const problems = problemsOf(
      policyDir({ 'extra.cedar': '// a comment\n\n@id("broken")\npermit (principal, action, resource)\nwhen { resource.tier == };\n' }),
    );
    expect(problems).toEqual([
      'extra.cedar:5: unexpected token `}`; expected `!`, `(`, `-`, `[`, `{`, `false`, identifier, `if`, number, `?principal`, `?resource`, string literal, or `true`',
    ]);
  });

  it('refuses a policy without an @id and an @id taken twice, naming where', () => {
    expect(problemsOf(policyDir({ 'extra.cedar': 'permit (principal, action, resource);\n' }))).toEqual([
      'extra.cedar:1: a policy needs an @id("…") annotation: decisions name policies by it',
    ]);
    expect(problemsOf(policyDir({ 'extra.cedar': '\n@id("tier-read")\npermit (principal, action, resource);\n' }))).toEqual([
      // Files load in name order: extra.cedar's comes first.
      'tiers.cedar:4: @id("tier-read") is taken by the policy at extra.cedar:2',
    ]);
  });

  it('refuses a policy the schema does not validate, by file and line', () => {
    const problems = problemsOf(
      policyDir({
        'extra.cedar':
          '@id("typo")\npermit (principal, action == Quartermaster::Action::"issue", resource)\nwhen { resource.teir == "read" };\n',
      }),
    );
    expect(problems).toEqual([
      'extra.cedar:3: for policy `typo`, attribute `teir` on entity type `Quartermaster::Profile` not found; did you mean `tier`?',
    ]);
  });

  it('refuses a directory without schema or without policies', () => {
    const empty = mkdtempSync(join(tmpdir(), 'qm-policies-empty-'));
    expect(problemsOf(empty)).toEqual([`${join(empty, SCHEMA_FILE)}: cannot be read`]);
    copyFileSync(join(DIR, SCHEMA_FILE), join(empty, SCHEMA_FILE));
    expect(problemsOf(empty)).toEqual([`${empty}: no .cedar policy file`]);
  });
});

describe('quartermaster policy validate / test', () => {
  it('validates the shipped policies (exit 0) and refuses a broken file (exit 1) naming file and line', async () => {
    const ok = await runCli(['policy', 'validate']);
    expect([ok.code, ok.stdout]).toEqual([0, 'config/policies: 12 policies load and validate\n']);
    const broken = await runCli([
      'policy',
      'validate',
      policyDir({ 'extra.cedar': '@id("x")\nforbid (principal, action, resource) when {;\n' }),
    ]);
    expect(broken.code).toBe(1);
    expect(broken.stderr).toMatch(/extra\.cedar:2: /u);
  });

  it('passes the shipped tests and fails a wrong expectation', async () => {
    const ok = await runCli(['policy', 'test']);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(/^24 passed, 0 failed$/mu);
    const file = join(mkdtempSync(join(tmpdir(), 'qm-policy-tests-')), 'wrong.yaml');
    writeFileSync(
      file,
      TESTS.replace(
        '  - name: an agent of another trust domain gets nothing\n    agent: { trustDomain: evil.example }\n    expect: deny',
        '  - name: an agent of another trust domain gets nothing\n    agent: { trustDomain: evil.example }\n    expect: allow',
      ),
    );
    const wrong = await runCli(['policy', 'test', file]);
    expect(wrong.code).toBe(1);
    expect(wrong.stdout).toMatch(
      /^FAIL an agent of another trust domain gets nothing: expected allow by \[trusted-trust-domains\], got deny by \[trusted-trust-domains\]$/mu,
    );
    expect(wrong.stdout).toMatch(/^23 passed, 1 failed$/mu);
  });
});
