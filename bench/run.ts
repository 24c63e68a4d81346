/**
 * `npm run bench` — runs the docs/performance.md scenarios that exist so far and prints Markdown to
 * stdout (progress goes to stderr). Each scenario measures its own baseline in the same run.
 *
 *   npm run bench -- [--scenario s1] [--requests 2000] [--runs 3] [--warmup 200]
 *                    [--log-level warn|info] [--store memory|redis] [--cpu-prof-dir DIR]
 *                    [--confirm-concurrency N] [--receipt-lanes N] [--vault-latency-ms N] [--grants N]
 *
 * --log-level info runs the broker at its production default level, which writes one access-log
 * line per request; warn (the default) leaves that out. --store redis runs S1 on a redis-server
 * the bench starts on a free port (never the shared one on 6379). --cpu-prof-dir runs the broker child with
 * `node --cpu-prof` and writes its .cpuprofile there when the child exits. --confirm-concurrency
 * sets the Vault provider's confirmConcurrency (default 16) for the Vault scenarios, broker and
 * direct baseline alike; --receipt-lanes sets the broker's revocation.receiptLanesWhileServing
 * (default 2); --vault-latency-ms adds latency to every fake Vault request in S4 and S5
 * (S1 for Vault always runs 0 and 20 ms); --grants sets the size of the incident S4 closes
 * (default 1000; docs/performance.md also asks for 10 000), for s4-aws too; for s7 it is the grants per
 * incident (default 50). --store applies to s1-aws and s4-aws as well; both always run the AWS fake at
 * 0 and 20 ms. s7 always runs on Redis, with two broker children. s8 runs three broker children (with
 * policy, without, and without policy or audit chain) on --store, and --cpu-prof-dir profiles the one with policy.
 * s4-scale always runs on Redis, one N at a time (1000, 10 000, and 100 000 when --grants reaches it).
 */
import { cpus, totalmem } from 'node:os';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { buildBroker } from './broker_child.js';
import { runS1, s1Markdown, type S1Options } from './s1_issue.js';
import { runS2, s2Markdown, type S2Provider } from './s2_capacity.js';
import { runS3, s3Markdown } from './s3_verify.js';
import { runS4Scale, s4ScaleMarkdown } from './s4_scale.js';
import { runS6, s6Markdown } from './s6_memory.js';
import { runS6Heap, s6HeapMarkdown } from './s6_heap.js';
import { runS7, s7Markdown } from './s7_close_storm.js';
import { runS8, s8Markdown } from './s8_policy.js';
import { runS9, s9Markdown } from './s9_deviation.js';
import { runS10, s10Markdown } from './s10_console.js';
import { awsS1Markdown, runAwsS1 } from './aws_s1.js';
import { awsS4Markdown, runAwsS4 } from './aws_s4.js';
import { runVaultS1, vaultS1Markdown } from './vault_s1.js';
import { runVaultS4, vaultS4Markdown } from './vault_s4.js';
import { runS5, s5Markdown, type S5Provider } from './s5_during_close.js';
import {
  awsS1Rows,
  awsS4Rows,
  s1Rows,
  s2Rows,
  s3Rows,
  s4ScaleRows,
  s6Rows,
  s7Rows,
  s8Rows,
  summaryMarkdown,
  vaultS1Rows,
  vaultS4Rows,
  s5Rows,
  type Row,
} from './summary.js';

/** Every scenario takes the command line's options: S1's, and the Vault provider's confirmConcurrency. */
type CommonOptions = S1Options & {
  readonly confirmConcurrency?: number;
  readonly receiptLanes?: number;
  readonly vaultLatencyMs?: number;
  readonly grants?: number;
  /** The full profile: S2's longer steps. */
  readonly full?: boolean;
};

interface Outcome {
  readonly markdown: string;
  /** Its rows of the summary table (summary.ts). */
  readonly rows: Row[];
  /** The raw result, for the JSON file. */
  readonly result: unknown;
}

interface Scenario {
  readonly title: string;
  run(options: CommonOptions): Promise<Outcome>;
}

const outcome = <R>(result: R, markdown: string, rows: Row[] = []): Outcome => ({ markdown, rows, result });

function s2Scenario(provider: S2Provider, title: string): Scenario {
  return {
    title,
    run: async (options) => {
      const s2Options = { ...options, provider, stepSeconds: options.full ? 10 : 3 };
      const r = await runS2(s2Options);
      return outcome(r, s2Markdown(r, s2Options), s2Rows(r, options.store));
    },
  };
}

function s5Scenario(provider: S5Provider, title: string): Scenario {
  return {
    title,
    run: async (options) => {
      const r = await runS5(provider, options);
      return outcome(r, s5Markdown(r, provider, options), s5Rows(r));
    },
  };
}

const SCENARIOS: Record<string, Scenario> = {
  s1: {
    title: 'issue a grant, sequential (jwt provider)',
    run: async (options) => {
      const r = await runS1(options);
      return outcome(r, s1Markdown(r, options), s1Rows(r, options.store));
    },
  },
  s2: s2Scenario('jwt', 'capacity: open-loop fixed-rate load raised to the knee, CPU per issuance against the floor (jwt provider)'),
  's2-vault': s2Scenario('vault', 'S2 with the vault provider against the fake Vault (its own process, 0 ms)'),
  's2-aws': s2Scenario('aws_sts', 'S2 with the aws_sts provider against the STS + IAM fake (its own process, 0 ms)'),
  s3: {
    title: 'JWT verification: cold, warm, cached vs raw node:crypto (ES256, RS256)',
    run: async (options) => {
      const r = await runS3(options);
      return outcome(r, s3Markdown(r, options), s3Rows(r));
    },
  },
  s6: {
    title: 'Redis bytes per active grant (jwt provider, redis store)',
    run: async (options) => {
      const s6Options = { ...options, requests: Math.max(options.requests, 2000) };
      const r = await runS6(s6Options);
      return outcome(r, s6Markdown(r, s6Options), s6Rows(r));
    },
  },
  's6-vault': {
    title: 'Redis bytes per active Vault grant (vault provider against the fake Vault, redis store)',
    run: async (options) => {
      const s6Options = { ...options, requests: Math.max(options.requests, 2000), provider: 'vault' as const };
      const r = await runS6(s6Options);
      return outcome(r, s6Markdown(r, s6Options), s6Rows(r, 'vault'));
    },
  },
  's6-aws': {
    title: 'Redis bytes per active AWS STS grant (aws_sts provider against the STS + IAM fake, redis store)',
    run: async (options) => {
      const s6Options = { ...options, requests: Math.max(options.requests, 2000), provider: 'aws_sts' as const };
      const r = await runS6(s6Options);
      return outcome(r, s6Markdown(r, s6Options), s6Rows(r, 'aws_sts'));
    },
  },
  's6-heap': {
    title: 'broker heap while grants are issued and expire (jwt provider, redis store)',
    run: async (options) => {
      const r = await runS6Heap(options);
      return outcome(r, s6HeapMarkdown(r, options));
    },
  },
  s7: {
    title: 'a close storm from webhooks: 100 incidents × 50 grants (or --grants) resolved within ~1 s, two brokers on Redis (jwt provider)',
    run: async (options) => {
      const r = await runS7(options);
      return outcome(r, s7Markdown(r, options), s7Rows(r, 100 * (options.grants ?? 50)));
    },
  },
  's7-vault': {
    title: 'the close storm of s7 with Vault grants: 100 incidents × 50 child tokens (or --grants), two brokers on Redis, the fake Vault',
    run: async (options) => {
      const s7Options = { ...options, provider: 'vault' as const };
      const r = await runS7(s7Options);
      return outcome(r, s7Markdown(r, s7Options), s7Rows(r, 100 * (options.grants ?? 50), 'vault'));
    },
  },
  's7-aws': {
    title:
      'the close storm of s7 with AWS STS grants: 100 incidents × 50 sessions of one role (or --grants), two brokers on Redis, the STS + IAM fake',
    run: async (options) => {
      const s7Options = { ...options, provider: 'aws_sts' as const };
      const r = await runS7(s7Options);
      return outcome(r, s7Markdown(r, s7Options), s7Rows(r, 100 * (options.grants ?? 50), 'aws_sts'));
    },
  },
  s8: {
    title: 'a Cedar policy decision per grant: decide() in process, and S1 with and without policy.dir (jwt provider)',
    run: async (options) => {
      const r = await runS8(options);
      return outcome(r, s8Markdown(r, options), s8Rows(r, options.store));
    },
  },
  s9: {
    title: 'deviation: S1 with and without the built-in detectors, and a signal ending 20 grants against a close (jwt provider)',
    run: async (options) => {
      const r = await runS9(options);
      return outcome(r, s9Markdown(r, options));
    },
  },
  s10: {
    title: "the console's polling: an incident's grant list and counts, a full 200 against a 304 on its ETag (jwt provider)",
    run: async (options) => {
      const r = await runS10(options);
      return outcome(r, s10Markdown(r, options));
    },
  },
  's4-scale': {
    title:
      'S4 at scale on Redis: one incident of 1000, 10 000 (and up to --grants, 100 000 in --full) jwt grants closed; time and Redis bytes per grant',
    run: async (options) => {
      const largest = options.grants ?? 10_000;
      const sizes = [...new Set([...[1000, 10_000, 100_000].filter((n) => n <= largest), largest])];
      const r = await runS4Scale({ sizes, logLevel: options.logLevel });
      return outcome(r, s4ScaleMarkdown(r), s4ScaleRows(r));
    },
  },
  's1-vault': {
    title: 'issue a Vault grant, sequential (vault provider, fake Vault with 0 / 20 ms latency)',
    run: async (options) => {
      const r = await runVaultS1(options);
      return outcome(r, vaultS1Markdown(r, options), vaultS1Rows(r));
    },
  },
  's4-vault': {
    title: 'revoke an incident of Vault grants (1000, or --grants; vault provider, fake Vault)',
    run: async (options) => {
      const r = await runVaultS4(options);
      return outcome(r, vaultS4Markdown(r, options), vaultS4Rows(r, options.grants ?? 1000));
    },
  },
  's1-aws': {
    title: 'issue an AWS STS grant, sequential (aws_sts provider, STS + IAM fake with 0 / 20 ms latency)',
    run: async (options) => {
      const r = await runAwsS1(options);
      return outcome(r, awsS1Markdown(r, options), awsS1Rows(r, options.store));
    },
  },
  's4-aws': {
    title: 'revoke an incident of AWS STS grants (1000, or --grants; aws_sts provider, STS + IAM fake with 0 / 20 ms latency)',
    run: async (options) => {
      const r = await runAwsS4(options);
      return outcome(r, awsS4Markdown(r, options), awsS4Rows(r, options.grants ?? 1000, options.store));
    },
  },
  's5-vault': s5Scenario('vault', 'issuance latency while an incident of 1000 Vault grants is revoked (or --grants), against S1 alone'),
  's5-aws': s5Scenario(
    'aws_sts',
    'issuance latency while an incident of 10 000 AWS STS sessions is revoked (or --grants), against S1 alone',
  ),
  's5-jwt': s5Scenario(
    'jwt',
    'issuance latency while an incident of 10 000 jwt grants is revoked on Redis (or --grants), against S1 alone',
  ),
};

/** One step of a profile: a scenario with the options it runs with on top of the command line's. */
interface Step {
  readonly scenario: string;
  readonly options?: Partial<CommonOptions>;
}

/**
 * What `npm run bench` runs without --scenario. short: every S1–S8 row of docs/performance.md for
 * every provider, with few requests (a few minutes); full (--full): the counts the tables in
 * docs/performance.md were measured with, and S4 at N = 10 000.
 */
const PROFILES: Record<'short' | 'full', { readonly defaults: Partial<CommonOptions>; readonly steps: readonly Step[] }> = {
  short: {
    defaults: { requests: 500, runs: 3, warmup: 100 },
    steps: [
      { scenario: 's1', options: { store: 'memory' } },
      { scenario: 's1', options: { store: 'redis' } },
      { scenario: 's2', options: { store: 'redis' } },
      { scenario: 's2-vault', options: { store: 'redis' } },
      { scenario: 's2-aws', options: { store: 'redis' } },
      { scenario: 's1-vault' },
      { scenario: 's1-aws', options: { store: 'memory' } },
      { scenario: 's3' },
      { scenario: 's4-vault' },
      { scenario: 's4-aws', options: { store: 'memory', runs: 1 } },
      { scenario: 's4-scale' },
      { scenario: 's5-vault', options: { runs: 1 } },
      { scenario: 's5-aws', options: { runs: 1 } },
      { scenario: 's5-jwt', options: { runs: 1 } },
      { scenario: 's6', options: { runs: 1 } },
      { scenario: 's6-vault', options: { runs: 1 } },
      { scenario: 's6-aws', options: { runs: 1 } },
      { scenario: 's7', options: { runs: 1 } },
      { scenario: 's7-vault', options: { runs: 1 } },
      { scenario: 's7-aws', options: { runs: 1 } },
      { scenario: 's8', options: { store: 'redis', runs: 1 } },
    ],
  },
  full: {
    defaults: { requests: 2000, runs: 3, warmup: 200 },
    steps: [
      { scenario: 's1', options: { store: 'memory' } },
      { scenario: 's1', options: { store: 'redis' } },
      { scenario: 's2', options: { store: 'redis' } },
      { scenario: 's2', options: { store: 'memory' } },
      { scenario: 's2-vault', options: { store: 'redis' } },
      { scenario: 's2-aws', options: { store: 'redis' } },
      { scenario: 's1-vault' },
      { scenario: 's1-aws', options: { store: 'redis' } },
      { scenario: 's3' },
      { scenario: 's4-vault' },
      { scenario: 's4-vault', options: { grants: 10_000 } },
      { scenario: 's4-aws', options: { store: 'redis' } },
      { scenario: 's4-aws', options: { store: 'redis', grants: 10_000, runs: 1 } },
      { scenario: 's4-scale', options: { grants: 100_000 } },
      { scenario: 's5-vault' },
      { scenario: 's5-aws' },
      { scenario: 's5-jwt' },
      { scenario: 's6' },
      { scenario: 's6-vault', options: { runs: 1 } },
      { scenario: 's6-aws', options: { runs: 1 } },
      { scenario: 's6-heap' },
      { scenario: 's7' },
      { scenario: 's7-vault' },
      { scenario: 's7-aws' },
      { scenario: 's8', options: { store: 'redis' } },
      { scenario: 's9', options: { store: 'redis' } },
      { scenario: 's10', options: { store: 'redis' } },
    ],
  },
};

function positiveInt(name: string, raw: string | undefined, fallback: number, max: number): number {
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > max) throw new Error(`--${name} must be an integer 1..${max}, got ${JSON.stringify(raw)}`);
  return n;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      scenario: { type: 'string', multiple: true },
      full: { type: 'boolean' },
      json: { type: 'string' },
      requests: { type: 'string' },
      runs: { type: 'string' },
      warmup: { type: 'string' },
      'log-level': { type: 'string' },
      store: { type: 'string' },
      'cpu-prof-dir': { type: 'string' },
      'confirm-concurrency': { type: 'string' },
      'receipt-lanes': { type: 'string' },
      'vault-latency-ms': { type: 'string' },
      grants: { type: 'string' },
    },
    strict: true,
  });
  const chosen = values.scenario?.map((s) => s.toLowerCase());
  for (const name of chosen ?? [])
    if (!SCENARIOS[name]) throw new Error(`unknown scenario ${name}; known: ${Object.keys(SCENARIOS).join(', ')}`);
  const profileName = values.full ? 'full' : 'short';
  const profile = PROFILES[profileName];
  // A profile's own counts, unless the command line names them; --scenario runs what it names with the plain defaults.
  const defaults: Partial<CommonOptions> = chosen ? { requests: 2000, runs: 3, warmup: 200 } : profile.defaults;
  const steps: readonly Step[] = chosen ? chosen.map((scenario) => ({ scenario })) : profile.steps;
  const logLevel = values['log-level'] ?? 'warn';
  if (logLevel !== 'warn' && logLevel !== 'info') throw new Error('--log-level must be warn or info');
  const store = values.store ?? 'memory';
  if (store !== 'memory' && store !== 'redis') throw new Error('--store must be memory or redis');
  const given = {
    ...(values.requests ? { requests: positiveInt('requests', values.requests, 2000, 1_000_000) } : {}),
    ...(values.runs ? { runs: positiveInt('runs', values.runs, 3, 100) } : {}),
    ...(values.warmup ? { warmup: positiveInt('warmup', values.warmup, 200, 100_000) } : {}),
    ...(values.store ? { store } : {}),
    ...(values.grants ? { grants: positiveInt('grants', values.grants, 1000, 100_000) } : {}),
  } satisfies Partial<CommonOptions>;
  const base: CommonOptions = {
    requests: 2000,
    runs: 3,
    warmup: 200,
    store,
    ...defaults,
    logLevel,
    ...(values.full ? { full: true } : {}),
    ...(values['cpu-prof-dir'] ? { cpuProfDir: resolve(values['cpu-prof-dir']) } : {}),
    ...(values['confirm-concurrency']
      ? { confirmConcurrency: positiveInt('confirm-concurrency', values['confirm-concurrency'], 16, 64) }
      : {}),
    ...(values['receipt-lanes'] ? { receiptLanes: positiveInt('receipt-lanes', values['receipt-lanes'], 2, 256) } : {}),
    ...(values['vault-latency-ms'] ? { vaultLatencyMs: positiveInt('vault-latency-ms', values['vault-latency-ms'], 1, 1000) } : {}),
  };

  buildBroker();
  const cpu = cpus();
  const startedAt = new Date();
  const args = process.argv.slice(2);
  const command = `npm run bench${args.length > 0 ? ` -- ${args.join(' ')}` : ''}`;
  const machine = `${cpu.length} CPUs (${cpu[0]?.model.trim() ?? 'unknown'}), ${(totalmem() / 2 ** 30).toFixed(1)} GiB, Node ${process.version}, ${process.platform}/${process.arch}`;
  console.log('## Quartermaster bench');
  console.log('');
  console.log(`- command: \`${command}\``);
  console.log(`- profile: ${chosen ? 'the scenarios named' : profileName}`);
  console.log(`- machine: ${machine}`);
  console.log(`- date: ${startedAt.toISOString()}`);
  const rows: Row[] = [];
  const results: Array<{ scenario: string; options: CommonOptions; seconds: number; rows: Row[]; result: unknown }> = [];
  for (const step of steps) {
    const scenario = SCENARIOS[step.scenario]!;
    // The command line wins over the profile's step, which wins over the profile's defaults.
    const options: CommonOptions = { ...base, ...step.options, ...given };
    process.stderr.write(
      `bench: ${step.scenario} — ${scenario.title} (${options.runs} runs × ${options.requests} requests, ${options.store} store)\n`,
    );
    const started = Date.now();
    const done = await scenario.run(options);
    const seconds = (Date.now() - started) / 1000;
    process.stderr.write(`bench: ${step.scenario} done in ${seconds.toFixed(1)} s\n`);
    console.log('');
    console.log(done.markdown);
    rows.push(...done.rows);
    results.push({ scenario: step.scenario, options, seconds, rows: done.rows, result: done.result });
  }
  if (rows.length > 0) {
    console.log('');
    console.log(summaryMarkdown(rows));
  }
  const jsonFile = resolve(values.json ?? join('bench-results', `bench-${startedAt.toISOString().replace(/[:.]/gu, '-')}.json`));
  mkdirSync(dirname(jsonFile), { recursive: true });
  writeFileSync(
    jsonFile,
    `${JSON.stringify({ command, profile: chosen ? null : profileName, machine, date: startedAt.toISOString(), rows, results }, null, 2)}\n`,
  );
  process.stderr.write(`bench: results written to ${jsonFile}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`bench: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 1;
});
