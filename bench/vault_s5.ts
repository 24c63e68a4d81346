/**
 * S5 for Vault (docs/performance.md): issuance latency while an incident close (S4) runs, against S1
 * alone, measured in the same run on the same broker and fake Vault:
 *  - incident A holds N = 1000 grants (half child tokens, half database leases), as in S4;
 *  - S1 alone: sequential `vault-read` grants on a second open incident B, before the close and
 *    again after it (the two halves pooled, so a drift of the machine hits the baseline too);
 *  - S5: the same sequential grants on B from the moment A's close is accepted until the report
 *    shows all N revoked; only requests that started during the close count.
 * Each broker grant alternates with the same provider call made directly from this process, so
 * the table also shows how much the fake Vault itself slowed during the close.
 * Target: p99 during the close ≤ 2× the p99 of S1 alone.
 */
import { randomBytes } from 'node:crypto';
import { Agent } from 'node:http';
import { runLimited } from '../src/revocation/revoke_jobs.js';
import { AGENT_ISSUER } from '../test/support/test_config.js';
import { httpCall, type LogLevel } from './broker_child.js';
import { medianOfRuns, summarize, type Summary } from './stats.js';
import { AGENT_ID, directSignal, profileParams, startVaultBench } from './vault_setup.js';

const CLOSE_GRANTS = 1000;
const BASELINE_REQUESTS = 300;
const WARMUP = 100;
const POLL_MS = 100;

export interface VaultS5Options {
  readonly runs: number;
  readonly logLevel: LogLevel;
  readonly cpuProfDir?: string;
  readonly confirmConcurrency?: number;
  readonly receiptLanes?: number;
  readonly vaultLatencyMs?: number;
}

export interface Series {
  readonly broker: Summary;
  readonly direct: Summary;
}
export interface S5Run {
  readonly alone: Series;
  readonly during: Series;
  readonly closeMs: number;
}

const elapsedNs = (start: bigint): bigint => process.hrtime.bigint() - start;

async function runOnce(options: VaultS5Options, index: number): Promise<S5Run> {
  const closing = `INC-BENCH-VS5-CLOSE-${index}`;
  const issuing = `INC-BENCH-VS5-ISSUE-${index}`;
  const bench = await startVaultBench({
    latencyMs: options.vaultLatencyMs ?? 0,
    logLevel: options.logLevel,
    maxSockets: 8,
    incidentId: closing,
    ...(options.cpuProfDir ? { cpuProfDir: options.cpuProfDir } : {}),
    ...(options.confirmConcurrency === undefined ? {} : { confirmConcurrency: options.confirmConcurrency }),
    ...(options.receiptLanes === undefined ? {} : { receiptLanes: options.receiptLanes }),
  });
  const { broker, http: pool, operatorHeaders, agentHeaders } = bench;
  // The measured requests get a connection of their own, as one sequential client would.
  const single = new Agent({ keepAlive: true, maxSockets: 1 });
  try {
    const opened = await httpCall(
      pool,
      `${broker.url}/v1/incidents`,
      'POST',
      operatorHeaders,
      JSON.stringify({ id: issuing, title: 'bench', severity: 'sev3' }),
    );
    if (opened.status !== 201) throw new Error(`open incident answered ${opened.status}`);
    await runLimited([...Array(CLOSE_GRANTS).keys()], 8, async (i) => {
      const body = JSON.stringify({ incident_id: closing, profile: i % 2 ? 'db-read' : 'vault-read', purpose: 'bench' });
      const res = await httpCall(pool, `${broker.url}/v1/grants`, 'POST', agentHeaders, body);
      if (res.status !== 201) throw new Error(`grant answered ${res.status}: ${res.body}`);
    });

    const body = JSON.stringify({ incident_id: issuing, profile: 'vault-read', purpose: 'bench' });
    const params = profileParams('vault-read');
    const signal = directSignal();
    const viaBroker = async (): Promise<void> => {
      const res = await httpCall(single, `${broker.url}/v1/grants`, 'POST', agentHeaders, body);
      if (res.status !== 201) throw new Error(`grant on ${issuing} answered ${res.status}: ${res.body}`);
    };
    // The same provider call made directly from this process against the same (equally busy)
    // fake: what the provider alone costs while the close runs.
    const direct = async (): Promise<void> => {
      const grantId = `grt_${randomBytes(16).toString('base64url')}`;
      await bench.provider.issue({
        grantId,
        incidentId: issuing,
        agent: { id: AGENT_ID, issuer: AGENT_ISSUER },
        profile: { name: 'vault-read', params },
        ttlSeconds: 300,
        purpose: 'bench',
        signal,
      });
    };
    const timed = async (fn: () => Promise<void>): Promise<bigint> => {
      const start = process.hrtime.bigint();
      await fn();
      return elapsedNs(start);
    };
    const samples = {
      alone: { broker: [] as bigint[], direct: [] as bigint[] },
      during: { broker: [] as bigint[], direct: [] as bigint[] },
    };
    const alternate = async (count: number, into: { broker: bigint[]; direct: bigint[] } | null): Promise<void> => {
      for (let i = 0; i < count; i += 1) {
        const b = await timed(viaBroker);
        const d = await timed(direct);
        into?.broker.push(b);
        into?.direct.push(d);
      }
    };

    await alternate(WARMUP, null);
    await alternate(BASELINE_REQUESTS / 2, samples.alone);

    const closeStart = process.hrtime.bigint();
    const closed = await httpCall(pool, `${broker.url}/v1/incidents/${closing}/close`, 'POST', operatorHeaders);
    if (closed.status !== 202) throw new Error(`close answered ${closed.status}`);
    let closeRunning = true;
    const watcher = (async () => {
      while (closeRunning) {
        const res = await httpCall(pool, `${broker.url}/v1/incidents/${closing}?grants=false`, 'GET', operatorHeaders);
        const report = JSON.parse(res.body) as { revocation: { by_state: { revoked: number } } };
        if (report.revocation.by_state.revoked === CLOSE_GRANTS) closeRunning = false;
        else if (elapsedNs(closeStart) > 120_000_000_000n) throw new Error('close did not finish within 120 s');
        else await new Promise((r) => setTimeout(r, POLL_MS));
      }
      return Number(elapsedNs(closeStart)) / 1e6;
    })();
    // A pair still running when the close finished started during it: it counts.
    while (closeRunning) await alternate(1, samples.during);
    const closeMs = await watcher;
    await alternate(BASELINE_REQUESTS / 2, samples.alone);
    if (samples.during.broker.length < 20)
      throw new Error(`only ${samples.during.broker.length} grants were issued during the close; too few for a p99`);
    const series = (x: { broker: bigint[]; direct: bigint[] }): Series => ({ broker: summarize(x.broker), direct: summarize(x.direct) });
    return { alone: series(samples.alone), during: series(samples.during), closeMs };
  } finally {
    single.destroy();
    await bench.stop();
  }
}

export async function runVaultS5(options: VaultS5Options): Promise<S5Run[]> {
  const runs: S5Run[] = [];
  for (let i = 0; i < options.runs; i += 1) runs.push(await runOnce(options, i));
  return runs;
}

const us = (v: number): string => v.toFixed(0);

export function vaultS5Markdown(runs: S5Run[], options: VaultS5Options): string {
  const pick = (f: (r: S5Run) => Summary): Summary => medianOfRuns(runs.map(f));
  const rows: Array<[string, Summary]> = [
    ['broker, S1 alone (baseline)', pick((r) => r.alone.broker)],
    ['broker, during the close (S5)', pick((r) => r.during.broker)],
    ['direct provider call, alone', pick((r) => r.alone.direct)],
    ['direct provider call, during the close', pick((r) => r.during.direct)],
  ];
  const [bAlone, bDuring, dAlone, dDuring] = rows.map(([, s]) => s) as [Summary, Summary, Summary, Summary];
  const ratio = bDuring.p99Us / bAlone.p99Us;
  const lines = [
    `### S5 — issuance latency while an incident of ${CLOSE_GRANTS} Vault grants is revoked (vault provider, fake Vault in its own process, memory store, log level ${options.logLevel})`,
    '',
    `${options.runs} runs; medians over runs; Vault confirmConcurrency ${options.confirmConcurrency ?? 16}, receipt lanes while serving ${options.receiptLanes ?? 2}; fake Vault latency ${options.vaultLatencyMs ?? 0} ms per request. Sequential \`vault-read\` grants on a second incident over one connection, alternating with the same provider call made directly from the bench process against the same fake. S1 alone is ${BASELINE_REQUESTS} pairs (half before, half after the close); S5 is every pair made while the close ran.`,
    '',
    '| series | requests | p50 µs | p99 µs | mean µs |',
    '|---|---:|---:|---:|---:|',
    ...rows.map(([name, s]) => `| ${name} | ${s.n} | ${us(s.p50Us)} | ${us(s.p99Us)} | ${us(s.meanUs)} |`),
    '',
    `Broker p99 during ÷ alone: ${ratio.toFixed(2)}× (target ≤ 2×: ${ratio <= 2 ? 'met' : 'NOT met'}); p50 ${(bDuring.p50Us / bAlone.p50Us).toFixed(2)}×. Direct provider call during ÷ alone: p50 ${(dDuring.p50Us / dAlone.p50Us).toFixed(2)}×, p99 ${(dDuring.p99Us / dAlone.p99Us).toFixed(2)}×.`,
    '',
    '| run | close ms | broker alone p50 / p99 µs | during pairs | broker during p50 / p99 µs | direct during p50 / p99 µs |',
    '|---|---:|---:|---:|---:|---:|',
    ...runs.map(
      (r, i) =>
        `| ${i + 1} | ${r.closeMs.toFixed(0)} | ${us(r.alone.broker.p50Us)} / ${us(r.alone.broker.p99Us)} | ${r.during.broker.n} | ${us(r.during.broker.p50Us)} / ${us(r.during.broker.p99Us)} | ${us(r.during.direct.p50Us)} / ${us(r.during.direct.p99Us)} |`,
    ),
  ];
  return lines.join('\n');
}
