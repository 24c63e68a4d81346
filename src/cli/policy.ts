/**
 * `quartermaster policy validate [dir]` and `quartermaster policy test [file] [--policies dir]`
 * (src/policy/, docs/policy.md): for CI, they exit 0 only when the set loads (every file parses,
 * every policy has a unique @id and validates against the schema) and, for `test`, when every
 * decision case gets the decision and deciding policies it expects.
 */
import { readFileSync } from 'node:fs';
import { loadPolicySet, PolicyLoadError, readPolicyDir } from '../policy/policy_set.js';
import { runPolicyTests } from '../policy/policy_tests.js';
import { CliRefusal, command, parseOptions } from './cli_support.js';
import { EXIT_FAILURE, EXIT_OK } from './command.js';

export const DEFAULT_POLICY_DIR = 'config/policies';
const DEFAULT_TESTS = 'config/policies/policy_tests.yaml';

const loadOrReport = (dir: string, stderr: (text: string) => void) => {
  try {
    return loadPolicySet(readPolicyDir(dir));
  } catch (err) {
    if (err instanceof PolicyLoadError) {
      stderr(`${err.message}\n`);
      return null;
    }
    throw err;
  }
};

export const policyValidateCommand = command({
  words: ['policy', 'validate'],
  summary: 'check that a policy directory loads: every file parses, every policy has an @id and validates',
  usage: `Usage: quartermaster policy validate [dir]

Loads the policy directory (default ${DEFAULT_POLICY_DIR}: schema.cedarschema and *.cedar) as
the broker would, and names every problem as file:line: reason. Exit 0 when it loads, 1 when not.
`,
  async run(args, io) {
    const { positionals } = parseOptions(args, {}, true);
    if (positionals.length > 1) throw new CliRefusal('give at most one directory', true);
    const dir = positionals[0] ?? DEFAULT_POLICY_DIR;
    const set = loadOrReport(dir, io.stderr);
    if (set === null) return EXIT_FAILURE;
    io.stdout(`${dir}: ${Object.keys(set.source.policies).length} policies load and validate\n`);
    return EXIT_OK;
  },
});

export const policyTestCommand = command({
  words: ['policy', 'test'],
  summary: 'run decision cases (YAML) against a policy directory',
  usage: `Usage: quartermaster policy test [file] [--policies <dir>]

Runs the decision cases in file (default ${DEFAULT_TESTS}) against the policy directory (default
${DEFAULT_POLICY_DIR}): each case a request and the decision (allow or deny) and deciding policy
ids it must get; the file's signals section, a deviation signal and the outcome it must get (none,
revoke_in_incident, revoke_everywhere, quarantine). Prints one line per case; exit 0 when all
pass, 1 when any fails.
`,
  async run(args, io) {
    const { values, positionals } = parseOptions(args, { policies: { type: 'string' } }, true);
    if (positionals.length > 1) throw new CliRefusal('give at most one test file', true);
    const file = positionals[0] ?? DEFAULT_TESTS;
    const set = loadOrReport(values.policies ?? DEFAULT_POLICY_DIR, io.stderr);
    if (set === null) return EXIT_FAILURE;
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      throw new CliRefusal(`${file} cannot be read`);
    }
    let results;
    try {
      results = runPolicyTests(set, text);
    } catch (err) {
      throw new CliRefusal(`${file}: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}`);
    }
    for (const r of results) {
      const got = `${r.got.effect} by [${r.got.policyIds.join(', ')}]${r.got.errors.length > 0 ? ` errors: ${r.got.errors.join('; ')}` : ''}`;
      const wanted = `${r.expected.effect}${r.expected.policies ? ` by [${[...r.expected.policies].sort().join(', ')}]` : ''}`;
      io.stdout(`${r.passed ? 'ok  ' : 'FAIL'} ${r.name}${r.passed ? '' : `: expected ${wanted}, got ${got}`}\n`);
    }
    const failed = results.filter((r) => !r.passed).length;
    io.stdout(`${results.length - failed} passed, ${failed} failed\n`);
    return failed === 0 ? EXIT_OK : EXIT_FAILURE;
  },
});
