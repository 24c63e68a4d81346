/**
 * The identity group's own tests, as Stryker runs them for that group (stryker/groups.mjs). The
 * verifier tests build their world in hooks, so Stryker sees most identity code as "static"
 * (run outside any one test) and re-runs every test for each such mutant: against the whole suite
 * that is about a minute per mutant, ~16 h for the group. Against these tests it is seconds. A
 * score against fewer tests can only be lower: it is a lower bound on the whole suite's.
 */
import { defineConfig, mergeConfig } from 'vitest/config';
import base from '../vitest.config.js';

export default mergeConfig(
  base,
  defineConfig({
    test: {
      include: ['test/identity/**/*.test.ts', 'test/strict_json.test.ts'],
    },
  }),
);
