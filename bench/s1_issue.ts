/**
 * S1 (docs/performance.md): issue a grant, sequentially, through the broker running as a separate
 * process, with the `jwt` provider and the memory store, or (`--store redis`) a redis-server the
 * bench starts on a free port. Baselines measured in the same run:
 *  - direct: the same provider call (`jwtProvider.create(config, deps)` then `issue()`) in this
 *    process, with the broker's own signing key;
 *  - healthz: one plain HTTP round trip to the broker's GET /healthz over the same keep-alive
 *    Agent (the HTTP-hop floor: node:http client + Express router + JSON response).
 * The three series are measured in interleaved blocks so that machine noise hits them alike.
 * Not built yet: the provider fakes with 0 / 2 / 20 ms latency (the Vault bench covers 0 / 20 ms).
 */
import { randomBytes } from 'node:crypto';
import { Agent } from 'node:http';
import { jwtProvider } from '../providers/jwt/index.js';
import type { IssueRequest } from '../src/sdk.js';
import { startRedisServer, type RedisServer } from '../test/support/redis_server.js';
import { benchTokens, httpCall, startBrokerChild, type BrokerChild, type LogLevel } from './broker_child.js';
import { AGENT_ISSUER } from '../test/support/test_config.js';
import { medianOfRuns, summarize, timeSequential, type Summary } from './stats.js';

export interface S1Options {
  readonly requests: number;
  readonly runs: number;
  readonly warmup: number;
  readonly logLevel: LogLevel;
  readonly store: 'memory' | 'redis';
  readonly cpuProfDir?: string;
}

export interface S1Run {
  readonly broker: Summary;
  readonly direct: Summary;
  readonly healthz: Summary;
}

export interface S1Result {
  readonly runs: readonly S1Run[];
  readonly median: S1Run;
}

const AGENT_ID = 'spiffe://dev.local/agent/triage';
const PROFILE = 'demo';
/** Samples per series before switching to the next series. */
const BLOCK = 100;
/** docs/performance.md S1: p50 ≤ direct + 1 ms. */
const TARGET_P50_OVERHEAD_US = 1000;

const noopLogger = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };
const newGrantId = (): string => `grt_${randomBytes(16).toString('base64url')}`;

/**
 * The direct baseline: the jwt provider, created as the catalog creates it, with the key file the
 * broker child generated at start, called with what core would pass it (S1, S2).
 */
export async function directJwtIssue(child: BrokerChild, incidentId: string): Promise<{ issue(): Promise<void>; close(): Promise<void> }> {
  const config = child.config as { providers: { jwt: unknown }; profiles: { demo: { params: unknown; defaultTtl: number } } };
  const provider = await jwtProvider.create(jwtProvider.configSchema.parse(config.providers.jwt), {
    logger: noopLogger,
    now: Date.now,
    devMode: true,
  });
  const params = jwtProvider.profileParamsSchema.parse(config.profiles.demo.params);
  const signal = new AbortController().signal;
  const request = (grantId: string): IssueRequest<typeof params> => ({
    grantId,
    incidentId,
    agent: { id: AGENT_ID, issuer: AGENT_ISSUER },
    profile: { name: PROFILE, params },
    ttlSeconds: config.profiles.demo.defaultTtl,
    purpose: 'bench s1',
    signal,
  });
  return {
    async issue() {
      const issued = await provider.issue(request(newGrantId()));
      if (typeof issued.credential.access_token !== 'string') throw new Error('direct issue returned no access_token');
    },
    close: () => provider.close(),
  };
}

async function runOnce(options: S1Options, index: number): Promise<S1Run> {
  const redis: RedisServer | null = options.store === 'redis' ? await startRedisServer() : null;
  const child: BrokerChild = await startBrokerChild({
    logLevel: options.logLevel,
    ...(redis ? { store: { kind: 'redis', url: redis.url, keyPrefix: 'qm-bench:' } } : {}),
    ...(options.cpuProfDir ? { cpuProfDir: options.cpuProfDir } : {}),
  }).catch(async (err: unknown) => {
    await redis?.stop();
    throw err;
  });
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  try {
    const { operator: operatorToken, agent: agentToken } = await benchTokens(child.keyDir, AGENT_ID);

    const incidentId = `INC-BENCH-S1-${index + 1}`;
    const opened = await httpCall(
      agent,
      `${child.url}/v1/incidents`,
      'POST',
      { authorization: `Bearer ${operatorToken}`, 'content-type': 'application/json' },
      JSON.stringify({ id: incidentId, title: 'bench s1', severity: 'sev3' }),
    );
    if (opened.status !== 201) throw new Error(`opening the incident answered ${opened.status}: ${opened.body}`);

    const direct = await directJwtIssue(child, incidentId);

    const grantBody = JSON.stringify({ incident_id: incidentId, profile: PROFILE, purpose: 'bench s1' });
    const grantHeaders = { authorization: `Bearer ${agentToken}`, 'content-type': 'application/json' };
    const grantsUrl = `${child.url}/v1/grants`;
    const healthzUrl = `${child.url}/healthz`;

    const series = {
      broker: async () => {
        const res = await httpCall(agent, grantsUrl, 'POST', grantHeaders, grantBody);
        if (res.status !== 201) throw new Error(`POST /v1/grants answered ${res.status}: ${res.body}`);
      },
      direct: direct.issue,
      healthz: async () => {
        const res = await httpCall(agent, healthzUrl, 'GET', {});
        if (res.status !== 200) throw new Error(`GET /healthz answered ${res.status}`);
      },
    };
    type Series = keyof typeof series;
    const names = Object.keys(series) as Series[];

    // Sanity: the broker's credential is the same kind of token the direct call signs.
    const first = await httpCall(agent, grantsUrl, 'POST', grantHeaders, grantBody);
    const token = (JSON.parse(first.body) as { credential?: { access_token?: unknown } }).credential?.access_token;
    if (first.status !== 201 || typeof token !== 'string' || token.split('.').length !== 3)
      throw new Error(`unexpected grant response ${first.status}: ${first.body}`);

    for (const name of names) await timeSequential(options.warmup, series[name]);
    const samples: Record<Series, bigint[]> = { broker: [], direct: [], healthz: [] };
    for (let done = 0; done < options.requests; done += BLOCK) {
      const size = Math.min(BLOCK, options.requests - done);
      for (const name of names) samples[name].push(...(await timeSequential(size, series[name])));
    }
    await direct.close();
    return { broker: summarize(samples.broker), direct: summarize(samples.direct), healthz: summarize(samples.healthz) };
  } finally {
    agent.destroy();
    await child.stop();
    await redis?.stop();
  }
}

export async function runS1(options: S1Options): Promise<S1Result> {
  const runs: S1Run[] = [];
  for (let i = 0; i < options.runs; i += 1) runs.push(await runOnce(options, i));
  return {
    runs,
    median: {
      broker: medianOfRuns(runs.map((r) => r.broker)),
      direct: medianOfRuns(runs.map((r) => r.direct)),
      healthz: medianOfRuns(runs.map((r) => r.healthz)),
    },
  };
}

const us = (v: number): string => v.toFixed(0);

export function s1Markdown(result: S1Result, options: S1Options): string {
  const { broker, direct, healthz } = result.median;
  const lines: string[] = [];
  lines.push(`### S1 — issue a grant, sequential (jwt provider, ${options.store} store, log level ${options.logLevel})`);
  lines.push('');
  lines.push(
    `${options.requests} requests per series per run after ${options.warmup} warm-up, ${options.runs} runs; each cell is the median over runs of the per-run value.`,
  );
  lines.push('');
  lines.push('| series | p50 µs | p99 µs | mean µs |');
  lines.push('|---|---:|---:|---:|');
  lines.push(`| broker: POST /v1/grants over HTTP | ${us(broker.p50Us)} | ${us(broker.p99Us)} | ${us(broker.meanUs)} |`);
  lines.push(`| direct: jwt provider issue() in-process | ${us(direct.p50Us)} | ${us(direct.p99Us)} | ${us(direct.meanUs)} |`);
  lines.push(`| floor: GET /healthz over HTTP | ${us(healthz.p50Us)} | ${us(healthz.p99Us)} | ${us(healthz.meanUs)} |`);
  lines.push('');
  const overDirect = broker.p50Us - direct.p50Us;
  const overHealthz = broker.p50Us - healthz.p50Us;
  const verdict =
    overDirect <= TARGET_P50_OVERHEAD_US
      ? `meets (${us(TARGET_P50_OVERHEAD_US - overDirect)} µs to spare)`
      : `misses by ${us(overDirect - TARGET_P50_OVERHEAD_US)} µs`;
  lines.push('| derived (from the medians) | value |');
  lines.push('|---|---:|');
  lines.push(`| broker p50 − direct p50 | ${us(overDirect)} µs |`);
  lines.push(`| broker p50 − healthz p50 | ${us(overHealthz)} µs |`);
  lines.push(`| broker p50 / direct p50 | ${(broker.p50Us / direct.p50Us).toFixed(2)}× |`);
  lines.push(`| broker p99 − direct p99 | ${us(broker.p99Us - direct.p99Us)} µs |`);
  lines.push(`| target p50 ≤ direct + 1 ms | ${verdict} |`);
  lines.push('');
  lines.push('| run | broker p50 / p99 µs | direct p50 / p99 µs | healthz p50 / p99 µs |');
  lines.push('|---|---:|---:|---:|');
  result.runs.forEach((r, i) => {
    lines.push(
      `| ${i + 1} | ${us(r.broker.p50Us)} / ${us(r.broker.p99Us)} | ${us(r.direct.p50Us)} / ${us(r.direct.p99Us)} | ${us(r.healthz.p50Us)} / ${us(r.healthz.p99Us)} |`,
    );
  });
  return lines.join('\n');
}
