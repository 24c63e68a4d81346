/**
 * S4 at scale on Redis (docs/performance.md): one incident of N grants closed, for N = 1 000,
 * 10 000 and (in the full profile) 100 000, each N on a fresh redis-server and broker child (the
 * bench/redis_world.ts world: the e2e development config, production revocation defaults, the
 * jwt provider's `demo` profile, whose grants the ledger revokes, so what grows is the broker's
 * own work and state, not a fake's). Not timed: the N grants, issued over HTTP, 12 in flight.
 * Measured, per N:
 *  - the close request's answer time (the close script flips and enqueues all N);
 *  - close → all N revoked: the report's close_to_all_revoked_ms (both ends stamped by the broker),
 *    read once the revocation queue in Redis is empty (watched every 250 ms on the bench's own
 *    connection, so no report is computed while the close runs);
 *  - Redis used_memory (INFO memory) per grant: after the N grants against after the incident
 *    was opened (active grants, their audit events included), and after all were revoked (the
 *    ended grants kept for the retention window, their revocation events included).
 * The baseline of each N is the smallest N of the same run: growth is linear or better when the
 * time and bytes per grant at N are at most those at the smallest N (within noise; the summary
 * allows 1.25×).
 */
import { Redis } from 'ioredis';
import { runLimited } from '../src/revocation/revoke_jobs.js';
import { createRedisKeys } from '../src/store/redis_keys.js';
import type { LogLevel } from './broker_child.js';
import { startRedisBrokerWorld } from './redis_world.js';
import { usedMemory } from './s6_memory.js';

export interface S4ScaleOptions {
  readonly sizes: readonly number[];
  readonly logLevel: LogLevel;
}

export interface S4ScalePoint {
  readonly grants: number;
  /** Grants issued per second while setting up (not a target; context for the run's length). */
  readonly issuePerSecond: number;
  readonly closeAnswerMs: number;
  readonly closeToAllRevokedMs: number;
  readonly activeBytesPerGrant: number;
  readonly endedBytesPerGrant: number;
}

const INCIDENT = 'INC-S4-SCALE';
const PREFIX = 'qm-s4s:';
const ISSUE_CONCURRENCY = 12;
const POLL_MS = 250;
/** Generous: the close of 100 000 grants is expected within a few minutes. */
const CLOSE_TIMEOUT_MS = 15 * 60_000;
/** Per-grant growth still counted as linear: noise on a shared 2-core machine. */
export const LINEAR_SLACK = 1.25;

const elapsedMs = (start: bigint): number => Number(process.hrtime.bigint() - start) / 1e6;

async function measure(grants: number, logLevel: LogLevel): Promise<S4ScalePoint> {
  const world = await startRedisBrokerWorld({ logLevel, keyPrefix: PREFIX, incidentId: INCIDENT, maxSockets: ISSUE_CONCURRENCY });
  const redis = new Redis(world.redisUrl);
  try {
    const opened = await usedMemory(redis);
    const issueStart = process.hrtime.bigint();
    await runLimited([...Array(grants).keys()], ISSUE_CONCURRENCY, async () => {
      await world.grant({ purpose: 'bench s4 scale' });
    });
    const issueMs = elapsedMs(issueStart);
    const active = await usedMemory(redis);

    const closeStart = process.hrtime.bigint();
    const closed = await world.asOperator('POST', `/v1/incidents/${INCIDENT}/close`);
    const closeAnswerMs = elapsedMs(closeStart);
    if (closed.status !== 202) throw new Error(`close answered ${closed.status}: ${closed.body}`);
    // Waits on the revocation queue in Redis, not on the broker's report: a report reads every
    // grant of the incident, so polling it every 250 ms at N = 100 000 loads the broker more than
    // the close does (docs/performance.md). One report read once the queue is empty.
    const keys = createRedisKeys(PREFIX);
    for (;;) {
      const [close, other] = await Promise.all([redis.zcard(keys.revocationDueClose), redis.zcard(keys.revocationDue)]);
      if (close + other === 0) break;
      if (elapsedMs(closeStart) > CLOSE_TIMEOUT_MS) throw new Error(`close of ${grants} did not finish within ${CLOSE_TIMEOUT_MS} ms`);
      await new Promise((r) => setTimeout(r, POLL_MS));
    }
    const res = await world.asOperator('GET', `/v1/incidents/${INCIDENT}?grants=false`);
    if (res.status !== 200) throw new Error(`report answered ${res.status}`);
    const { revocation } = JSON.parse(res.body) as {
      revocation: { by_state: { revoked?: number }; close_to_all_revoked_ms: number | null };
    };
    if ((revocation.by_state.revoked ?? 0) !== grants || revocation.close_to_all_revoked_ms === null)
      throw new Error(`the queue is empty but the report shows ${revocation.by_state.revoked ?? 0} of ${grants} revoked`);
    const ended = await usedMemory(redis);
    return {
      grants,
      issuePerSecond: grants / (issueMs / 1000),
      closeAnswerMs,
      closeToAllRevokedMs: revocation.close_to_all_revoked_ms,
      activeBytesPerGrant: (active - opened) / grants,
      endedBytesPerGrant: (ended - opened) / grants,
    };
  } finally {
    redis.disconnect();
    await world.stop();
  }
}

export async function runS4Scale(options: S4ScaleOptions): Promise<S4ScalePoint[]> {
  const points: S4ScalePoint[] = [];
  for (const n of [...options.sizes].sort((a, b) => a - b)) points.push(await measure(n, options.logLevel));
  return points;
}

/** Per grant at each N against the smallest N: ≤ LINEAR_SLACK is linear or better. */
export function growth(points: readonly S4ScalePoint[]): Array<{ point: S4ScalePoint; timeGrowth: number; bytesGrowth: number }> {
  const base = points[0];
  if (!base) return [];
  const perGrantMs = (p: S4ScalePoint): number => p.closeToAllRevokedMs / p.grants;
  return points.map((point) => ({
    point,
    timeGrowth: perGrantMs(point) / perGrantMs(base),
    bytesGrowth: point.activeBytesPerGrant / base.activeBytesPerGrant,
  }));
}

export function s4ScaleMarkdown(points: readonly S4ScalePoint[]): string {
  const rows = growth(points).map(
    ({ point: p, timeGrowth, bytesGrowth }) =>
      `| ${p.grants} | ${p.issuePerSecond.toFixed(0)} | ${p.closeAnswerMs.toFixed(0)} | ${p.closeToAllRevokedMs.toFixed(0)} | ${((p.closeToAllRevokedMs / p.grants) * 1000).toFixed(0)} | ${timeGrowth.toFixed(2)}× | ${p.activeBytesPerGrant.toFixed(0)} | ${bytesGrowth.toFixed(2)}× | ${p.endedBytesPerGrant.toFixed(0)} |`,
  );
  return [
    '### S4 at scale — one incident of N jwt grants closed on Redis (one broker, one run per N)',
    '',
    '| N | issued per s (setup) | close answered ms | close → all revoked ms | µs per grant | per grant vs smallest N | Redis B per active grant | vs smallest N | Redis B per ended grant |',
    '|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...rows,
    '',
    `Linear or better: time and bytes per grant at most ${LINEAR_SLACK}× those of the smallest N. Bytes include each grant's audit events (issued; after the close, revoked too).`,
  ].join('\n');
}
