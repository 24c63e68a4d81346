/**
 * The README keeps its promises: the one install line of the system packages the suite needs is
 * the list `npm test` checks first (scripts/system_packages.mjs), and .ci/run installs from it.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { installLine, SYSTEM_PACKAGES } from '../../scripts/system_packages.mjs';

describe('README', () => {
  const readme = readFileSync('README.md', 'utf8');

  it('names every system package the suite needs, in the one install line npm test prints', () => {
    expect(SYSTEM_PACKAGES.map((p) => p.name)).toContain('redis-server');
    expect(readme).toContain(installLine());
  });

  it('is what npm test and CI start with', () => {
    const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { scripts: Record<string, string> };
    expect(pkg.scripts.test?.startsWith('node scripts/check_system.mjs && ')).toBe(true);
    expect(readFileSync('.ci/run', 'utf8')).toContain('node scripts/check_system.mjs --missing');
    expect(readme).toMatch(/npm ci && npm start/u);
  });
});
