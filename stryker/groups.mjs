// The module groups `npm run mutate` scores, each with its own Stryker config (one incremental
// file each, so a change in one group re-runs only its own changed mutants). The groups are where
// the broker's guarantees live; docs/testing.md has the scores and the equivalent survivors.
export const GROUPS = {
  revocation: ['src/revocation/**/*.ts'],
  grants: ['src/grants/**/*.ts'],
  catalog: ['src/catalog/provider_boundary.ts'],
  identity: ['src/identity/**/*.ts', 'src/strict_json.ts'],
};

/** The Stryker options of one group. */
export function strykerConfig(group) {
  const mutate = GROUPS[group];
  if (!mutate) throw new Error(`unknown mutation group ${group}; known: ${Object.keys(GROUPS).join(', ')}`);
  return {
    testRunner: 'vitest',
    vitest: { configFile: 'stryker/vitest.config.ts' },
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
    timeoutMS: 10_000,
    tempDirName: '.stryker-tmp',
    cleanTempDir: 'always',
  };
}
