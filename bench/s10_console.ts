/**
 * S10 (docs/performance.md): what the console's polling costs the broker. One broker child on the
 * chosen store, one open incident with `GRANTS` grants; an operator polls it the way the console
 * does, four series interleaved in blocks of 50, the order rotating from block to block:
 *
 *  - the incident page's grant list, `GET /v1/incidents/{id}?grants=true`: a full 200, and the
 *    same with `If-None-Match` of its tag (a 304: nothing changed, no body);
 *  - the counts the page and a close's progress poll, `?grants=false`: a 200, and its 304.
 *
 * The baseline of each 304 is the 200 of the same read in the same run: the tag is the body's hash,
 * so a 304 saves the bytes and the client's parse, not the broker's read.
 */
import { Agent } from 'node:http';
import { randomBytes } from 'node:crypto';
import { startRedisServer, type RedisServer } from '../test/support/redis_server.js';
import { benchTokens, httpCall, startBrokerChild, type BrokerChild } from './broker_child.js';
import type { S1Options } from './s1_issue.js';
import { medianOfRuns, summarize, type Summary } from './stats.js';

const AGENT_ID = 'spiffe://dev.local/agent/triage';
const GRANTS = 500;
const BLOCK = 50;
const SERIES = ['list', 'list-304', 'counts', 'counts-304'] as const;
type Series = (typeof SERIES)[number];

export interface S10Run {
  readonly series: Record<Series, Summary>;
  readonly bytes: Record<Series, number>;
}
export interface S10Result {
  readonly runs: readonly S10Run[];
  readonly median: Record<Series, Summary>;
  readonly bytes: Record<Series, number>;
}

async function oneRun(options: S1Options, index: number, redis: RedisServer | null): Promise<S10Run> {
  const store = redis
    ? { store: { kind: 'redis' as const, url: redis.url, keyPrefix: `qm-s10-${index}-${randomBytes(3).toString('hex')}:` } }
    : {};
  let child: BrokerChild | undefined;
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  try {
    child = await startBrokerChild({ logLevel: options.logLevel, ...store });
    const { operator, agent: agentToken } = await benchTokens(child.keyDir, AGENT_ID);
    const op = { authorization: `Bearer ${operator}`, 'content-type': 'application/json' };
    const id = `INC-BENCH-S10-${index + 1}`;
    const opened = await httpCall(
      agent,
      `${child.url}/v1/incidents`,
      'POST',
      op,
      JSON.stringify({ id, title: 'bench s10', severity: 'sev2' }),
    );
    if (opened.status !== 201) throw new Error(`open: ${opened.status} ${opened.body}`);
    const ag = { authorization: `Bearer ${agentToken}`, 'content-type': 'application/json' };
    for (let i = 0; i < GRANTS; i += 1) {
      const body = JSON.stringify({ incident_id: id, profile: 'demo', purpose: `bench s10 ${i}` });
      const res = await httpCall(agent, `${child.url}/v1/grants`, 'POST', ag, body);
      if (res.status !== 201) throw new Error(`grant: ${res.status} ${res.body}`);
    }
    const paths: Record<Series, string> = {
      list: `/v1/incidents/${id}?grants=true`,
      'list-304': `/v1/incidents/${id}?grants=true`,
      counts: `/v1/incidents/${id}?grants=false`,
      'counts-304': `/v1/incidents/${id}?grants=false`,
    };
    // The tags the console would hold. Grants do not change during the run (their TTL outlives it).
    const tags: Partial<Record<Series, string>> = {};
    for (const series of ['list', 'counts'] as const) {
      const res = await fetch(`${child.url}${paths[series]}`, { headers: { authorization: op.authorization } });
      await res.arrayBuffer();
      const tag = res.headers.get('etag');
      if (tag === null) throw new Error(`${series}: no ETag`);
      tags[`${series}-304`] = tag;
    }
    const requests = Math.min(options.requests, 1000);
    const samples = Object.fromEntries(SERIES.map((s) => [s, [] as bigint[]])) as Record<Series, bigint[]>;
    const bytes = Object.fromEntries(SERIES.map((s) => [s, 0])) as Record<Series, number>;
    const expected: Record<Series, number> = { list: 200, 'list-304': 304, counts: 200, 'counts-304': 304 };
    const warmup = Math.min(options.warmup, 100);
    for (let block = 0; block * BLOCK < requests + warmup; block += 1) {
      const order = SERIES.map((_, i) => SERIES[(i + block) % SERIES.length] as Series);
      for (const series of order) {
        const tag = tags[series];
        const headers = tag === undefined ? { authorization: op.authorization } : { authorization: op.authorization, 'if-none-match': tag };
        for (let i = 0; i < BLOCK; i += 1) {
          const start = process.hrtime.bigint();
          const res = await httpCall(agent, `${child.url}${paths[series]}`, 'GET', headers);
          const took = process.hrtime.bigint() - start;
          if (res.status !== expected[series]) throw new Error(`${series}: ${res.status}`);
          if (block * BLOCK >= warmup) samples[series].push(took);
          bytes[series] = Buffer.byteLength(res.body);
        }
      }
    }
    return {
      series: Object.fromEntries(SERIES.map((s) => [s, summarize(samples[s])])) as Record<Series, Summary>,
      bytes,
    };
  } finally {
    agent.destroy();
    await child?.stop();
  }
}

export async function runS10(options: S1Options): Promise<S10Result> {
  const redis = options.store === 'redis' ? await startRedisServer() : null;
  try {
    const runs: S10Run[] = [];
    for (let i = 0; i < options.runs; i += 1) {
      process.stderr.write(`s10: run ${i + 1}/${options.runs}\n`);
      runs.push(await oneRun(options, i, redis));
    }
    const median = Object.fromEntries(SERIES.map((s) => [s, medianOfRuns(runs.map((r) => r.series[s]))])) as Record<Series, Summary>;
    return { runs, median, bytes: runs[0]?.bytes ?? (Object.fromEntries(SERIES.map((s) => [s, 0])) as Record<Series, number>) };
  } finally {
    await redis?.stop();
  }
}

const us0 = (v: number): string => v.toFixed(0);

export function s10Markdown(result: S10Result, options: S1Options): string {
  const m = result.median;
  const row = (label: string, s: Series) => `| ${label} | ${us0(m[s].p50Us)} | ${us0(m[s].p99Us)} | ${result.bytes[s]} |`;
  return [
    `### S10 — the console's polling: an incident of ${GRANTS} grants read in full and as counts, 200 against 304 (jwt provider, ${options.store} store, log level ${options.logLevel})`,
    '',
    `${options.runs} runs; medians of per-run statistics; ${Math.min(options.requests, 1000)} polls per series per run, interleaved in blocks of ${BLOCK}.`,
    '',
    '| poll | p50 µs | p99 µs | body bytes |',
    '|---|---:|---:|---:|',
    row('grant list `?grants=true`, 200 (baseline)', 'list'),
    row('grant list, `If-None-Match` → 304', 'list-304'),
    row('counts `?grants=false`, 200 (baseline)', 'counts'),
    row('counts, `If-None-Match` → 304', 'counts-304'),
    '',
    `An unchanged grant list costs ${(m['list-304'].p50Us / m.list.p50Us).toFixed(2)}× its full read at the p50 and no body; the counts poll costs ${(m.counts.p50Us / m.list.p50Us).toFixed(2)}× the full list.`,
    '',
  ].join('\n');
}
