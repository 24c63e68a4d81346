// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'coverage/**', 'var/**', 'helm/**', 'reports/**', '.stryker-tmp/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      'no-console': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      // Prettier wraps code at 140; this holds comments to the same width. Long literals (a
      // message, a fixture token, a URL) are left whole: splitting them hides what they say.
      'max-len': ['error', { code: 140, ignoreStrings: true, ignoreTemplateLiterals: true, ignoreRegExpLiterals: true, ignoreUrls: true }],
    },
  },
  {
    // Providers see only the public contract (CONTRIBUTING.md #3): no store, no http, no config loading.
    files: ['providers/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { regex: '^(\\.\\./)+src/(?!sdk(\\.js)?$)', message: 'providers may import only src/sdk.ts' },
            { group: ['ioredis', 'express', 'node:process'], message: 'providers never touch Redis, HTTP routing or process.env' },
          ],
        },
      ],
      'no-restricted-globals': [
        'error',
        { name: 'process', message: 'providers never read process.env; take dependencies through create(config, deps)' },
      ],
    },
  },
  {
    // One way into every flow: HTTP routes call the domain (incidents/, grants/, maintenance/),
    // never the store, so the CLI and later front ends call exactly what HTTP calls.
    files: ['src/http/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          patterns: [{ group: ['**/store/*'], allowTypeImports: true, message: 'HTTP code calls domain flows, not the store' }],
        },
      ],
      'no-restricted-syntax': [
        'error',
        {
          selector: "MemberExpression[object.name='deps'][property.name='store']",
          message: 'HTTP code calls domain flows, not the store',
        },
      ],
    },
  },
  {
    // Tests read JSON response bodies loosely; production code may not.
    files: ['test/**/*.ts'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
  {
    files: ['src/cli/**/*.ts', 'bench/**/*.ts'],
    rules: { 'no-console': 'off' },
  },
);
