/**
 * S5 (docs/performance.md): issuance latency while an incident close (S4) runs, against S1 alone,
 * measured in the same run on the same broker, for each provider:
 *  - incident A holds N grants: for Vault 1000 (half child tokens, half database leases) on the
 *    memory store against the fake Vault; for AWS STS 10 000 sessions of one role on Redis
 *    against the STS + IAM fake; for jwt 10 000 on Redis (the ledger revokes them, so what
 *    runs is the broker's own queue and store). N is what keeps the close long enough to issue
 *    during it: an AWS close of 1000 ends in ~70 ms, a jwt one in ~300 ms;
 *  - S1 alone: sequential grants on a second open incident B, before the close and again after it
 *    (the two halves pooled, so a drift of the machine hits the baseline too);
 *  - S5: the same sequential grants on B from the moment A's close is accepted until all N are
 *    revoked; only requests that started during the close count.
 * Each broker grant alternates with the same provider call made directly from this process, so
 * the table also shows how much the provider (its fake) itself slowed during the close.
 * Target: p99 during the close ≤ 2× the p99 of S1 alone.
 */
import { randomBytes } from 'node:crypto';
import { Agent } from 'node:http';
import { Redis } from 'ioredis';
import { runLimited } from '../src/revocation/revoke_jobs.js';
import { createRedisKeys } from '../src/store/redis_keys.js';
import type { Provider } from '../src/sdk.js';
import { AGENT_ISSUER } from '../test/support/test_config.js';
import { startRedisServer, type RedisServer } from '../test/support/redis_server.js';
import { AWS_KEY_PREFIX, AWS_PROFILE, GRANT_TTL_SECONDS, profileParams as awsParams, startAwsBench, directSignal } from './aws_setup.js';
import { benchTokens, httpCall, startBrokerChild, type BrokerChild, type LogLevel } from './broker_child.js';
import { directJwtIssue } from './s1_issue.js';
import { medianOfRuns, summarize, type Summary } from './stats.js';
import { AGENT_ID, profileParams as vaultParams, startVaultBench } from './vault_setup.js';

export type S5Provider = 'jwt' | 'vault' | 'aws_sts';

const BASELINE_REQUESTS = 300;
const WARMUP = 100;
const SEED_CONCURRENCY = 8;
/** Fewer pairs than this during the close make no p99: the close was too short for the N chosen. */
const MIN_DURING = 20;
const CLOSE_TIMEOUT_NS = 300_000_000_000n;

export interface S5Options {
  readonly runs: number;
  readonly logLevel: LogLevel;
  /** The size of the incident closed; the provider's default (DEFAULT_GRANTS) when unset. */
  readonly grants?: number;
  readonly cpuProfDir?: string;
  /** Vault only: the provider's confirmConcurrency, the broker's receipt lanes, the fake's latency. */
  readonly confirmConcurrency?: number;
  readonly receiptLanes?: number;
  readonly vaultLatencyMs?: number;
}

export const DEFAULT_GRANTS: Record<S5Provider, number> = { vault: 1000, aws_sts: 10_000, jwt: 10_000 };
export const S5_STORE: Record<S5Provider, 'memory' | 'redis'> = { vault: 'memory', aws_sts: 'redis', jwt: 'redis' };

export interface Series {
  readonly broker: Summary;
  readonly direct: Summary;
}
export interface S5Run {
  readonly provider: S5Provider;
  readonly grants: number;
  readonly alone: Series;
  readonly during: Series;
  readonly closeMs: number;
}

/** What one provider's run needs: a broker with two open incidents, and the provider called directly. */
interface S5World {
  readonly brokerUrl: string;
  /** Seeding and watching; the measured requests get a connection of their own. */
  readonly pool: Agent;
  readonly operatorHeaders: Record<string, string>;
  readonly agentHeaders: Record<string, string>;
  /** The profile of the i-th grant of the incident that is closed. */
  seedProfile(i: number): string;
  /** The profile of the measured grants. */
  readonly issueProfile: string;
  /** The same provider call as the broker's for the measured profile (on the measured incident), made from this process. */
  direct(): Promise<void>;
  /** Whether the close has revoked all `grants` (each world watches in the way that loads the broker least). */
  allRevoked(incidentId: string, grants: number): Promise<boolean>;
  /** How often allRevoked is asked. */
  readonly pollMs: number;
  stop(): Promise<void>;
}

const elapsedNs = (start: bigint): bigint => process.hrtime.bigint() - start;
const grantId = (): string => `grt_${randomBytes(16).toString('base64url')}`;

/** The incident report says all `grants` are revoked and nothing is outstanding. */
async function reportSaysRevoked(world: Pick<S5World, 'brokerUrl' | 'pool' | 'operatorHeaders'>, incidentId: string, grants: number) {
  const res = await httpCall(world.pool, `${world.brokerUrl}/v1/incidents/${incidentId}?grants=false`, 'GET', world.operatorHeaders);
  if (res.status !== 200) throw new Error(`report of ${incidentId} answered ${res.status}`);
  const { revocation } = JSON.parse(res.body) as { revocation: { by_state: { revoked?: number }; outstanding: number } };
  return (revocation.by_state.revoked ?? 0) === grants && revocation.outstanding === 0;
}

/**
 * Watches a close on Redis as s4_scale.ts does: the revocation queue, read on the bench's own
 * connection, and one report once it is empty. Not the report alone: a report reads every grant
 * of the incident, and at N = 10 000 on Redis each one held the broker's event loop for 120–230 ms,
 * which showed as the p99 of the grants measured (docs/performance.md, S5).
 */
function queueWatch(
  redisUrl: string,
  prefix: string,
  world: Pick<S5World, 'brokerUrl' | 'pool' | 'operatorHeaders'>,
): { allRevoked: S5World['allRevoked']; close(): void } {
  const keys = createRedisKeys(prefix);
  const queue = new Redis(redisUrl);
  return {
    async allRevoked(id, n) {
      const [close, other] = await Promise.all([queue.zcard(keys.revocationDueClose), queue.zcard(keys.revocationDue)]);
      return close + other === 0 && (await reportSaysRevoked(world, id, n));
    },
    close: () => queue.disconnect(),
  };
}

/** The provider's issue() for one profile, made from this process: the direct baseline of a grant. */
export function directIssue<P>(
  provider: Provider<P>,
  incidentId: string,
  profile: string,
  params: P,
  ttlSeconds: number,
): () => Promise<void> {
  const signal = directSignal();
  return async () => {
    await provider.issue({
      grantId: grantId(),
      incidentId,
      agent: { id: AGENT_ID, issuer: AGENT_ISSUER },
      profile: { name: profile, params },
      ttlSeconds,
      purpose: 'bench',
      signal,
    });
  };
}

async function vaultWorld(options: S5Options, closing: string, issuing: string): Promise<S5World> {
  const bench = await startVaultBench({
    latencyMs: options.vaultLatencyMs ?? 0,
    logLevel: options.logLevel,
    maxSockets: 8,
    incidentId: closing,
    ...(options.cpuProfDir ? { cpuProfDir: options.cpuProfDir } : {}),
    ...(options.confirmConcurrency === undefined ? {} : { confirmConcurrency: options.confirmConcurrency }),
    ...(options.receiptLanes === undefined ? {} : { receiptLanes: options.receiptLanes }),
  });
  const world = { brokerUrl: bench.broker.url, pool: bench.http, operatorHeaders: bench.operatorHeaders };
  return {
    ...world,
    agentHeaders: bench.agentHeaders,
    seedProfile: (i) => (i % 2 ? 'db-read' : 'vault-read'),
    issueProfile: 'vault-read',
    direct: directIssue(bench.provider, issuing, 'vault-read', vaultParams('vault-read'), 300),
    allRevoked: (id, n) => reportSaysRevoked(world, id, n),
    pollMs: 100,
    stop: () => bench.stop(),
  };
}

async function awsWorld(options: S5Options, closing: string, issuing: string): Promise<S5World> {
  const bench = await startAwsBench({
    latencyMs: 0,
    logLevel: options.logLevel,
    maxSockets: 8,
    incidentId: closing,
    store: S5_STORE.aws_sts,
    ...(options.cpuProfDir ? { cpuProfDir: options.cpuProfDir } : {}),
  });
  const world = { brokerUrl: bench.broker.url, pool: bench.http, operatorHeaders: bench.operatorHeaders };
  const watch = queueWatch(bench.redisUrl as string, AWS_KEY_PREFIX, world);
  return {
    ...world,
    agentHeaders: bench.agentHeaders,
    seedProfile: () => AWS_PROFILE,
    issueProfile: AWS_PROFILE,
    direct: directIssue(bench.provider, issuing, AWS_PROFILE, awsParams(bench.fake), GRANT_TTL_SECONDS),
    allRevoked: watch.allRevoked,
    pollMs: 100,
    stop: async () => {
      watch.close();
      await bench.stop();
    },
  };
}

const JWT_PREFIX = 'qm-s5:';

async function jwtWorld(options: S5Options, closing: string, issuing: string): Promise<S5World> {
  const redis: RedisServer = await startRedisServer();
  let child: BrokerChild | null = null;
  let watch: ReturnType<typeof queueWatch> | null = null;
  let direct: Awaited<ReturnType<typeof directJwtIssue>> | null = null;
  const pool = new Agent({ keepAlive: true, maxSockets: SEED_CONCURRENCY });
  const stop = async (): Promise<void> => {
    pool.destroy();
    watch?.close();
    await direct?.close();
    await child?.stop();
    await redis.stop();
  };
  try {
    child = await startBrokerChild({
      logLevel: options.logLevel,
      store: { kind: 'redis', url: redis.url, keyPrefix: JWT_PREFIX },
      ...(options.cpuProfDir ? { cpuProfDir: options.cpuProfDir } : {}),
    });
    const { operator, agent } = await benchTokens(child.keyDir, AGENT_ID);
    const operatorHeaders = { authorization: `Bearer ${operator}`, 'content-type': 'application/json' };
    const brokerUrl = child.url;
    const opened = await httpCall(
      pool,
      `${brokerUrl}/v1/incidents`,
      'POST',
      operatorHeaders,
      JSON.stringify({ id: closing, title: 'bench', severity: 'sev3' }),
    );
    if (opened.status !== 201) throw new Error(`open incident ${closing} answered ${opened.status}`);
    direct = await directJwtIssue(child, issuing);
    const issue = direct.issue;
    watch = queueWatch(redis.url, JWT_PREFIX, { brokerUrl, pool, operatorHeaders });
    return {
      brokerUrl,
      pool,
      operatorHeaders,
      agentHeaders: { authorization: `Bearer ${agent}`, 'content-type': 'application/json' },
      seedProfile: () => 'demo',
      issueProfile: 'demo',
      direct: issue,
      allRevoked: watch.allRevoked,
      pollMs: 100,
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

const WORLDS: Record<S5Provider, (options: S5Options, closing: string, issuing: string) => Promise<S5World>> = {
  vault: vaultWorld,
  aws_sts: awsWorld,
  jwt: jwtWorld,
};

async function runOnce(provider: S5Provider, options: S5Options, index: number): Promise<S5Run> {
  const grants = options.grants ?? DEFAULT_GRANTS[provider];
  const closing = `INC-BENCH-S5-CLOSE-${index}`;
  const issuing = `INC-BENCH-S5-ISSUE-${index}`;
  const world = await WORLDS[provider](options, closing, issuing);
  const { brokerUrl, pool, operatorHeaders, agentHeaders } = world;
  // The measured requests get a connection of their own, as one sequential client would.
  const single = new Agent({ keepAlive: true, maxSockets: 1 });
  try {
    const opened = await httpCall(
      pool,
      `${brokerUrl}/v1/incidents`,
      'POST',
      operatorHeaders,
      JSON.stringify({ id: issuing, title: 'bench', severity: 'sev3' }),
    );
    if (opened.status !== 201) throw new Error(`open incident answered ${opened.status}`);
    await runLimited([...Array(grants).keys()], SEED_CONCURRENCY, async (i) => {
      const body = JSON.stringify({ incident_id: closing, profile: world.seedProfile(i), purpose: 'bench' });
      const res = await httpCall(pool, `${brokerUrl}/v1/grants`, 'POST', agentHeaders, body);
      if (res.status !== 201) throw new Error(`grant answered ${res.status}: ${res.body}`);
    });

    const body = JSON.stringify({ incident_id: issuing, profile: world.issueProfile, purpose: 'bench' });
    const viaBroker = async (): Promise<void> => {
      const res = await httpCall(single, `${brokerUrl}/v1/grants`, 'POST', agentHeaders, body);
      if (res.status !== 201) throw new Error(`grant on ${issuing} answered ${res.status}: ${res.body}`);
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
        const d = await timed(world.direct);
        into?.broker.push(b);
        into?.direct.push(d);
      }
    };

    await alternate(WARMUP, null);
    await alternate(BASELINE_REQUESTS / 2, samples.alone);

    const closeStart = process.hrtime.bigint();
    const closed = await httpCall(pool, `${brokerUrl}/v1/incidents/${closing}/close`, 'POST', operatorHeaders);
    if (closed.status !== 202) throw new Error(`close answered ${closed.status}`);
    let closeRunning = true;
    const watcher = (async () => {
      while (closeRunning) {
        if (await world.allRevoked(closing, grants)) closeRunning = false;
        else if (elapsedNs(closeStart) > CLOSE_TIMEOUT_NS) throw new Error(`close of ${grants} did not finish within 300 s`);
        else await new Promise((r) => setTimeout(r, world.pollMs));
      }
      return Number(elapsedNs(closeStart)) / 1e6;
    })();
    // A pair still running when the close finished started during it: it counts.
    while (closeRunning) await alternate(1, samples.during);
    const closeMs = await watcher;
    await alternate(BASELINE_REQUESTS / 2, samples.alone);
    if (samples.during.broker.length < MIN_DURING)
      throw new Error(
        `only ${samples.during.broker.length} grants were issued during the close of ${grants} (${closeMs.toFixed(0)} ms; the longest took ${(Number(samples.during.broker.reduce((a, b) => (b > a ? b : a), 0n)) / 1e6).toFixed(0)} ms); too few for a p99 (raise --grants)`,
      );
    const series = (x: { broker: bigint[]; direct: bigint[] }): Series => ({ broker: summarize(x.broker), direct: summarize(x.direct) });
    return { provider, grants, alone: series(samples.alone), during: series(samples.during), closeMs };
  } finally {
    single.destroy();
    await world.stop();
  }
}

export async function runS5(provider: S5Provider, options: S5Options): Promise<S5Run[]> {
  const runs: S5Run[] = [];
  for (let i = 0; i < options.runs; i += 1) runs.push(await runOnce(provider, options, i));
  return runs;
}

const us = (v: number): string => v.toFixed(0);

const SETUP: Record<S5Provider, (options: S5Options) => string> = {
  vault: (o) =>
    `the vault provider against the fake Vault in its own process (latency ${o.vaultLatencyMs ?? 0} ms per request; confirmConcurrency ${o.confirmConcurrency ?? 16}, receipt lanes while serving ${o.receiptLanes ?? 2}), half child tokens and half database leases, memory store; measured: \`vault-read\` grants`,
  aws_sts: () => 'the aws_sts provider against the STS + IAM fake in its own process (0 ms), sessions of one role, Redis store',
  jwt: () => "the jwt provider (the ledger revokes its grants: the close is the broker's queue and store alone), Redis store",
};

export function s5Markdown(runs: S5Run[], provider: S5Provider, options: S5Options): string {
  const pick = (f: (r: S5Run) => Summary): Summary => medianOfRuns(runs.map(f));
  const rows: Array<[string, Summary]> = [
    ['broker, S1 alone (baseline)', pick((r) => r.alone.broker)],
    ['broker, during the close (S5)', pick((r) => r.during.broker)],
    ['direct provider call, alone', pick((r) => r.alone.direct)],
    ['direct provider call, during the close', pick((r) => r.during.direct)],
  ];
  const [bAlone, bDuring, dAlone, dDuring] = rows.map(([, s]) => s) as [Summary, Summary, Summary, Summary];
  const ratio = bDuring.p99Us / bAlone.p99Us;
  const grants = runs[0]?.grants ?? options.grants ?? DEFAULT_GRANTS[provider];
  const lines = [
    `### S5 — issuance latency while an incident of ${grants} ${provider} grants is revoked (log level ${options.logLevel})`,
    '',
    `${options.runs} runs; medians over runs; ${SETUP[provider](options)}. Sequential grants on a second incident over one connection, alternating with the same provider call made directly from the bench process. S1 alone is ${BASELINE_REQUESTS} pairs (half before, half after the close); S5 is every pair made while the close ran.`,
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
