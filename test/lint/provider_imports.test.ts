/**
 * The layering rule of CONTRIBUTING.md #3, as ESLint enforces it: a provider may import the public
 * contract (src/sdk.ts) and nothing else of core, nor Redis, express or process.env.
 */
import { ESLint } from 'eslint';
import { describe, expect, it } from 'vitest';

const lint = async (code: string): Promise<string[]> => {
  const eslint = new ESLint({ cwd: process.cwd() });
  const [result] = await eslint.lintText(code, { filePath: 'providers/example/index.ts' });
  return (result?.messages ?? []).map((m) => m.ruleId ?? m.message);
};

describe('providers import only the public contract', () => {
  it('accepts an import of src/sdk.ts', async () => {
    expect(await lint("import { providerFailed } from '../../src/sdk.js';\nexport const x = providerFailed;\n")).toEqual([]);
  });
  it('rejects an import of the store', async () => {
    expect(await lint("import type { Store } from '../../src/store/store.js';\nexport type X = Store;\n")).toContain(
      'no-restricted-imports',
    );
  });
  it('rejects an import of config loading', async () => {
    expect(await lint("import { loadConfigFile } from '../../src/config/load.js';\nexport const x = loadConfigFile;\n")).toContain(
      'no-restricted-imports',
    );
  });
  it('rejects ioredis and express', async () => {
    expect(await lint("import { Redis } from 'ioredis';\nexport const x = Redis;\n")).toContain('no-restricted-imports');
    expect(await lint("import express from 'express';\nexport const x = express;\n")).toContain('no-restricted-imports');
  });
  it('rejects reading process.env', async () => {
    expect(await lint('export const addr = process.env.VAULT_ADDR;\n')).toContain('no-restricted-globals');
  });
});
