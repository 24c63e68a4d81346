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
 */
import { cpus, totalmem } from 'node:os';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { buildBroker } from './broker_child.js';
import { runS1, s1Markdown, type S1Options } from './s1_issue.js';
import { runS3, s3Markdown } from './s3_verify.js';
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
import { runVaultS5, vaultS5Markdown } from './vault_s5.js';

/** Every scenario takes the command line's options: S1's, and the Vault provider's confirmConcurrency. */
type CommonOptions = S1Options & {
  readonly confirmConcurrency?: number;
  readonly receiptLanes?: number;
  readonly vaultLatencyMs?: number;
  readonly grants?: number;
};

interface Scenario {
  readonly title: string;
  run(options: CommonOptions): Promise<string>;
}

const SCENARIOS: Record<string, Scenario> = {
  s1: {
    title: 'issue a grant, sequential (jwt provider)',
    run: async (options) => s1Markdown(await runS1(options), options),
  },
  s3: {
    title: 'JWT verification: cold, warm, cached vs raw node:crypto (ES256, RS256)',
    run: async (options) => s3Markdown(await runS3(options), options),
  },
  s6: {
    title: 'Redis bytes per active grant (jwt provider, redis store)',
    run: async (options) =>
      s6Markdown(await runS6({ ...options, requests: Math.max(options.requests, 2000) }), {
        ...options,
        requests: Math.max(options.requests, 2000),
      }),
  },
  's6-heap': {
    title: 'broker heap while grants are issued and expire (jwt provider, redis store)',
    run: async (options) => s6HeapMarkdown(await runS6Heap(options), options),
  },
  s7: {
    title: 'a close storm from webhooks: 100 incidents × 50 grants (or --grants) resolved within ~1 s, two brokers on Redis (jwt provider)',
    run: async (options) => s7Markdown(await runS7(options), options),
  },
  s8: {
    title: 'a Cedar policy decision per grant: decide() in process, and S1 with and without policy.dir (jwt provider)',
    run: async (options) => s8Markdown(await runS8(options), options),
  },
  s9: {
    title: 'deviation: S1 with and without the built-in detectors, and a signal ending 20 grants against a close (jwt provider)',
    run: async (options) => s9Markdown(await runS9(options), options),
  },
  s10: {
    title: "the console's polling: an incident's grant list and counts, a full 200 against a 304 on its ETag (jwt provider)",
    run: async (options) => s10Markdown(await runS10(options), options),
  },
  's1-vault': {
    title: 'issue a Vault grant, sequential (vault provider, fake Vault with 0 / 20 ms latency)',
    run: async (options) => vaultS1Markdown(await runVaultS1(options), options),
  },
  's4-vault': {
    title: 'revoke an incident of Vault grants (1000, or --grants; vault provider, fake Vault)',
    run: async (options) => vaultS4Markdown(await runVaultS4(options), options),
  },
  's5-vault': {
    title: 'issuance latency while an incident of 1000 Vault grants is revoked, against S1 alone',
    run: async (options) => vaultS5Markdown(await runVaultS5(options), options),
  },
  's1-aws': {
    title: 'issue an AWS STS grant, sequential (aws_sts provider, STS + IAM fake with 0 / 20 ms latency)',
    run: async (options) => awsS1Markdown(await runAwsS1(options), options),
  },
  's4-aws': {
    title: 'revoke an incident of AWS STS grants (1000, or --grants; aws_sts provider, STS + IAM fake with 0 / 20 ms latency)',
    run: async (options) => awsS4Markdown(await runAwsS4(options), options),
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
  const names = (values.scenario ?? Object.keys(SCENARIOS)).map((s) => s.toLowerCase());
  for (const name of names) if (!SCENARIOS[name]) throw new Error(`unknown scenario ${name}; known: ${Object.keys(SCENARIOS).join(', ')}`);
  const logLevel = values['log-level'] ?? 'warn';
  if (logLevel !== 'warn' && logLevel !== 'info') throw new Error('--log-level must be warn or info');
  const store = values.store ?? 'memory';
  if (store !== 'memory' && store !== 'redis') throw new Error('--store must be memory or redis');
  const options: CommonOptions = {
    requests: positiveInt('requests', values.requests, 2000, 1_000_000),
    runs: positiveInt('runs', values.runs, 3, 100),
    warmup: positiveInt('warmup', values.warmup, 200, 100_000),
    logLevel,
    store,
    ...(values['cpu-prof-dir'] ? { cpuProfDir: resolve(values['cpu-prof-dir']) } : {}),
    ...(values['confirm-concurrency']
      ? { confirmConcurrency: positiveInt('confirm-concurrency', values['confirm-concurrency'], 16, 64) }
      : {}),
    ...(values['receipt-lanes'] ? { receiptLanes: positiveInt('receipt-lanes', values['receipt-lanes'], 2, 256) } : {}),
    ...(values['vault-latency-ms'] ? { vaultLatencyMs: positiveInt('vault-latency-ms', values['vault-latency-ms'], 1, 1000) } : {}),
    ...(values.grants ? { grants: positiveInt('grants', values.grants, 1000, 100_000) } : {}),
  };

  buildBroker();
  const cpu = cpus();
  console.log('## Quartermaster bench');
  console.log('');
  const args = process.argv.slice(2);
  console.log(`- command: \`npm run bench${args.length > 0 ? ` -- ${args.join(' ')}` : ''}\``);
  console.log(
    `- machine: ${cpu.length} CPUs (${cpu[0]?.model.trim() ?? 'unknown'}), ${(totalmem() / 2 ** 30).toFixed(1)} GiB, Node ${process.version}, ${process.platform}/${process.arch}`,
  );
  console.log(`- date: ${new Date().toISOString()}`);
  for (const name of names) {
    const scenario = SCENARIOS[name]!;
    process.stderr.write(`bench: ${name} — ${scenario.title} (${options.runs} runs × ${options.requests} requests)\n`);
    const started = Date.now();
    const markdown = await scenario.run(options);
    process.stderr.write(`bench: ${name} done in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
    console.log('');
    console.log(markdown);
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`bench: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 1;
});
