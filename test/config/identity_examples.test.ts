/**
 * The identity examples of docs/identity.md are real config: each file in config/examples/ loads
 * with the real loader (inside an otherwise complete config), and the page shows each file
 * unchanged, so the documentation cannot drift from what parses.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { testConfigObject } from '../support/test_config.js';

const ROOT = join(import.meta.dirname, '../..');
const EXAMPLES = join(ROOT, 'config/examples');
const files = readdirSync(EXAMPLES).filter((f) => f.startsWith('identity-') && f.endsWith('.yaml'));
const doc = readFileSync(join(ROOT, 'docs/identity.md'), 'utf8');
const yamlBlocks = [...doc.matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => m[1]);

describe('identity examples', () => {
  it('exist for SPIRE, Kubernetes and GitHub Actions', () => {
    expect(files.sort()).toEqual(['identity-github-actions.yaml', 'identity-kubernetes.yaml', 'identity-spire.yaml']);
  });

  it.each(files)('%s loads with the real config loader', (file) => {
    const text = readFileSync(join(EXAMPLES, file), 'utf8');
    const { identity } = parse(text) as { identity: unknown };
    const config = parseConfig(stringify({ ...testConfigObject({ keyDir: '/tmp/qm-unused' }), identity }), file);
    expect(config.identity.agents.spiffe.length + config.identity.agents.oidc.length).toBeGreaterThan(0);
  });

  it.each(files)('%s appears in docs/identity.md unchanged', (file) => {
    expect(yamlBlocks).toContain(readFileSync(join(EXAMPLES, file), 'utf8'));
  });
});
