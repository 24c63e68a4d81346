/**
 * S6 (docs/performance.md), the Redis half: bytes of Redis memory per active grant, for the jwt, vault
 * or aws_sts provider (their fakes in their own processes). A broker child on
 * the Redis store (a redis-server the bench starts on a free port) issues N grants of the `demo`
 * profile (or the provider's bench profile) over HTTP, 8 at a time, on one incident. Measured in the same run:
 *  - used_memory (INFO memory) after the incident is opened and after the N grants, per grant;
 *  - MEMORY USAGE of each kind of key a grant adds, on samples, so the total can be attributed:
 *    its record in the incident's grant hash, its id-index key, its expiry entry, its entry in the
 *    agent's index of the incident, its places in the incident's and the agent's live sets (the
 *    live-grant quotas), and its audit event in the log and in the incident's audit index.
 * The baseline is the empty-but-warm store (incident opened, one grant issued and taken out of the count).
 */
import { Redis } from 'ioredis';
import { runLimited } from '../src/revocation/revoke_jobs.js';
import { startRedisServer } from '../test/support/redis_server.js';
import { AWS_PROFILE, startAwsBench } from './aws_setup.js';
import { httpCall, type LogLevel } from './broker_child.js';
import { startRedisBrokerWorld } from './redis_world.js';
import { median } from './stats.js';
import { startVaultBench } from './vault_setup.js';

export type S6Provider = 'jwt' | 'vault' | 'aws_sts';

export interface S6Options {
  readonly runs: number;
  readonly requests: number;
  readonly logLevel: LogLevel;
  /** Whose grants: jwt (`demo`), vault (`vault-read`, a child token, on the fake Vault) or aws_sts (`aws-read`, on the STS fake). */
  readonly provider?: S6Provider;
}

export interface S6Run {
  readonly grants: number;
  readonly bytesPerGrant: number;
  /** Median MEMORY USAGE-derived bytes per grant, by part. */
  readonly parts: Readonly<Record<string, number>>;
}

/** What one run needs of a broker on Redis: where Redis is, its key prefix, and a grant. */
interface S6World {
  readonly redisUrl: string;
  readonly prefix: string;
  grant(): Promise<string>;
  stop(): Promise<void>;
}

const PURPOSE = 'bench s6: a purpose of typical length';
const grantIdOf = (body: string): string => (JSON.parse(body) as { grant: { id: string } }).grant.id;

async function startWorld(provider: S6Provider, logLevel: LogLevel): Promise<S6World> {
  if (provider === 'jwt') {
    const world = await startRedisBrokerWorld({ logLevel, keyPrefix: PREFIX, incidentId: INCIDENT, maxSockets: 8 });
    return {
      redisUrl: world.redisUrl,
      prefix: PREFIX,
      grant: async () => grantIdOf((await world.grant({ purpose: PURPOSE })).body),
      stop: world.stop,
    };
  }
  if (provider === 'vault') {
    const redis = await startRedisServer();
    const bench = await startVaultBench({
      latencyMs: 0,
      logLevel,
      maxSockets: 8,
      incidentId: INCIDENT,
      store: { kind: 'redis', url: redis.url, keyPrefix: PREFIX },
    }).catch(async (err: unknown) => {
      await redis.stop();
      throw err;
    });
    const body = JSON.stringify({ incident_id: INCIDENT, profile: 'vault-read', purpose: PURPOSE });
    return {
      redisUrl: redis.url,
      prefix: PREFIX,
      async grant() {
        const res = await httpCall(bench.http, `${bench.broker.url}/v1/grants`, 'POST', bench.agentHeaders, body);
        if (res.status !== 201) throw new Error(`grant answered ${res.status}: ${res.body}`);
        return grantIdOf(res.body);
      },
      stop: async () => {
        await bench.stop();
        await redis.stop();
      },
    };
  }
  const bench = await startAwsBench({ latencyMs: 0, logLevel, maxSockets: 8, incidentId: INCIDENT, store: 'redis' });
  const body = JSON.stringify({ incident_id: INCIDENT, profile: AWS_PROFILE, purpose: PURPOSE });
  return {
    redisUrl: bench.redisUrl as string,
    prefix: 'qm-bench-aws:',
    async grant() {
      const res = await httpCall(bench.http, `${bench.broker.url}/v1/grants`, 'POST', bench.agentHeaders, body);
      if (res.status !== 201) throw new Error(`grant answered ${res.status}: ${res.body}`);
      return grantIdOf(res.body);
    },
    stop: bench.stop,
  };
}

const PREFIX = 'qm-s6:';
const INCIDENT = 'INC-S6';
/** The agent bench/redis_world.ts issues as. */
const AGENT = 'spiffe://dev.local/agent/triage';
/** docs/performance.md S6: at most 512 B of Redis per active grant. */
const TARGET_BYTES = 512;

export async function usedMemory(redis: Redis): Promise<number> {
  const info = await redis.info('memory');
  const match = /^used_memory:(\d+)/mu.exec(info);
  if (!match) throw new Error('INFO memory has no used_memory');
  return Number(match[1]);
}

/** MEMORY USAGE of a hash / sorted set grows per member; the per-member cost is the slope between two sizes. */
async function usage(redis: Redis, key: string): Promise<number> {
  return Number(await redis.call('MEMORY', 'USAGE', key, 'SAMPLES', '0'));
}

async function runOnce(options: S6Options): Promise<S6Run> {
  const world = await startWorld(options.provider ?? 'jwt', options.logLevel);
  const redis = new Redis(world.redisUrl);
  const PREFIX = world.prefix;
  try {
    const grant = world.grant;
    // Warm: the first grant creates the per-incident hash and audit index; not counted.
    await grant();
    const before = await usedMemory(redis);
    const ids: string[] = [];
    await runLimited([...Array(options.requests).keys()], 8, async () => {
      ids.push(await grant());
    });
    const after = await usedMemory(redis);

    const grantsKey = `${PREFIX}{inc:${INCIDENT}}:grants`;
    const auditIndex = `${PREFIX}{audit}:inc:${INCIDENT}`;
    const agentIndex = `${PREFIX}{inc:${INCIDENT}}:agent:${encodeURIComponent(AGENT)}`;
    const keys = {
      record: grantsKey,
      expiry: `${PREFIX}{expiry}`,
      'agent index': agentIndex,
      'incident live set (quota)': `${PREFIX}{inc:${INCIDENT}}:live`,
      'agent live set (quota)': `${PREFIX}{agt:${encodeURIComponent(AGENT)}}:live`,
      'audit log': `${PREFIX}{audit}:log`,
      'incident audit index': auditIndex,
    };
    const parts: Record<string, number> = {};
    for (const [name, key] of Object.entries(keys)) parts[name] = (await usage(redis, key)) / (ids.length + 1);
    const indexSamples = await Promise.all(ids.slice(0, 200).map((id) => usage(redis, `${PREFIX}gi:${id}`)));
    parts['grant-id index key'] = median(indexSamples);
    return { grants: ids.length, bytesPerGrant: (after - before) / ids.length, parts };
  } finally {
    redis.disconnect();
    await world.stop();
  }
}

export async function runS6(options: S6Options): Promise<S6Run[]> {
  const runs: S6Run[] = [];
  for (let i = 0; i < options.runs; i += 1) runs.push(await runOnce(options));
  return runs;
}

export function s6Markdown(runs: readonly S6Run[], options: S6Options): string {
  const perGrant = median(runs.map((r) => r.bytesPerGrant));
  const names = Object.keys(runs[0]?.parts ?? {});
  const lines = [
    `### S6 — Redis bytes per active grant (${options.provider ?? 'jwt'} provider, ${options.requests} grants on one incident, ${options.runs} runs)`,
    '',
    '| measure | bytes per grant |',
    '|---|---:|',
    `| used_memory growth ÷ grants | ${perGrant.toFixed(0)} |`,
    ...names.map((n) => `| of which (MEMORY USAGE): ${n} | ${median(runs.map((r) => r.parts[n] ?? NaN)).toFixed(0)} |`),
    '',
    `Target ≤ ${TARGET_BYTES} B per grant: ${perGrant <= TARGET_BYTES ? `meets (${(TARGET_BYTES - perGrant).toFixed(0)} B to spare)` : `misses by ${(perGrant - TARGET_BYTES).toFixed(0)} B`}. Per run: ${runs.map((r) => r.bytesPerGrant.toFixed(0)).join(', ')}.`,
    'The audit rows are the grant.issued event each grant writes: the audit log is part of the state but grows with decisions, not with live grants.',
  ];
  return lines.join('\n');
}
