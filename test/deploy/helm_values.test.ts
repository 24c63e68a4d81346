/**
 * What can be checked of the Helm chart without helm (helm/quartermaster/README.md "Testing the
 * chart" has the rest): values.yaml and every file under ci/ validate against values.schema.json,
 * which refuses unknown keys; the broker config the ConfigMap renders from the default values —
 * `.config` with the keys the chart sets (templates/_helpers.tpl quartermaster.brokerConfig) —
 * passes the broker's own config validation, the same code as boot; and the chart's copy of the
 * Cedar policies is the shipped one, and its policy ConfigMap carries what the broker reads of it.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Ajv } from 'ajv';
import { parse, stringify } from 'yaml';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { loadPolicySet, readPolicyDir, SCHEMA_FILE } from '../../src/policy/policy_set.js';

const CHART = 'helm/quartermaster';
const schema = JSON.parse(readFileSync(join(CHART, 'values.schema.json'), 'utf8')) as object;
const validate = new Ajv({ allErrors: true, strict: false }).compile(schema);
const defaults = parse(readFileSync(join(CHART, 'values.yaml'), 'utf8')) as Record<string, any>;
const ciFiles = readdirSync(join(CHART, 'ci')).filter((f) => f.endsWith('.yaml'));

/** Helm's merge of user values over the defaults: maps merge, anything else replaces, null removes. */
function merge(base: unknown, over: unknown): unknown {
  if (over === null) return undefined;
  if (typeof base !== 'object' || base === null || Array.isArray(base) || typeof over !== 'object' || Array.isArray(over)) return over;
  const out: Record<string, unknown> = { ...(base as Record<string, unknown>) };
  for (const [k, v] of Object.entries(over as Record<string, unknown>)) {
    const merged = merge(out[k], v);
    if (merged === undefined) delete out[k];
    else out[k] = merged;
  }
  return out;
}

/** The keys quartermaster.brokerConfig sets over `.Values.config` (its comment in configmap.yaml says the same). */
function brokerConfig(values: Record<string, any>): Record<string, any> {
  const config = structuredClone(values.config) as Record<string, any>;
  config.mode = 'production';
  config.server = { ...config.server, host: '0.0.0.0', port: Number(values.containerPorts?.http ?? 8080) };
  if (values.metricsListener?.enabled) config.server.metricsListener = { host: '0.0.0.0', port: Number(values.containerPorts.metrics) };
  config.policy = { ...config.policy, dir: '/etc/quartermaster/policies' };
  return config;
}

/**
 * The files of a policy directory the chart's policy ConfigMap carries (templates/_helpers.tpl
 * quartermaster.isPolicyFile): the ones readPolicyDir reads, schema.cedarschema and *.cedar.
 */
const configMapFiles = (dir: string): string[] =>
  readdirSync(dir)
    .filter((f) => f === SCHEMA_FILE || f.endsWith('.cedar'))
    .sort();

const errorsOf = (value: unknown): string[] =>
  validate(value) ? [] : (validate.errors ?? []).map((e) => `${e.instancePath} ${e.message} ${JSON.stringify(e.params)}`);

describe('the chart values', () => {
  it('values.yaml and every ci/ file validate against values.schema.json', () => {
    expect(ciFiles.length).toBeGreaterThanOrEqual(2);
    expect(errorsOf(defaults)).toEqual([]);
    for (const file of ciFiles) {
      const values = parse(readFileSync(join(CHART, 'ci', file), 'utf8')) ?? {};
      expect(errorsOf(values), file).toEqual([]);
      expect(errorsOf(merge(defaults, values)), `${file} over the defaults`).toEqual([]);
    }
  });

  it.each([
    ['an unknown top-level key', { replicas: 3 }],
    ['an unknown key in image', { image: { tagg: '1.0' } }],
    ['an unknown key in a secret mount', { secretMounts: [{ name: 'b', secretName: 's', mountPath: '/var/run/x', mode: 256 }] }],
    ['an unknown key in the probes', { readinessProbe: { pathh: '/readyz' } }],
    ['a config that is not an object', { config: 'mode: production' }],
  ])('refuses %s', (_what, change) => {
    expect(errorsOf(defaults)).toEqual([]);
    expect(errorsOf(merge(defaults, change)).length).toBeGreaterThan(0);
  });

  it('render a broker config from the defaults that the broker itself accepts, in production mode', () => {
    const rendered = brokerConfig(defaults);
    const config = parseConfig(stringify(rendered), 'helm values.yaml');
    expect(config.mode).toBe('production');
    expect(config.server).toMatchObject({ host: '0.0.0.0', port: 8080 });
    expect(config.store.kind).toBe('redis');
    // Every secret the config names is a file under a secretMounts path: the chart mounts them, it creates none.
    const mounts = (defaults.secretMounts as { mountPath: string }[]).map((m) => `${m.mountPath}/`);
    const files = JSON.stringify(rendered).match(/"[A-Za-z]*(?:File|Files)":(?:"[^"]*"|\[[^\]]*\])/gu) ?? [];
    expect(files.length).toBeGreaterThan(2);
    for (const entry of files)
      for (const path of entry.match(/"\/[^"]+"/gu) ?? [])
        expect(
          mounts.some((m) => path.slice(1).startsWith(m)),
          path,
        ).toBe(true);
  });

  it('render a config the broker accepts from every ci/ file too, and refuse one the broker would', () => {
    for (const file of ciFiles) {
      const values = merge(defaults, parse(readFileSync(join(CHART, 'ci', file), 'utf8')) ?? {}) as Record<string, any>;
      expect(() => parseConfig(stringify(brokerConfig(values)), file), file).not.toThrow();
    }
    // The same check sees a broken config: production refuses plain Redis beyond loopback.
    const plain = merge(defaults, { config: { store: { url: 'redis://redis.example.internal:6379' } } }) as Record<string, any>;
    expect(() => parseConfig(stringify(brokerConfig(plain)), 'plain redis')).toThrow(/rediss/u);
  });

  it("ship the broker's own Cedar policies, byte for byte, and they load", () => {
    const shipped = readdirSync('config/policies').sort();
    expect(readdirSync(join(CHART, 'files', 'policies')).sort()).toEqual(shipped);
    for (const file of shipped)
      expect(readFileSync(join(CHART, 'files', 'policies', file), 'utf8'), file).toBe(readFileSync(join('config/policies', file), 'utf8'));
    expect(() => loadPolicySet(readPolicyDir(join(CHART, 'files', 'policies')))).not.toThrow();
  });

  it('put in the policy ConfigMap the files the broker reads, the schema and the .cedar files, and they load as the shipped set', () => {
    const carried = configMapFiles(join(CHART, 'files', 'policies'));
    expect(carried).toEqual(configMapFiles('config/policies'));
    expect(carried).toContain(SCHEMA_FILE);
    expect(readdirSync('config/policies').filter((f) => !carried.includes(f))).toEqual(['policy_tests.yaml']);
    // The mounted ConfigMap as the broker sees it: only the carried files, the same policy set.
    const mounted = mkdtempSync(join(tmpdir(), 'qm-policies-'));
    try {
      for (const file of carried) writeFileSync(join(mounted, file), readFileSync(join(CHART, 'files', 'policies', file)));
      const fromConfigMap = readPolicyDir(mounted);
      const shipped = readPolicyDir('config/policies');
      expect(fromConfigMap.policies).toEqual(shipped.policies);
      expect(fromConfigMap.schema).toBe(shipped.schema);
      expect(Object.keys(fromConfigMap.policies).length).toBeGreaterThan(0);
    } finally {
      rmSync(mounted, { recursive: true, force: true });
    }
  });

  it('let policies.files name only files the broker reads', () => {
    const files = (names: string[]) => merge(defaults, { policies: { files: Object.fromEntries(names.map((n) => [n, 'x'])) } });
    expect(errorsOf(files(['trust.cedar', 'extra-rules.cedar', SCHEMA_FILE]))).toEqual([]);
    for (const name of ['policy_tests.yaml', 'notes.md', 'trust.cedar.bak'])
      expect(errorsOf(files([name])).length, name).toBeGreaterThan(0);
  });
});
