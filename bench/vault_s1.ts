/**
 * S1 for Vault (docs/performance.md): issue a grant sequentially through the broker (a separate
 * process, memory store, `vault` provider) against the fake Vault (another process) with 0 and
 * 20 ms of added latency per Vault request. Baseline in the same run: the same provider call made
 * directly in this process against the same fake. Series run interleaved in blocks of 100.
 * A `vault-read` grant is one Vault call (child token create) once the incident's parent exists;
 * `db-read` is two (child create + creds read).
 */
import { randomBytes } from 'node:crypto';
import { AGENT_ISSUER } from '../test/support/test_config.js';
import { httpCall, type LogLevel } from './broker_child.js';
import { medianOfRuns, summarize, timeSequential, type Summary } from './stats.js';
import { AGENT_ID, directSignal, profileParams, startVaultBench, type VaultBenchProfile } from './vault_setup.js';

export interface VaultS1Options {
  readonly requests: number;
  readonly runs: number;
  readonly warmup: number;
  readonly logLevel: LogLevel;
  readonly cpuProfDir?: string;
}

export interface Cell {
  readonly latencyMs: number;
  readonly profile: VaultBenchProfile;
  readonly requests: number;
  readonly broker: Summary;
  readonly direct: Summary;
}

const BLOCK = 100;
const LATENCIES = [0, 20] as const;
const PROFILES: readonly VaultBenchProfile[] = ['vault-read', 'db-read'];
const newGrantId = (): string => `grt_${randomBytes(16).toString('base64url')}`;

async function runOnce(options: VaultS1Options, latencyMs: number, index: number): Promise<Cell[]> {
  const bench = await startVaultBench({
    latencyMs,
    logLevel: options.logLevel,
    maxSockets: 1,
    incidentId: `INC-BENCH-VS1-${latencyMs}-${index}`,
    ...(options.cpuProfDir ? { cpuProfDir: options.cpuProfDir } : {}),
  });
  const { broker, provider, http: agent, incidentId } = bench;
  try {
    // Slow fakes get fewer requests so a run stays under a minute; p50 needs far fewer samples than p99.
    const requests = latencyMs >= 20 ? Math.min(options.requests, 300) : options.requests;
    const warmup = Math.min(options.warmup, Math.ceil(requests / 4));
    const cells: Cell[] = [];
    for (const profile of PROFILES) {
      const params = profileParams(profile);
      const signal = directSignal();
      const body = JSON.stringify({ incident_id: incidentId, profile, purpose: 'bench' });
      const headers = bench.agentHeaders;
      const series = {
        broker: async () => {
          const res = await httpCall(agent, `${broker.url}/v1/grants`, 'POST', headers, body);
          if (res.status !== 201) throw new Error(`POST /v1/grants answered ${res.status}: ${res.body}`);
        },
        direct: async () => {
          await provider.issue({
            grantId: newGrantId(),
            incidentId,
            agent: { id: AGENT_ID, issuer: AGENT_ISSUER },
            profile: { name: profile, params },
            ttlSeconds: 300,
            purpose: 'bench',
            signal,
          });
        },
      };
      await timeSequential(warmup, series.broker);
      await timeSequential(warmup, series.direct);
      const samples = { broker: [] as bigint[], direct: [] as bigint[] };
      for (let done = 0; done < requests; done += BLOCK) {
        const size = Math.min(BLOCK, requests - done);
        samples.broker.push(...(await timeSequential(size, series.broker)));
        samples.direct.push(...(await timeSequential(size, series.direct)));
      }
      cells.push({ latencyMs, profile, requests, broker: summarize(samples.broker), direct: summarize(samples.direct) });
    }
    return cells;
  } finally {
    await bench.stop();
  }
}

export async function runVaultS1(options: VaultS1Options): Promise<Cell[][]> {
  const runs: Cell[][] = [];
  for (let i = 0; i < options.runs; i += 1) {
    const cells: Cell[] = [];
    for (const latency of LATENCIES) cells.push(...(await runOnce(options, latency, i)));
    runs.push(cells);
  }
  return runs;
}

const us = (v: number): string => v.toFixed(0);

export function vaultS1Markdown(runs: Cell[][], options: VaultS1Options): string {
  const lines = [
    `### S1 — issue a Vault grant, sequential (vault provider against the fake Vault in its own process, memory store, log level ${options.logLevel})`,
    '',
    `Up to ${options.requests} requests per series per run (300 with 20 ms latency), ${options.runs} runs; medians over runs.`,
    '',
    '| fake latency | profile | broker p50 / p99 µs | direct p50 / p99 µs | p50 overhead | p50 ratio | target |',
    '|---:|---|---:|---:|---:|---:|---|',
  ];
  const first = runs[0] ?? [];
  first.forEach((cell, i) => {
    const broker = medianOfRuns(runs.map((r) => (r[i] as Cell).broker));
    const direct = medianOfRuns(runs.map((r) => (r[i] as Cell).direct));
    const overhead = broker.p50Us - direct.p50Us;
    const ratio = broker.p50Us / direct.p50Us;
    // docs/performance.md S1: p50 ≤ direct + 1 ms; at 20 ms ≤ 1.10× direct.
    const target =
      cell.latencyMs >= 20
        ? ratio <= 1.1
          ? 'meets ≤ 1.10×'
          : 'misses ≤ 1.10×'
        : overhead <= 1000
          ? 'meets +1 ms'
          : `misses +1 ms by ${us(overhead - 1000)} µs`;
    lines.push(
      `| ${cell.latencyMs} ms | ${cell.profile} | ${us(broker.p50Us)} / ${us(broker.p99Us)} | ${us(direct.p50Us)} / ${us(direct.p99Us)} | ${us(overhead)} µs | ${ratio.toFixed(2)}× | ${target} |`,
    );
  });
  return lines.join('\n');
}
