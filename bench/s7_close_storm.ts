/**
 * S7 (docs/performance.md): a close storm from webhooks. 100 incidents of 50 grants each (or
 * --grants per incident), all closed by `resolved` webhooks within about a second; target: every
 * grant revoked within 10 s of the first resolve, and the p99 from close to revoked reported.
 *
 * Each run starts its own redis-server on a free port and TWO broker children on it (same keys,
 * same config: the e2e development config with the jwt provider's `demo` profile — or, with
 * provider vault (s7-vault), the vault provider's `vault-read` on a fake Vault child, or with
 * aws_sts (s7-aws), the aws_sts provider's `aws-read` on one role of the STS + IAM fake child — production
 * revocation defaults, the generic webhook source with a whsec_ secret in a 0600 file), the way
 * production runs several replicas. Not timed: 100 `triggered` deliveries open `generic:S7-<n>`,
 * then 50 grants per incident are issued over HTTP, 12 in flight, by one agent per incident,
 * alternating between the brokers. Timed: the 100 `resolved` deliveries, one every 10 ms,
 * alternating between the brokers (each signed as Standard Webhooks prescribe), while the bench
 * polls every incident's report (`?grants=false`, two at a time, a round every 250 ms) until it is
 * closed with nothing outstanding, or 10 s + 20 s of slack pass. Measured, per incident:
 *  - the report's close_to_all_revoked_ms: the close (the webhook applied, the tombstone written)
 *    → its last grant revoked, both stamped by the broker;
 *  - resolve sent → applied (the incident's closed_at) and → all revoked (its last_revoked_at),
 *    the send stamped by the bench: one clock, one host;
 *  - resolve sent → seen fully revoked by the poller (an upper bound, coarse by a poll round);
 * and for the storm: the time from the first resolve to every grant revoked, the grants and
 * incidents revoked within 10 s of it (the grants' ended_at from a full report read afterwards),
 * the webhooks' answer latency, and which broker applied the closes and revoked the grants
 * (/metrics of each, before and after the storm).
 */
import { createHmac, randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Agent } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mintAgentToken } from '../src/identity/dev_issuer.js';
import { runLimited } from '../src/revocation/revoke_jobs.js';
import { startRedisServer, type RedisServer } from '../test/support/redis_server.js';
import { AGENT_ISSUER, AUDIENCE } from '../test/support/test_config.js';
import { benchTokens, httpCall, startBrokerChild, type BrokerChild, type HttpResult, type LogLevel } from './broker_child.js';
import { startFakeAwsChild } from './aws_fake_child.js';
import { AWS_PROFILE, awsProfiles, awsSection, ROLE_NAME, useFakeAwsEnv } from './aws_setup.js';
import { startFakeVaultChild } from './vault_fake_child.js';
import { VAULT_BENCH_PROFILES, vaultSection } from './vault_setup.js';
import { median } from './stats.js';

const INCIDENTS = 100;
const DEFAULT_GRANTS = 50;
const BROKERS = 2;
/** Grant requests in flight while the incidents are set up (not measured). */
const ISSUE_CONCURRENCY = 12;
/** The 100 resolves go out one every 10 ms: the storm's deliveries span ~1 s. */
const STORM_SPREAD_MS = 1000;
/** docs/performance.md S7: every grant revoked within 10 s of the first close. */
const BUDGET_MS = 10_000;
/** How long past the budget the bench keeps polling before it reports what is left. */
const SLACK_MS = 20_000;
const POLL_MS = 250;
/** Reports read at once while polling: one per broker, so the poller stays a small part of the load. */
const POLL_CONCURRENCY = 2;
const KEY_PREFIX = 'qm-s7:';

export interface S7Options {
  readonly runs: number;
  readonly logLevel: LogLevel;
  readonly cpuProfDir?: string;
  /** Grants per incident (default 50). */
  readonly grants?: number;
  /**
   * Whose grants: jwt's `demo` (the ledger revokes them), or vault's `vault-read` against the fake
   * Vault (a parent revoke per incident, and a receipt per grant).
   */
  readonly provider?: 'jwt' | 'vault' | 'aws_sts';
}

/** Nearest-rank percentiles and the max, in ms. */
export interface Dist {
  readonly n: number;
  readonly p50: number;
  readonly p95: number;
  readonly p99: number;
  readonly max: number;
}

export interface BrokerCounts {
  readonly closes: number;
  readonly revoked: number;
  readonly retries: number;
}

export interface S7Run {
  readonly grantsPerIncident: number;
  readonly setupMs: number;
  /** Last resolve sent − first resolve sent. */
  readonly sendSpreadMs: number;
  readonly incidentsDone: number;
  readonly incidentsWithinBudget: number;
  readonly grantsRevoked: number;
  readonly grantsWithinBudget: number;
  /** First resolve sent → the last grant of the storm revoked (broker stamp); NaN when some never finished. */
  readonly allRevokedMs: number;
  /** First resolve sent → the poller saw the last incident done. */
  readonly allSeenMs: number;
  readonly closeToAllRevoked: Dist;
  readonly sentToApplied: Dist;
  readonly sentToRevoked: Dist;
  readonly sentToSeen: Dist;
  readonly webhookAnswer: Dist;
  readonly polls: number;
  readonly perBroker: readonly BrokerCounts[];
}

const elapsedMs = (start: bigint): number => Number(process.hrtime.bigint() - start) / 1e6;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, Math.max(0, ms)));

function dist(values: readonly number[]): Dist {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (p: number): number => {
    if (sorted.length === 0) return NaN;
    const rank = Math.ceil((p / 100) * sorted.length);
    return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
  };
  return { n: sorted.length, p50: at(50), p95: at(95), p99: at(99), max: sorted.length === 0 ? NaN : sorted[sorted.length - 1]! };
}

const medianDist = (dists: readonly Dist[]): Dist => ({
  n: dists.reduce((a, d) => a + d.n, 0),
  p50: median(dists.map((d) => d.p50)),
  p95: median(dists.map((d) => d.p95)),
  p99: median(dists.map((d) => d.p99)),
  max: median(dists.map((d) => d.max)),
});

/** A generic delivery signed as Standard Webhooks prescribe: HMAC-SHA256 over `id.timestamp.body` under the key after `whsec_`. */
function signedDelivery(
  secret: string,
  id: string,
  atMs: number,
  payload: Record<string, unknown>,
): { body: string; headers: Record<string, string> } {
  const timestamp = String(Math.floor(atMs / 1000));
  const body = JSON.stringify(payload);
  const key = Buffer.from(secret.slice('whsec_'.length), 'base64');
  const signature = `v1,${createHmac('sha256', key).update(`${id}.${timestamp}.${body}`).digest('base64')}`;
  return {
    body,
    headers: { 'content-type': 'application/json', 'webhook-id': id, 'webhook-timestamp': timestamp, 'webhook-signature': signature },
  };
}

interface IncidentReport {
  incident: { status: string; closed_at?: string };
  revocation: {
    total: number;
    by_state: Record<string, number>;
    outstanding: number;
    last_revoked_at: string | null;
    close_to_all_revoked_ms: number | null;
  };
  grants?: Array<{ state: string; ended_at?: string }>;
}

/** Counters summed over their labels, from a broker's /metrics. */
async function brokerCounts(agent: Agent, broker: BrokerChild): Promise<BrokerCounts> {
  const res = await httpCall(agent, `${broker.url}/metrics`, 'GET', {});
  if (res.status !== 200) throw new Error(`/metrics answered ${res.status}`);
  const sum = (name: string, labelFilter: string): number => {
    let total = 0;
    for (const line of res.body.split('\n')) {
      if (!line.startsWith(`${name}{`) || !line.includes(labelFilter)) continue;
      total += Number(line.slice(line.lastIndexOf(' ') + 1));
    }
    return total;
  };
  return {
    closes: sum('quartermaster_webhook_events_total', 'outcome="closed"'),
    revoked: sum('quartermaster_revocations_total', 'outcome="revoked"'),
    retries: sum('quartermaster_revocation_retries_total', ''),
  };
}

async function runOnce(options: S7Options, index: number): Promise<S7Run> {
  const perIncident = options.grants ?? DEFAULT_GRANTS;
  const total = INCIDENTS * perIncident;
  const setupStart = process.hrtime.bigint();
  const redis: RedisServer = await startRedisServer();
  const secretDir = mkdtempSync(join(tmpdir(), 'qm-bench-s7-'));
  const secret = `whsec_${randomBytes(32).toString('base64')}`;
  const secretFile = join(secretDir, 'generic-webhook');
  writeFileSync(secretFile, `${secret}\n`);
  chmodSync(secretFile, 0o600);
  const brokers: BrokerChild[] = [];
  const vault = options.provider === 'vault' ? await startFakeVaultChild({ latencyMs: 0 }) : null;
  const aws =
    options.provider === 'aws_sts'
      ? await startFakeAwsChild({ latencyMs: 0, roles: [{ name: ROLE_NAME, maxSessionDuration: 3600 }] })
      : null;
  // The brokers' SDK default chain finds the fake's admin keys in the environment they inherit.
  const restoreEnv = aws ? useFakeAwsEnv(aws) : () => undefined;
  const profile = vault ? 'vault-read' : aws ? AWS_PROFILE : 'demo';
  const http = new Agent({ keepAlive: true, maxSockets: 16 });
  const webhookHttp = new Agent({ keepAlive: true, maxSockets: 32 });
  try {
    const store = { kind: 'redis' as const, url: redis.url, keyPrefix: KEY_PREFIX };
    const common = { logLevel: options.logLevel, store, ...(options.cpuProfDir ? { cpuProfDir: options.cpuProfDir } : {}) };
    const first = await startBrokerChild({
      ...common,
      configure: (config) => ({
        ...config,
        ...(vault
          ? { providers: { ...(config.providers as Record<string, unknown>), vault: vaultSection(vault) }, profiles: VAULT_BENCH_PROFILES }
          : {}),
        ...(aws
          ? { providers: { ...(config.providers as Record<string, unknown>), aws_sts: awsSection(aws) }, profiles: awsProfiles(aws) }
          : {}),
        webhooks: { generic: { secretFiles: [secretFile] } },
        limits: {
          // Off: the setup issues 5000 grants from one trust domain in seconds, past the per-source bucket's 200/s.
          grantRequests: { perAgent: { perSecond: 0, burst: 1 }, perSource: { perSecond: 0, burst: 1 } },
          // On, at the defaults (1000 per incident, 100 per agent) unless --grants needs more: one agent per incident.
          activeGrants: { perIncident: Math.max(1000, perIncident), perAgent: Math.max(100, perIncident) },
        },
      }),
    });
    brokers.push(first);
    // The second replica runs the first's config verbatim: the same keys, secret file and Redis.
    brokers.push(await startBrokerChild({ ...common, configure: () => first.config }));
    const brokerOf = (i: number): BrokerChild => brokers[i % BROKERS]!;

    const { operator } = await benchTokens(first.keyDir, 'spiffe://dev.local/agent/s7-0');
    const opHeaders = { authorization: `Bearer ${operator}` };
    const now = Date.now();
    const agentTokens = await Promise.all(
      [...Array(INCIDENTS).keys()].map((i) =>
        mintAgentToken({
          keyDir: first.keyDir,
          issuer: AGENT_ISSUER,
          audience: AUDIENCE,
          agentId: `spiffe://dev.local/agent/s7-${i}`,
          ttlSeconds: 3600,
          now,
        }),
      ),
    );
    const sourceId = (i: number): string => `S7-${String(i).padStart(3, '0')}`;
    const incidentId = (i: number): string => `generic:${sourceId(i)}`;
    let deliveries = 0;
    const deliver = async (i: number, event: 'triggered' | 'resolved', atMs: number): Promise<HttpResult> => {
      const d = signedDelivery(secret, `msg_s7_${index}_${++deliveries}`, atMs, {
        incident_id: sourceId(i),
        event,
        occurred_at: new Date(atMs).toISOString(),
        ...(event === 'triggered' ? { title: `S7 storm incident ${i}`, severity: 'sev2' } : {}),
      });
      return httpCall(webhookHttp, `${brokerOf(i).url}/v1/webhooks/generic`, 'POST', d.headers, d.body);
    };
    const report = async (i: number, broker: BrokerChild, grants: boolean): Promise<IncidentReport | null> => {
      const res = await httpCall(http, `${broker.url}/v1/incidents/${incidentId(i)}?grants=${grants}`, 'GET', opHeaders);
      if (res.status === 404) return null;
      if (res.status !== 200) throw new Error(`GET ${incidentId(i)} answered ${res.status}: ${res.body}`);
      return JSON.parse(res.body) as IncidentReport;
    };

    // Setup: open by webhook, wait until every incident is applied, then issue.
    const triggeredAt = Date.now() - 60_000;
    await runLimited([...Array(INCIDENTS).keys()], 8, async (i) => {
      const res = await deliver(i, 'triggered', triggeredAt);
      if (res.status !== 202) throw new Error(`triggered ${i} answered ${res.status}: ${res.body}`);
    });
    let unopened = [...Array(INCIDENTS).keys()];
    for (const deadline = Date.now() + 30_000; unopened.length > 0; await sleep(100)) {
      if (Date.now() > deadline) throw new Error(`${unopened.length} incidents not opened by their webhooks within 30 s`);
      const still: number[] = [];
      await runLimited(unopened, 4, async (i) => {
        const r = await report(i, brokerOf(i + 1), false);
        if (r?.incident.status !== 'open') still.push(i);
      });
      unopened = still;
    }
    const jobs = [...Array(total).keys()].map((k) => ({ i: k % INCIDENTS, k }));
    await runLimited(jobs, ISSUE_CONCURRENCY, async ({ i, k }) => {
      const body = JSON.stringify({ incident_id: incidentId(i), profile, purpose: 'bench s7: close storm' });
      const res = await httpCall(
        http,
        `${brokerOf(k).url}/v1/grants`,
        'POST',
        { 'content-type': 'application/json', authorization: `Bearer ${agentTokens[i]!}` },
        body,
      );
      if (res.status !== 201) throw new Error(`grant for ${incidentId(i)} answered ${res.status}: ${res.body}`);
    });
    const before = await Promise.all(brokers.map((b) => brokerCounts(http, b)));
    const setupMs = elapsedMs(setupStart);
    process.stderr.write(
      `bench: s7 run ${index + 1}: ${INCIDENTS} incidents × ${perIncident} grants set up in ${(setupMs / 1000).toFixed(1)} s\n`,
    );
    // Let both workers go idle (their poll interval is 250 ms) before the storm.
    await sleep(500);

    // The storm.
    const sentAt = new Array<number>(INCIDENTS).fill(NaN);
    const answerMs = new Array<number>(INCIDENTS).fill(NaN);
    const seenAt = new Array<number>(INCIDENTS).fill(NaN);
    const done = new Array<IncidentReport | null>(INCIDENTS).fill(null);
    const stormStart = Date.now();
    const spacing = STORM_SPREAD_MS / INCIDENTS;
    let sent = 0;
    let sendError: unknown = null;
    const sends: Promise<void>[] = [];
    // Never rejects (a failed delivery is kept in sendError), so nothing is left unhandled while the poller runs.
    const sender = (async () => {
      for (let i = 0; i < INCIDENTS; i += 1) {
        await sleep(stormStart + i * spacing - Date.now());
        const at = Date.now();
        const start = process.hrtime.bigint();
        sentAt[i] = at;
        sent = i + 1;
        sends.push(
          deliver(i, 'resolved', at).then(
            (res) => {
              answerMs[i] = elapsedMs(start);
              if (res.status !== 202) sendError ??= new Error(`resolved ${i} answered ${res.status}: ${res.body}`);
            },
            (err: unknown) => {
              sendError ??= err;
            },
          ),
        );
      }
      await Promise.all(sends);
    })();
    let polls = 0;
    let round = 0;
    const giveUpAt = stormStart + BUDGET_MS + SLACK_MS;
    for (;;) {
      const pending = [...Array(sent).keys()].filter((i) => done[i] === null);
      if (pending.length === 0 && sent === INCIDENTS) break;
      if (Date.now() > giveUpAt || sendError !== null) break;
      round += 1;
      await runLimited(pending, POLL_CONCURRENCY, async (i) => {
        polls += 1;
        const r = await report(i, brokerOf(i + round), false);
        if (r && r.incident.status === 'closed' && r.revocation.outstanding === 0) {
          seenAt[i] = Date.now();
          done[i] = r;
        }
      });
      await sleep(POLL_MS);
    }
    await sender;
    if (sendError !== null) throw sendError instanceof Error ? sendError : new Error(String(sendError));
    const after = await Promise.all(brokers.map((b) => brokerCounts(http, b)));

    // Afterwards (not timed): every grant's ended_at, for what was revoked within the budget.
    const firstSent = sentAt[0]!;
    let grantsRevoked = 0;
    let grantsWithinBudget = 0;
    let incidentsWithinBudget = 0;
    await runLimited([...Array(INCIDENTS).keys()], 4, async (i) => {
      const r = await report(i, brokerOf(i), true);
      const grants = r?.grants ?? [];
      if (grants.length !== perIncident) throw new Error(`${incidentId(i)} has ${grants.length} grants, not ${perIncident}`);
      let within = 0;
      for (const g of grants) {
        if (g.state !== 'revoked') continue;
        grantsRevoked += 1;
        if (g.ended_at !== undefined && Date.parse(g.ended_at) - firstSent <= BUDGET_MS) within += 1;
      }
      grantsWithinBudget += within;
      if (within === perIncident) incidentsWithinBudget += 1;
    });

    const finished = [...Array(INCIDENTS).keys()].filter((i) => done[i] !== null);
    const stamp = (i: number, pick: (r: IncidentReport) => string | null | undefined): number => {
      const v = pick(done[i]!);
      return v === null || v === undefined ? NaN : Date.parse(v);
    };
    const revokedAt = finished.map((i) => stamp(i, (r) => r.revocation.last_revoked_at));
    return {
      grantsPerIncident: perIncident,
      setupMs,
      sendSpreadMs: sentAt[INCIDENTS - 1]! - firstSent,
      incidentsDone: finished.length,
      incidentsWithinBudget,
      grantsRevoked,
      grantsWithinBudget,
      allRevokedMs: finished.length === INCIDENTS ? Math.max(...revokedAt) - firstSent : NaN,
      allSeenMs: finished.length === INCIDENTS ? Math.max(...finished.map((i) => seenAt[i]!)) - firstSent : NaN,
      closeToAllRevoked: dist(finished.map((i) => done[i]!.revocation.close_to_all_revoked_ms ?? NaN)),
      sentToApplied: dist(finished.map((i) => stamp(i, (r) => r.incident.closed_at) - sentAt[i]!)),
      sentToRevoked: dist(finished.map((i, n) => revokedAt[n]! - sentAt[i]!)),
      sentToSeen: dist(finished.map((i) => seenAt[i]! - sentAt[i]!)),
      webhookAnswer: dist(answerMs),
      polls,
      perBroker: brokers.map((_, b) => ({
        closes: after[b]!.closes - before[b]!.closes,
        revoked: after[b]!.revoked - before[b]!.revoked,
        retries: after[b]!.retries - before[b]!.retries,
      })),
    };
  } finally {
    http.destroy();
    webhookHttp.destroy();
    // The second replica reads the first's key dir: stop it first (its own dir holds only its config).
    for (const broker of [...brokers].reverse()) await broker.stop();
    await vault?.stop();
    await aws?.stop();
    restoreEnv();
    await redis.stop();
    rmSync(secretDir, { recursive: true, force: true });
  }
}

/**
 * --grants is shared with S4: refused here past 100 000 grants in all, what one S7 run sets up
 * within the `demo` profile's 300 s TTL (~70 s of issuing on this machine).
 */
const MAX_GRANTS = 1000;

export async function runS7(options: S7Options): Promise<S7Run[]> {
  if ((options.grants ?? DEFAULT_GRANTS) > MAX_GRANTS) {
    throw new Error(`s7: --grants is the grants per incident (${INCIDENTS} incidents), at most ${MAX_GRANTS}; got ${options.grants}`);
  }
  const runs: S7Run[] = [];
  for (let i = 0; i < options.runs; i += 1) runs.push(await runOnce(options, i));
  return runs;
}

const ms = (v: number): string => (Number.isNaN(v) ? 'n/a' : v.toFixed(v < 10 ? 1 : 0));
const distCells = (d: Dist): string => `${ms(d.p50)} | ${ms(d.p95)} | ${ms(d.p99)} | ${ms(d.max)}`;

export function s7Markdown(runs: S7Run[], options: S7Options): string {
  const perIncident = options.grants ?? DEFAULT_GRANTS;
  const total = INCIDENTS * perIncident;
  const m = (pick: (r: S7Run) => number): number => median(runs.map(pick));
  const md = (pick: (r: S7Run) => Dist): Dist => medianDist(runs.map(pick));
  const allMet = runs.every((r) => r.grantsWithinBudget === total);
  const metRuns = runs.filter((r) => r.grantsWithinBudget === total).length;
  const allRevoked = m((r) => r.allRevokedMs);
  const lines = [
    `### S7 — a close storm from webhooks: ${INCIDENTS} incidents × ${perIncident} grants (${total}), resolved within ~${STORM_SPREAD_MS / 1000} s over ${BROKERS} brokers on one Redis (${options.provider ?? 'jwt'} provider; log level ${options.logLevel})`,
    '',
    `${options.runs} runs; medians over runs (each run: a new redis-server and two new broker children). Production revocation defaults (batch 64, concurrency 16, poll 250 ms). The ${INCIDENTS} \`resolved\` deliveries go out one every ${STORM_SPREAD_MS / INCIDENTS} ms, alternating between the brokers; the bench polls each incident's report (\`?grants=false\`, ${POLL_CONCURRENCY} at a time, a round every ${POLL_MS} ms) until it is closed with nothing outstanding.`,
    '',
    '| measure | value |',
    '|---|---:|',
    `| grants revoked within ${BUDGET_MS / 1000} s of the first resolve | ${m((r) => r.grantsWithinBudget)} of ${total} |`,
    `| incidents fully revoked within ${BUDGET_MS / 1000} s of the first resolve | ${m((r) => r.incidentsWithinBudget)} of ${INCIDENTS} |`,
    `| first resolve sent → all ${total} revoked (the last grant's ended_at) | ${ms(allRevoked)} ms |`,
    `| first resolve sent → the poller saw the last incident done | ${ms(m((r) => r.allSeenMs))} ms |`,
    `| first → last resolve sent | ${ms(m((r) => r.sendSpreadMs))} ms |`,
    `| target: all ${total} revoked within ${BUDGET_MS / 1000} s | ${allMet ? '**met**' : '**missed**'} in ${metRuns} of ${runs.length} runs |`,
    '',
    '| per incident, ms | p50 | p95 | p99 | max |',
    '|---|---:|---:|---:|---:|',
    `| report close_to_all_revoked_ms (webhook applied → last grant revoked) | ${distCells(md((r) => r.closeToAllRevoked))} |`,
    `| resolve sent → applied (the incident's closed_at) | ${distCells(md((r) => r.sentToApplied))} |`,
    `| resolve sent → all its grants revoked (last_revoked_at) | ${distCells(md((r) => r.sentToRevoked))} |`,
    `| resolve sent → seen fully revoked by the poller | ${distCells(md((r) => r.sentToSeen))} |`,
    `| webhook answer (resolve sent → 202 received) | ${distCells(md((r) => r.webhookAnswer))} |`,
    '',
    '| run | setup s | revoked ≤ 10 s | first resolve → all revoked ms | close → revoked p50 / p99 / max ms | sent → revoked p99 ms | webhook answer p50 / p99 ms | closes applied (broker 1 / 2) | grants revoked (broker 1 / 2) | retries | polls |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...runs.map(
      (r, i) =>
        `| ${i + 1} | ${(r.setupMs / 1000).toFixed(1)} | ${r.grantsWithinBudget} / ${total} | ${ms(r.allRevokedMs)} | ${ms(r.closeToAllRevoked.p50)} / ${ms(r.closeToAllRevoked.p99)} / ${ms(r.closeToAllRevoked.max)} | ${ms(r.sentToRevoked.p99)} | ${ms(r.webhookAnswer.p50)} / ${ms(r.webhookAnswer.p99)} | ${r.perBroker.map((b) => b.closes).join(' / ')} | ${r.perBroker.map((b) => b.revoked).join(' / ')} | ${r.perBroker.reduce((a, b) => a + b.retries, 0)} | ${r.polls} |`,
    ),
  ];
  return lines.join('\n');
}
