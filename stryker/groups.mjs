// The module groups `npm run mutate` scores, each with its own Stryker config (one incremental
// file each, so a change in one group re-runs only its own changed mutants). The groups are where
// the broker's guarantees live; docs/testing.md has the scores and the equivalent survivors.
export const GROUPS = {
  revocation: ['src/revocation/**/*.ts'],
  grants: ['src/grants/**/*.ts'],
  policy: ['src/policy/**/*.ts'],
  catalog: ['src/catalog/provider_boundary.ts'],
  identity: ['src/identity/**/*.ts', 'src/strict_json.ts'],
  deviation: ['src/deviation/**/*.ts'],
  // The revocation report: what a close revoked and when, measured, never claimed (guarantee 7);
  // the close flow: the tombstone first, the kill at close, then the queue.
  incidents: ['src/incidents/revocation_report.ts', 'src/incidents/close_incident.ts'],
};

/**
 * Groups scored against their own tests rather than the whole suite (see the vitest config named),
 * their per-mutant timeout (identity mutants that make a key fetch hang would each wait the
 * default 10 s), and whether static mutants are left out: the identity tests build their world in
 * hooks, so 46 % of the group's mutants are static and each would re-run all 2 400 identity tests
 * (~50 s), hours per run. docs/testing.md gives the score with them, measured once.
 */
const OWN_TESTS = {
  identity: { configFile: 'stryker/vitest.identity.config.ts', timeoutMS: 3000, ignoreStatic: true },
  // policy_set.ts's module-level code (the V8 flag, the schema constants) makes static mutants,
  // each re-running the whole suite.
  policy: { ignoreStatic: true },
};

/** The Stryker options of one group. */
export function strykerConfig(group) {
  const mutate = GROUPS[group];
  if (!mutate) throw new Error(`unknown mutation group ${group}; known: ${Object.keys(GROUPS).join(', ')}`);
  const own = OWN_TESTS[group];
  return {
    testRunner: 'vitest',
    vitest: { configFile: own?.configFile ?? 'stryker/vitest.config.ts' },
    coverageAnalysis: 'perTest',
    mutate,
    incremental: true,
    incrementalFile: `stryker/incremental/${group}.json`,
    reporters: ['clear-text', 'progress', 'json', 'html'],
    jsonReporter: { fileName: `reports/mutation/${group}.json` },
    htmlReporter: { fileName: `reports/mutation/${group}.html` },
    clearTextReporter: { logTests: false, allowColor: false },
    thresholds: { high: 90, low: 85, break: 85 },
    concurrency: 2,
    timeoutMS: own?.timeoutMS ?? 10_000,
    // Static mutants (code run at module load or in hooks) re-run every selected test each; see OWN_TESTS.
    ignoreStatic: own?.ignoreStatic ?? false,
    tempDirName: '.stryker-tmp',
    cleanTempDir: 'always',
  };
}
