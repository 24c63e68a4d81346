/**
 * S1 for AWS STS (docs/performance.md): issue a grant sequentially through the broker (a separate
 * process, memory store or `--store redis`, `aws_sts` provider) against the STS + IAM fake (another
 * process) with 0 and 20 ms added to every AWS request. Baselines in the same run, against the same fake:
 *  - direct: the same provider's issue() made in this process (role and caller identity cached
 *    after the first call, so one AssumeRole per grant, as in the broker);
 *  - raw: one AssumeRole from @aws-sdk/client-sts with the same parameters the provider sends
 *    (role, session name, 900 s, source identity, the three session tags), same client options.
 * The three series run interleaved in blocks of 100, after a warm-up of each.
 */
import { randomBytes } from 'node:crypto';
import { AssumeRoleCommand, type STSClient } from '@aws-sdk/client-sts';
import { AGENT_ISSUER } from '../test/support/test_config.js';
import { httpCall, type LogLevel } from './broker_child.js';
import { medianOfRuns, summarize, timeSequential, type Summary } from './stats.js';
import {
  AGENT_ID,
  AWS_PROFILE,
  directSignal,
  GRANT_TTL_SECONDS,
  profileParams,
  rawStsClient,
  startAwsBench,
  type BenchStore,
} from './aws_setup.js';

export interface AwsS1Options {
  readonly requests: number;
  readonly runs: number;
  readonly warmup: number;
  readonly logLevel: LogLevel;
  readonly store: BenchStore;
  readonly cpuProfDir?: string;
}

export interface Cell {
  readonly latencyMs: number;
  readonly requests: number;
  readonly broker: Summary;
  readonly direct: Summary;
  readonly raw: Summary;
}

const BLOCK = 100;
const LATENCIES = [0, 20] as const;
/** Requests per series at 20 ms: ~25 ms each, three series, so a run stays under half a minute; p50 needs far fewer samples than p99. */
const SLOW_REQUESTS = 200;
/** Requests per series at 0 ms at most: three series of AWS calls (SigV4, XML) per run. */
const FAST_REQUESTS = 1000;
/** What the provider sends for AGENT_ID (providers/aws_sts/names.ts): the id fits STS's tag characters as it is. */
const SOURCE_IDENTITY = 'dev.local.agent.triage';
const newGrantId = (): string => `grt_${randomBytes(16).toString('base64url')}`;

async function rawAssumeRole(sts: STSClient, roleArn: string, incidentId: string): Promise<void> {
  const grantId = newGrantId();
  const out = await sts.send(
    new AssumeRoleCommand({
      RoleArn: roleArn,
      RoleSessionName: `qm-${grantId}`,
      DurationSeconds: GRANT_TTL_SECONDS,
      SourceIdentity: SOURCE_IDENTITY,
      Tags: [
        { Key: 'incident_id', Value: incidentId },
        { Key: 'grant_id', Value: grantId },
        { Key: 'agent', Value: AGENT_ID },
      ],
    }),
  );
  if (!out.Credentials?.SessionToken) throw new Error('AssumeRole answered without credentials');
}

async function runOnce(options: AwsS1Options, latencyMs: number, index: number): Promise<Cell> {
  const bench = await startAwsBench({
    latencyMs,
    logLevel: options.logLevel,
    maxSockets: 1,
    incidentId: `INC-BENCH-AS1-${latencyMs}-${index}`,
    store: options.store,
    ...(options.cpuProfDir ? { cpuProfDir: options.cpuProfDir } : {}),
  });
  const { broker, provider, http: agent, incidentId, fake } = bench;
  const sts = rawStsClient(fake);
  try {
    const requests = Math.min(options.requests, latencyMs >= 20 ? SLOW_REQUESTS : FAST_REQUESTS);
    const warmup = Math.min(options.warmup, Math.ceil(requests / (latencyMs >= 20 ? 8 : 4)));
    const params = profileParams(fake);
    const signal = directSignal();
    const body = JSON.stringify({ incident_id: incidentId, profile: AWS_PROFILE, purpose: 'bench' });
    const series = {
      broker: async () => {
        const res = await httpCall(agent, `${broker.url}/v1/grants`, 'POST', bench.agentHeaders, body);
        if (res.status !== 201) throw new Error(`POST /v1/grants answered ${res.status}: ${res.body}`);
      },
      direct: async () => {
        await provider.issue({
          grantId: newGrantId(),
          incidentId,
          agent: { id: AGENT_ID, issuer: AGENT_ISSUER },
          profile: { name: AWS_PROFILE, params },
          ttlSeconds: GRANT_TTL_SECONDS,
          purpose: 'bench',
          signal,
        });
      },
      raw: () => rawAssumeRole(sts, bench.roleArn, incidentId),
    };
    await timeSequential(warmup, series.broker);
    await timeSequential(warmup, series.direct);
    await timeSequential(warmup, series.raw);
    const samples = { broker: [] as bigint[], direct: [] as bigint[], raw: [] as bigint[] };
    for (let done = 0; done < requests; done += BLOCK) {
      const size = Math.min(BLOCK, requests - done);
      samples.broker.push(...(await timeSequential(size, series.broker)));
      samples.direct.push(...(await timeSequential(size, series.direct)));
      samples.raw.push(...(await timeSequential(size, series.raw)));
    }
    return { latencyMs, requests, broker: summarize(samples.broker), direct: summarize(samples.direct), raw: summarize(samples.raw) };
  } finally {
    sts.destroy();
    await bench.stop();
  }
}

export async function runAwsS1(options: AwsS1Options): Promise<Cell[][]> {
  const runs: Cell[][] = [];
  for (let i = 0; i < options.runs; i += 1) {
    const cells: Cell[] = [];
    for (const latency of LATENCIES) cells.push(await runOnce(options, latency, i));
    runs.push(cells);
  }
  return runs;
}

const us = (v: number): string => v.toFixed(0);
const triple = (s: Summary): string => `${us(s.p50Us)} / ${us(s.p99Us)} / ${us(s.meanUs)}`;

/** docs/performance.md S1: p50 ≤ direct + 1 ms; at 20 ms ≤ 1.10× direct. */
function target(latencyMs: number, overheadUs: number, ratio: number): string {
  if (latencyMs >= 20) return ratio <= 1.1 ? 'meets ≤ 1.10×' : `misses ≤ 1.10× (by ${(ratio - 1.1).toFixed(2)}×)`;
  return overheadUs <= 1000 ? 'meets +1 ms' : `misses +1 ms by ${us(overheadUs - 1000)} µs`;
}

export function awsS1Markdown(runs: Cell[][], options: AwsS1Options): string {
  const lines = [
    `### S1 — issue an AWS STS grant, sequential (aws_sts provider against the STS + IAM fake in its own process, ${options.store} store, log level ${options.logLevel})`,
    '',
    `Up to ${Math.min(options.requests, FAST_REQUESTS)} requests per series per run at 0 ms, ${Math.min(options.requests, SLOW_REQUESTS)} at 20 ms; ` +
      `${options.runs} runs; interleaved blocks of ${BLOCK}; medians over runs. ` +
      'direct = the provider’s issue() in the bench process; raw = one @aws-sdk/client-sts AssumeRole with the same parameters.',
    '',
    '| fake latency | broker p50 / p99 / mean µs | direct p50 / p99 / mean µs | raw AssumeRole p50 / p99 / mean µs |',
    '|---:|---:|---:|---:|',
  ];
  const first = runs[0] ?? [];
  const medians = first.map((cell, i) => ({
    latencyMs: cell.latencyMs,
    broker: medianOfRuns(runs.map((r) => (r[i] as Cell).broker)),
    direct: medianOfRuns(runs.map((r) => (r[i] as Cell).direct)),
    raw: medianOfRuns(runs.map((r) => (r[i] as Cell).raw)),
  }));
  for (const m of medians) lines.push(`| ${m.latencyMs} ms | ${triple(m.broker)} | ${triple(m.direct)} | ${triple(m.raw)} |`);
  lines.push(
    '',
    '| fake latency | broker − direct p50 | broker / direct p50 | direct − raw p50 | broker − raw p50 | target (against direct) |',
    '|---:|---:|---:|---:|---:|---|',
  );
  for (const m of medians) {
    const overhead = m.broker.p50Us - m.direct.p50Us;
    const ratio = m.broker.p50Us / m.direct.p50Us;
    lines.push(
      `| ${m.latencyMs} ms | ${us(overhead)} µs | ${ratio.toFixed(2)}× | ${us(m.direct.p50Us - m.raw.p50Us)} µs | ${us(m.broker.p50Us - m.raw.p50Us)} µs | ${target(m.latencyMs, overhead, ratio)} |`,
    );
  }
  lines.push('', '| run | fake latency | broker p50 µs | direct p50 µs | raw p50 µs | broker − direct |', '|---|---:|---:|---:|---:|---:|');
  runs.forEach((cells, r) => {
    for (const c of cells) {
      lines.push(
        `| ${r + 1} | ${c.latencyMs} ms | ${us(c.broker.p50Us)} | ${us(c.direct.p50Us)} | ${us(c.raw.p50Us)} | ${us(c.broker.p50Us - c.direct.p50Us)} µs |`,
      );
    }
  });
  return lines.join('\n');
}
