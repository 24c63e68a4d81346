/**
 * S2 (docs/performance.md): capacity. An open-loop generator in its own process (load_child.ts)
 * offers `POST /v1/grants` at fixed rates, raised step by step, to one broker child (jwt provider,
 * Redis by default); every request carries its own freshly minted agent token, so each pays a
 * signature verify (no verified-token cache hit). Per step: what was answered 201, latency from
 * when each request was due, and the broker process's CPU time (/proc/<pid>/stat) per issuance.
 * The knee is the highest rate the broker kept up with: at least 97 % answered 201, no errors,
 * every answer within the step plus 250 ms, p99 ≤ 100 ms.
 *
 * The CPU floor of one issuance, measured in the same run: one raw ES256 verify of such a token
 * (node:crypto, this process's CPU), one HTTP hop (a node:http hello-world in a second load child,
 * its CPU per request at a fixed rate) and one Redis write (an ioredis SET of a grant-sized value,
 * this process's CPU). Target: the broker's CPU per issuance ≤ 3× the floor, read at the step
 * nearest half the knee, where S1's "p99 ≤ direct + 5 ms at 50 % load" is read too.
 */
import { spawnSync } from 'node:child_process';
import { createPublicKey, verify } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Agent } from 'node:http';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { mintAgentToken } from '../src/identity/dev_issuer.js';
import { startRedisServer } from '../test/support/redis_server.js';
import { AGENT_ISSUER, AUDIENCE } from '../test/support/test_config.js';
import { benchTokens, httpCall, startBrokerChild, type BrokerChild, type LogLevel } from './broker_child.js';
import { startLoadChild, type LoadResult } from './load_child.js';
import { directJwtIssue } from './s1_issue.js';
import { summarize, timeSequential } from './stats.js';
import { AWS_PROFILE, GRANT_TTL_SECONDS, profileParams as awsParams, startAwsBench } from './aws_setup.js';
import { directIssue } from './s5_during_close.js';
import { profileParams as vaultParams, startVaultBench } from './vault_setup.js';

export type S2Provider = 'jwt' | 'vault' | 'aws_sts';

export interface S2Options {
  readonly logLevel: LogLevel;
  /** The broker's provider; jwt by default. Vault and AWS STS run against their fakes, each in its own process at 0 ms. */
  readonly provider?: S2Provider;
  readonly store: 'memory' | 'redis';
  /** Seconds per rate step (short profile 3, full 10). */
  readonly stepSeconds?: number;
  readonly cpuProfDir?: string;
}

export interface S2Step {
  readonly rate: number;
  readonly load: LoadResult;
  /** Broker CPU (user + system) per request answered 201, µs. */
  readonly cpuPerIssuanceUs: number;
  /** Broker CPU busy share of one core during the step. */
  readonly cpuCores: number;
  readonly keptUp: boolean;
}

export interface S2Floor {
  readonly verifyUs: number;
  readonly httpHopUs: number;
  readonly redisWriteUs: number;
  /**
   * Vault and AWS STS: the provider's own issue() in this process, its client CPU per call (the
   * request to the fake, SigV4 signing and XML parsing for AWS). null for jwt, whose floor is the
   * design card's: the signing is the broker's own work.
   */
  readonly providerCallUs: number | null;
  readonly totalUs: number;
}

export interface S2Result {
  readonly provider: S2Provider;
  readonly steps: readonly S2Step[];
  /** Highest rate kept up with; 0 when even the first was not. */
  readonly kneeRate: number;
  /** The step nearest half the knee (at or below it). */
  readonly halfLoad: S2Step | null;
  readonly floor: S2Floor;
  readonly directP99Us: number;
  readonly stepSeconds: number;
}

const RATES = [50, 100, 200, 300, 400, 500, 650, 800, 1000, 1250, 1600, 2000];
const AGENTS = 8;
const P99_LIMIT_MS = 100;
const CLK_TCK = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;

/** CPU time (user + system) of a process so far, µs, from /proc (Linux). */
function processCpuUs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // After "pid (comm) ": state is field 3, utime 14, stime 15 (proc(5)).
  return ((Number(fields[11]) + Number(fields[12])) * 1e6) / CLK_TCK;
}

/** This process's CPU per call of `fn` over `count` calls, µs. */
async function cpuPerCallUs(count: number, fn: () => unknown): Promise<number> {
  const before = process.cpuUsage();
  for (let i = 0; i < count; i += 1) await fn();
  const used = process.cpuUsage(before);
  return (used.user + used.system) / count;
}

async function mintTokens(keyDir: string, count: number, offset: number): Promise<string[]> {
  const now = Date.now();
  const tokens: string[] = [];
  for (let i = 0; i < count; i += 1) {
    const agentId = `spiffe://dev.local/agent/load-${(offset + i) % AGENTS}`;
    tokens.push(await mintAgentToken({ keyDir, issuer: AGENT_ISSUER, audience: AUDIENCE, agentId, ttlSeconds: 3600, now }));
  }
  return tokens;
}

async function measureFloor(keyDir: string, redisUrl: string | null, providerCall: (() => Promise<void>) | null): Promise<S2Floor> {
  // One raw verify of a token like the load's.
  const [token] = await mintTokens(keyDir, 1, 0);
  const [header, payload, signature] = token!.split('.') as [string, string, string];
  const jwks = JSON.parse(readFileSync(join(keyDir, 'agent-bundle.json'), 'utf8')) as { keys: Array<Record<string, unknown>> };
  const key = createPublicKey({ key: jwks.keys[0] as never, format: 'jwk' });
  const data = Buffer.from(`${header}.${payload}`);
  const sig = Buffer.from(signature, 'base64url');
  const verifyUs = await cpuPerCallUs(2000, () => {
    if (!verify('sha256', data, { key, dsaEncoding: 'ieee-p1363' }, sig)) throw new Error('floor: the token does not verify');
  });

  // One HTTP hop: the hello-world server's CPU per request at a fixed rate.
  const server = startLoadChild();
  const load = startLoadChild();
  let httpHopUs: number;
  try {
    const url = await server.serve();
    const body = JSON.stringify({ incident_id: 'INC-FLOOR', profile: 'demo', purpose: 'bench s2' });
    await load.run({ url, rate: 200, durationMs: 1000, tokens: [token!], body, expect: 201 });
    const before = processCpuUs(server.pid);
    const result = await load.run({ url, rate: 300, durationMs: 3000, tokens: [token!], body, expect: 201 });
    httpHopUs = (processCpuUs(server.pid) - before) / Math.max(1, result.ok);
  } finally {
    await Promise.all([server.stop(), load.stop()]);
  }

  // One Redis write (client CPU) of a grant-sized value; none with the memory store.
  let redisWriteUs = 0;
  if (redisUrl) {
    const client = new Redis(redisUrl);
    try {
      const value = 'x'.repeat(400);
      let i = 0;
      await cpuPerCallUs(200, () => client.set(`floor:${i++}`, value));
      redisWriteUs = await cpuPerCallUs(2000, () => client.set(`floor:${i++}`, value));
    } finally {
      client.disconnect();
    }
  }
  let providerCallUs: number | null = null;
  if (providerCall) {
    await cpuPerCallUs(100, providerCall);
    providerCallUs = await cpuPerCallUs(1000, providerCall);
  }
  return { verifyUs, httpHopUs, redisWriteUs, providerCallUs, totalUs: verifyUs + httpHopUs + redisWriteUs + (providerCallUs ?? 0) };
}

/** One S2 run's broker: the provider it issues from, one open incident, and the same provider called directly. */
interface S2World {
  readonly broker: BrokerChild;
  readonly redisUrl: string | null;
  readonly profile: string;
  /** The provider's issue() made from this process (for jwt the in-process signer). */
  readonly direct: () => Promise<void>;
  /** Whether the floor counts the direct call (Vault, AWS STS). */
  readonly directInFloor: boolean;
  stop(): Promise<void>;
}

const INCIDENT = 'INC-BENCH-S2';

async function jwtWorld(options: S2Options): Promise<S2World> {
  const redis = options.store === 'redis' ? await startRedisServer() : null;
  const broker = await startBrokerChild({
    logLevel: options.logLevel,
    ...(redis ? { store: { kind: 'redis', url: redis.url, keyPrefix: 'qm-bench-s2:' } } : {}),
    ...(options.cpuProfDir ? { cpuProfDir: options.cpuProfDir } : {}),
  }).catch(async (err: unknown) => {
    await redis?.stop();
    throw err;
  });
  const stopAll = async (): Promise<void> => {
    await broker.stop();
    await redis?.stop();
  };
  try {
    const { operator } = await benchTokens(broker.keyDir, 'spiffe://dev.local/agent/load-0');
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const opened = await httpCall(
      agent,
      `${broker.url}/v1/incidents`,
      'POST',
      { authorization: `Bearer ${operator}`, 'content-type': 'application/json' },
      JSON.stringify({ id: INCIDENT, title: 'bench s2', severity: 'sev3' }),
    ).finally(() => agent.destroy());
    if (opened.status !== 201) throw new Error(`opening the incident answered ${opened.status}: ${opened.body}`);
    const direct = await directJwtIssue(broker, INCIDENT);
    return {
      broker,
      redisUrl: redis?.url ?? null,
      profile: 'demo',
      direct: direct.issue,
      directInFloor: false,
      stop: async () => {
        await direct.close();
        await stopAll();
      },
    };
  } catch (err) {
    await stopAll();
    throw err;
  }
}

async function vaultWorld(options: S2Options): Promise<S2World> {
  const redis = options.store === 'redis' ? await startRedisServer() : null;
  const bench = await startVaultBench({
    latencyMs: 0,
    logLevel: options.logLevel,
    maxSockets: 1,
    incidentId: INCIDENT,
    ...(options.cpuProfDir ? { cpuProfDir: options.cpuProfDir } : {}),
    ...(redis ? { store: { kind: 'redis' as const, url: redis.url, keyPrefix: 'qm-bench-s2v:' } } : {}),
  }).catch(async (err: unknown) => {
    await redis?.stop();
    throw err;
  });
  return {
    broker: bench.broker,
    redisUrl: redis?.url ?? null,
    profile: 'vault-read',
    direct: directIssue(bench.provider, INCIDENT, 'vault-read', vaultParams('vault-read'), 300),
    directInFloor: true,
    stop: async () => {
      await bench.stop();
      await redis?.stop();
    },
  };
}

async function awsWorld(options: S2Options): Promise<S2World> {
  const bench = await startAwsBench({
    latencyMs: 0,
    logLevel: options.logLevel,
    maxSockets: 1,
    incidentId: INCIDENT,
    store: options.store,
    ...(options.cpuProfDir ? { cpuProfDir: options.cpuProfDir } : {}),
  });
  return {
    broker: bench.broker,
    redisUrl: bench.redisUrl,
    profile: AWS_PROFILE,
    direct: directIssue(bench.provider, INCIDENT, AWS_PROFILE, awsParams(bench.fake), GRANT_TTL_SECONDS),
    directInFloor: true,
    stop: () => bench.stop(),
  };
}

const WORLDS: Record<S2Provider, (options: S2Options) => Promise<S2World>> = { jwt: jwtWorld, vault: vaultWorld, aws_sts: awsWorld };

export async function runS2(options: S2Options): Promise<S2Result> {
  const stepSeconds = options.stepSeconds ?? 3;
  const provider = options.provider ?? 'jwt';
  const world = await WORLDS[provider](options);
  const { broker } = world;
  const load = startLoadChild();
  try {
    const body = JSON.stringify({ incident_id: INCIDENT, profile: world.profile, purpose: 'bench s2' });
    const url = `${broker.url}/v1/grants`;

    // Warm the broker's JIT and connections at a low rate first.
    let minted = 0;
    const warm = await mintTokens(broker.keyDir, 300, minted);
    minted += warm.length;
    await load.run({ url, rate: 100, durationMs: 3000, tokens: warm, body, expect: 201 });

    const steps: S2Step[] = [];
    for (const rate of RATES) {
      const tokens = await mintTokens(broker.keyDir, Math.round(rate * stepSeconds), minted);
      minted += tokens.length;
      const before = processCpuUs(broker.pid);
      const result = await load.run({ url, rate, durationMs: stepSeconds * 1000, tokens, body, expect: 201 });
      const cpuUs = processCpuUs(broker.pid) - before;
      const keptUp =
        result.ok >= 0.97 * result.offered &&
        result.errors === 0 &&
        result.elapsedMs <= stepSeconds * 1000 + 250 &&
        result.p99Ms <= P99_LIMIT_MS;
      steps.push({
        rate,
        load: result,
        cpuPerIssuanceUs: cpuUs / Math.max(1, result.ok),
        cpuCores: cpuUs / 1e6 / (result.elapsedMs / 1000),
        keptUp,
      });
      process.stderr.write(
        `bench: s2 ${rate}/s: ${result.ok}/${result.offered} ok, p50 ${result.p50Ms.toFixed(1)} ms, p99 ${result.p99Ms.toFixed(1)} ms, ${(cpuUs / Math.max(1, result.ok)).toFixed(0)} µs CPU each${keptUp ? '' : ' — past the knee'}\n`,
      );
      if (!keptUp) break;
    }
    const kept = steps.filter((s) => s.keptUp);
    const kneeRate = kept.at(-1)?.rate ?? 0;
    const halfLoad = [...kept].reverse().find((s) => s.rate <= kneeRate / 2) ?? kept[0] ?? null;

    const directP99Us = summarize(await timeSequential(1000, world.direct)).p99Us;
    const floor = await measureFloor(broker.keyDir, world.redisUrl, world.directInFloor ? world.direct : null);
    return { provider, steps, kneeRate, halfLoad, floor, directP99Us, stepSeconds };
  } finally {
    await load.stop();
    await world.stop();
  }
}

const f0 = (v: number): string => v.toFixed(0);
const f1 = (v: number): string => v.toFixed(1);

export function s2Markdown(result: S2Result, options: S2Options): string {
  const { floor, halfLoad } = result;
  const ratio = halfLoad ? halfLoad.cpuPerIssuanceUs / floor.totalUs : NaN;
  const lines = [
    `### S2 — capacity: open-loop fixed-rate load, raised to the knee (${result.provider} provider${result.provider === 'jwt' ? '' : ', its fake in its own process at 0 ms'}, ${options.store} store, log level ${options.logLevel}, ${result.stepSeconds} s per step)`,
    '',
    'Every request its own agent token (a signature verify each); latency counted from when each request was due. Broker CPU from /proc per 201.',
    '',
    '| offered req/s | answered 201 | other / errors | p50 ms | p99 ms | max ms | broker CPU per issuance µs | broker cores busy | kept up |',
    '|---:|---:|---:|---:|---:|---:|---:|---:|---|',
    ...result.steps.map(
      (s) =>
        `| ${s.rate} | ${s.load.ok} / ${s.load.offered} | ${Object.values(s.load.statuses).reduce((a, b) => a + b, 0)} / ${s.load.errors} | ${f1(s.load.p50Ms)} | ${f1(s.load.p99Ms)} | ${f1(s.load.maxMs)} | ${f0(s.cpuPerIssuanceUs)} | ${s.cpuCores.toFixed(2)} | ${s.keptUp ? 'yes' : 'no'} |`,
    ),
    '',
    '| floor of one issuance (same run) | CPU µs |',
    '|---|---:|',
    `| raw ES256 verify (node:crypto) | ${f1(floor.verifyUs)} |`,
    `| one HTTP hop (node:http hello-world, server CPU per request) | ${f1(floor.httpHopUs)} |`,
    `| one Redis write (ioredis SET, client CPU) | ${f1(floor.redisWriteUs)} |`,
    ...(floor.providerCallUs === null
      ? []
      : [`| one provider call (${result.provider} issue() in the bench process, client CPU) | ${f1(floor.providerCallUs)} |`]),
    `| **floor** | ${f1(floor.totalUs)} |`,
    '',
    '| derived | value |',
    '|---|---:|',
    `| knee (highest rate kept up with) | ${result.kneeRate} req/s |`,
    `| broker CPU per issuance at ${halfLoad?.rate ?? '—'} req/s (about half the knee) | ${halfLoad ? f0(halfLoad.cpuPerIssuanceUs) : '—'} µs |`,
    `| ÷ floor (target ≤ 3×) | ${ratio.toFixed(2)}× (${ratio <= 3 ? 'met' : 'missed'}) |`,
    `| p99 at about half the knee − direct p99 (target ≤ 5 ms) | ${halfLoad ? f1(halfLoad.load.p99Ms - result.directP99Us / 1000) : '—'} ms |`,
  ];
  return lines.join('\n');
}
