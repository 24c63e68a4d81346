/**
 * The suite as Stryker runs it (npm run mutate): the whole vitest suite minus the tests that
 * exercise the broker in child processes (crash recovery, the CLI), which run un-mutated code and
 * cannot kill a mutant; the logic they guard has in-process tests with injected faults.
 */
import { defineConfig, mergeConfig } from 'vitest/config';
import base from '../vitest.config.js';

export default mergeConfig(
  base,
  defineConfig({
    test: {
      exclude: ['test/e2e/crash_recovery.test.ts', 'test/cli/**', 'test/providers/vault_real.test.ts', 'node_modules/**'],
    },
  }),
);
