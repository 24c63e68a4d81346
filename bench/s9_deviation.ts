/**
 * S9 (docs/performance.md): deviation — what the built-in detectors cost a grant request, and how
 * fast a signal ends an agent's grants. Two parts per run:
 *
 *  1. grants: S1 through two broker children alive at once on the same store kind — one with every
 *     deviation detector on at its defaults (what the embedded default and production run), one
 *     with them off — and S1's direct jwt-provider baseline, interleaved in blocks of 100, the
 *     order rotating from block to block. The detectors count off the request path (a store window
 *     per grant request, deviation/detectors.ts); this measures what that still costs the request.
 *  2. revocation: one child with the shipped policies; per round a fresh incident where the agent
 *     holds `GRANTS` grants, ended either by a medium signal naming the agent in that incident
 *     (POST /v1/signals: queued, decided by deviation-revokes-in-incident, revoked) or, as the
 *     baseline, by closing the incident (POST /v1/incidents/{id}/close); alternating rounds. Each
 *     time runs from the request until GET /v1/incidents/{id} shows every grant revoked (polled).
 */
import { Agent } from 'node:http';
import { startRedisServer, type RedisServer } from '../test/support/redis_server.js';
import { benchTokens, httpCall, startBrokerChild, type BrokerChild } from './broker_child.js';
import { directJwtIssue, type S1Options } from './s1_issue.js';
import { medianOfRuns, summarize, timeSequential, type Summary } from './stats.js';

const AGENT_ID = 'spiffe://dev.local/agent/triage';
const PROFILE = 'demo';
const POLICY_DIR = `${process.cwd()}/config/policies`;
const GRANT_BLOCK = 100;
const GRANT_WARMUP = 300;
/** Grants the agent holds in each revocation round, and rounds per kind per run. */
const GRANTS = 20;
const ROUNDS = 15;
const POLL_MS = 2;
const GRANT_SERIES = ['detectors', 'plain', 'direct'] as const;
type GrantSeries = (typeof GRANT_SERIES)[number];
const END_SERIES = ['signal', 'close'] as const;
type EndSeries = (typeof END_SERIES)[number];

/** docs/performance.md S9: the detectors add at most 100 µs to S1's p50; a signal ends grants within close + 20 ms. */
const DETECTOR_BUDGET_US = 100;
const SIGNAL_BUDGET_US = 20_000;

export interface S9Run {
  readonly grants: Record<GrantSeries, Summary>;
  readonly ends: Record<EndSeries, Summary>;
}
export interface S9Result {
  readonly runs: readonly S9Run[];
  readonly median: S9Run;
}

const detectorsOff = (config: Record<string, unknown>) => config; // the bench config turns every detector off
const detectorsOn = (config: Record<string, unknown>) => ({ ...config, deviation: {} });

async function call(agent: Agent, url: string, method: string, headers: Record<string, string>, body?: unknown, expect?: number) {
  const res = await httpCall(agent, url, method, headers, body === undefined ? undefined : JSON.stringify(body));
  if (expect !== undefined && res.status !== expect) throw new Error(`${method} ${url} answered ${res.status}: ${res.body}`);
  return res;
}

async function measureGrants(options: S1Options, index: number, redis: RedisServer | null): Promise<Record<GrantSeries, Summary>> {
  const store = (prefix: string) => (redis ? { store: { kind: 'redis' as const, url: redis.url, keyPrefix: prefix } } : {});
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const started: BrokerChild[] = [];
  try {
    const children = {
      detectors: await startBrokerChild({ logLevel: options.logLevel, ...store(`qm-s9-on-${index}:`), configure: detectorsOn }),
      plain: await startBrokerChild({ logLevel: options.logLevel, ...store(`qm-s9-off-${index}:`), configure: detectorsOff }),
    };
    started.push(children.detectors, children.plain);
    const incidentId = `INC-BENCH-S9-${index + 1}`;
    const targets = Object.fromEntries(
      await Promise.all(
        (['detectors', 'plain'] as const).map(async (name) => {
          const child = children[name];
          const { operator, agent: agentToken } = await benchTokens(child.keyDir, AGENT_ID);
          const op = { authorization: `Bearer ${operator}`, 'content-type': 'application/json' };
          await call(agent, `${child.url}/v1/incidents`, 'POST', op, { id: incidentId, title: 'bench s9', severity: 'sev3' }, 201);
          const headers = { authorization: `Bearer ${agentToken}`, 'content-type': 'application/json' };
          const body = JSON.stringify({ incident_id: incidentId, profile: PROFILE, purpose: 'bench s9' });
          return [name, { url: `${child.url}/v1/grants`, headers, body }] as const;
        }),
      ),
    ) as unknown as Record<'detectors' | 'plain', { url: string; headers: Record<string, string>; body: string }>;

    const direct = await directJwtIssue(children.plain, incidentId);
    const series: Record<GrantSeries, () => Promise<void>> = {
      detectors: async () => {
        const t = targets.detectors;
        const res = await httpCall(agent, t.url, 'POST', t.headers, t.body);
        if (res.status !== 201) throw new Error(`the detectors broker answered ${res.status}: ${res.body}`);
      },
      plain: async () => {
        const t = targets.plain;
        const res = await httpCall(agent, t.url, 'POST', t.headers, t.body);
        if (res.status !== 201) throw new Error(`the plain broker answered ${res.status}: ${res.body}`);
      },
      direct: direct.issue,
    };
    const interleaved = async (count: number): Promise<Record<GrantSeries, bigint[]>> => {
      const samples: Record<GrantSeries, bigint[]> = { detectors: [], plain: [], direct: [] };
      for (let done = 0, block = 0; done < count; done += GRANT_BLOCK, block += 1) {
        const size = Math.min(GRANT_BLOCK, count - done);
        const order = GRANT_SERIES.map((_, i) => GRANT_SERIES[(i + block) % GRANT_SERIES.length]!);
        for (const name of order) samples[name].push(...(await timeSequential(size, series[name])));
      }
      return samples;
    };
    await interleaved(Math.max(options.warmup, GRANT_WARMUP));
    const samples = await interleaved(options.requests);
    await direct.close();
    return { detectors: summarize(samples.detectors), plain: summarize(samples.plain), direct: summarize(samples.direct) };
  } finally {
    agent.destroy();
    for (const child of started.reverse()) await child.stop();
  }
}

async function measureEnds(options: S1Options, index: number, redis: RedisServer | null): Promise<Record<EndSeries, Summary>> {
  const agent = new Agent({ keepAlive: true, maxSockets: 4 });
  const child = await startBrokerChild({
    logLevel: options.logLevel,
    ...(redis ? { store: { kind: 'redis' as const, url: redis.url, keyPrefix: `qm-s9-ends-${index}:` } } : {}),
    configure: (config) => ({ ...config, policy: { dir: POLICY_DIR, watch: false } }),
  });
  try {
    const { operator, agent: agentToken } = await benchTokens(child.keyDir, AGENT_ID);
    const op = { authorization: `Bearer ${operator}`, 'content-type': 'application/json' };
    const agentHeaders = { authorization: `Bearer ${agentToken}`, 'content-type': 'application/json' };
    const samples: Record<EndSeries, bigint[]> = { signal: [], close: [] };
    for (let round = 0; round < 2 * ROUNDS; round += 1) {
      const kind: EndSeries = round % 2 === 0 ? 'signal' : 'close';
      const incidentId = `INC-S9-${index}-${round}`;
      await call(agent, `${child.url}/v1/incidents`, 'POST', op, { id: incidentId, title: 'bench s9', severity: 'sev3' }, 201);
      for (let g = 0; g < GRANTS; g += 1)
        await call(
          agent,
          `${child.url}/v1/grants`,
          'POST',
          agentHeaders,
          { incident_id: incidentId, profile: PROFILE, purpose: 'bench s9' },
          201,
        );
      const started = process.hrtime.bigint();
      if (kind === 'signal')
        await call(
          agent,
          `${child.url}/v1/signals`,
          'POST',
          op,
          {
            id: `s9-${index}-${round}`,
            kind: 'bench.signal',
            severity: 'medium',
            subject: { format: 'agent', id: AGENT_ID },
            incident_id: incidentId,
          },
          202,
        );
      else await call(agent, `${child.url}/v1/incidents/${incidentId}/close`, 'POST', op, undefined, 202);
      for (;;) {
        const res = await call(agent, `${child.url}/v1/incidents/${incidentId}`, 'GET', op, undefined, 200);
        const grants = (JSON.parse(res.body) as { grants: { state: string }[] }).grants;
        if (grants.length === GRANTS && grants.every((g) => g.state === 'revoked')) break;
        await new Promise((r) => setTimeout(r, POLL_MS));
      }
      samples[kind].push(process.hrtime.bigint() - started);
    }
    return { signal: summarize(samples.signal), close: summarize(samples.close) };
  } finally {
    agent.destroy();
    await child.stop();
  }
}

export async function runS9(options: S1Options): Promise<S9Result> {
  const runs: S9Run[] = [];
  for (let i = 0; i < options.runs; i += 1) {
    const redis = options.store === 'redis' ? await startRedisServer() : null;
    try {
      process.stderr.write(`bench: s9 run ${i + 1}: grants with and without the detectors (${options.store} store)\n`);
      const grants = await measureGrants(options, i, redis);
      process.stderr.write(`bench: s9 run ${i + 1}: ${GRANTS} grants ended by a signal or a close, ${ROUNDS} rounds each\n`);
      runs.push({ grants, ends: await measureEnds(options, i, redis) });
    } finally {
      await redis?.stop();
    }
  }
  const pick = <K extends string>(keys: readonly K[], of: (r: S9Run) => Record<K, Summary>) =>
    Object.fromEntries(keys.map((k) => [k, medianOfRuns(runs.map((r) => of(r)[k]))])) as Record<K, Summary>;
  return { runs, median: { grants: pick(GRANT_SERIES, (r) => r.grants), ends: pick(END_SERIES, (r) => r.ends) } };
}

const us0 = (v: number): string => v.toFixed(0);
const ms1 = (us: number): string => (us / 1000).toFixed(1);

export function s9Markdown(result: S9Result, options: S1Options): string {
  const g = result.median.grants;
  const e = result.median.ends;
  const added = g.detectors.p50Us - g.plain.p50Us;
  const slower = e.signal.p50Us - e.close.p50Us;
  const lines = [
    `### S9 — deviation: the detectors per grant, and a signal ending grants (jwt provider, ${options.store} store, log level ${options.logLevel})`,
    '',
    `${options.runs} runs; medians of per-run statistics. Grants: ${options.requests} per series per run, interleaved in blocks of ${GRANT_BLOCK}.`,
    '',
    '| series | p50 µs | p99 µs | mean µs |',
    '|---|---:|---:|---:|',
    `| grant, every detector on (defaults) | ${us0(g.detectors.p50Us)} | ${us0(g.detectors.p99Us)} | ${us0(g.detectors.meanUs)} |`,
    `| grant, detectors off | ${us0(g.plain.p50Us)} | ${us0(g.plain.p99Us)} | ${us0(g.plain.meanUs)} |`,
    `| direct jwt provider call | ${us0(g.direct.p50Us)} | ${us0(g.direct.p99Us)} | ${us0(g.direct.meanUs)} |`,
    '',
    `The detectors add ${us0(added)} µs to the p50: ${added <= DETECTOR_BUDGET_US ? 'meets' : 'misses'} the ${DETECTOR_BUDGET_US} µs budget.`,
    '',
    `| ${GRANTS} grants of one agent in an incident, ended by | p50 ms | p99 ms | rounds |`,
    '|---|---:|---:|---:|',
    `| a medium signal (POST /v1/signals → decided → revoked) | ${ms1(e.signal.p50Us)} | ${ms1(e.signal.p99Us)} | ${e.signal.n} |`,
    `| baseline: closing the incident | ${ms1(e.close.p50Us)} | ${ms1(e.close.p99Us)} | ${e.close.n} |`,
    '',
    `A signal takes ${ms1(slower)} ms more than a close at the p50: ${slower <= SIGNAL_BUDGET_US ? 'meets' : 'misses'} close + ${ms1(SIGNAL_BUDGET_US)} ms.`,
    '',
  ];
  return lines.join('\n');
}
