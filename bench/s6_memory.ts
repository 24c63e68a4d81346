/**
 * S6 (docs/performance.md), the Redis half: bytes of Redis memory per active grant. A broker child on
 * the Redis store (a redis-server the bench starts on a free port) issues N grants of the `demo`
 * profile (jwt provider) over HTTP, 8 at a time, on one incident. Measured in the same run:
 *  - used_memory (INFO memory) after the incident is opened and after the N grants, per grant;
 *  - MEMORY USAGE of each kind of key a grant adds, on samples, so the total can be attributed:
 *    its record in the incident's grant hash, its id-index key, its expiry entry, its entry in the
 *    agent's index of the incident, its places in the incident's and the agent's live sets (the
 *    live-grant quotas), and its audit event in the log and in the incident's audit index.
 * The baseline is the empty-but-warm store (incident opened, one grant issued and taken out of the count).
 */
import { Redis } from 'ioredis';
import { runLimited } from '../src/revocation/revoke_jobs.js';
import type { LogLevel } from './broker_child.js';
import { startRedisBrokerWorld } from './redis_world.js';
import { median } from './stats.js';

export interface S6Options {
  readonly runs: number;
  readonly requests: number;
  readonly logLevel: LogLevel;
}

export interface S6Run {
  readonly grants: number;
  readonly bytesPerGrant: number;
  /** Median MEMORY USAGE-derived bytes per grant, by part. */
  readonly parts: Readonly<Record<string, number>>;
}

const PREFIX = 'qm-s6:';
const INCIDENT = 'INC-S6';
/** The agent bench/redis_world.ts issues as. */
const AGENT = 'spiffe://dev.local/agent/triage';
/** docs/performance.md S6: at most 512 B of Redis per active grant. */
const TARGET_BYTES = 512;

async function usedMemory(redis: Redis): Promise<number> {
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
  const world = await startRedisBrokerWorld({ logLevel: options.logLevel, keyPrefix: PREFIX, incidentId: INCIDENT, maxSockets: 8 });
  const redis = new Redis(world.redisUrl);
  try {
    const grant = async (): Promise<string> => {
      const res = await world.grant({ purpose: 'bench s6: a purpose of typical length' });
      return (JSON.parse(res.body) as { grant: { id: string } }).grant.id;
    };
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
    `### S6 — Redis bytes per active grant (jwt provider, ${options.requests} grants on one incident, ${options.runs} runs)`,
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
