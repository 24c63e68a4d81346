/**
 * S4 for AWS STS (docs/performance.md): revoke an incident of N grants (1000, or --grants), all
 * sessions of one role, with the STS + IAM fake 0 and 20 ms away. Measured in the same run, each on
 * its own incident on the same fake:
 *  - broker: POST close → the report shows all N grants ended (revoked, denied pending
 *    propagation): the broker's own close_to_all_revoked_ms and the wall time seen by polling
 *    `?grants=false` every 250 ms; and time to *dead*, two ways: until the fake accepted the first
 *    PutRolePolicy (the Deny in place; AwsCallCounts.writesAt), and until a sample of 20 of the
 *    credentials is refused by AWS (IAM GetRole with the session's keys; timeToDead below);
 *  - direct, provider: the provider's revokeIncident in this process, all N grants in one call;
 *  - direct, raw IAM: the write alone (GetRolePolicy, PutRolePolicy with the incident's tag added
 *    to the Deny statement, GetRolePolicy read-back), with the IAM SDK, no lock, no store.
 * Each direct series is timed on one incident and probed for time to dead on a second, equal one.
 * For each, the AWS calls the fake answered, by action, counted apart for the broker's own keys
 * (the close's IAM reads and writes) and the session keys (the probes).
 *
 * The fake applies a policy at once: the Deny in place and a refused probe show when the Deny was
 * written, not when AWS would apply it. Real IAM propagation (usually seconds) is not measured.
 */
import { randomBytes } from 'node:crypto';
import { GetRolePolicyCommand, PutRolePolicyCommand, type IAMClient } from '@aws-sdk/client-iam';
import { awsStsConfigSchema } from '../providers/aws_sts/config.js';
import { addEntry, hasEntry, parseDenyPolicy, renderDenyPolicy } from '../providers/aws_sts/deny_policy.js';
import { runLimited } from '../src/revocation/revoke_jobs.js';
import type { GrantRef } from '../src/sdk.js';
import { AGENT_ISSUER } from '../test/support/test_config.js';
import { httpCall, type LogLevel } from './broker_child.js';
import { median } from './stats.js';
import { epochMs, type AwsCallCounts } from './aws_fake_child.js';
import {
  AGENT_ID,
  AWS_PROFILE,
  directSignal,
  GRANT_TTL_SECONDS,
  profileParams,
  rawIamClient,
  ROLE_NAME,
  sessionKeys,
  sessionProbe,
  startAwsBench,
  type AwsBench,
  type BenchStore,
  type SessionKeys,
  type SessionProbe,
} from './aws_setup.js';

const DEFAULT_GRANTS = 1000;
const LATENCIES = [0, 20] as const;
/** Concurrency of the issuing that sets each incident up (not measured). */
const ISSUE_CONCURRENCY = 8;
const POLL_MS = 250;
/** Credentials checked for time to dead, spread evenly over the incident's grants. */
const SAMPLE = 20;
const PROBE_LANES = 2;
const PROBE_PAUSE_MS = 5;
const TIMEOUT_MS = 120_000;
const POLICY_NAME = awsStsConfigSchema.parse({ region: 'eu-west-1' }).revocationPolicyName;

export interface AwsS4Options {
  readonly runs: number;
  readonly logLevel: LogLevel;
  readonly store: BenchStore;
  readonly cpuProfDir?: string;
  readonly grants?: number;
}

export interface Dead {
  /** From the start of the revocation until the first / the last sampled credential was refused. */
  readonly firstMs: number;
  readonly allMs: number;
  /** Probe calls made. */
  readonly calls: number;
}

export interface Cell {
  readonly latencyMs: number;
  readonly closeAnsweredMs: number;
  readonly brokerReportMs: number;
  readonly brokerWallMs: number;
  readonly brokerDead: Dead;
  /** From the start until the fake accepted the first PutRolePolicy: the Deny in place (AwsCallCounts.writesAt). */
  readonly brokerWrittenMs: number;
  readonly brokerCalls: AwsCallCounts;
  readonly providerMs: number;
  readonly providerDead: Dead;
  readonly providerWrittenMs: number;
  readonly providerCalls: AwsCallCounts;
  readonly rawMs: number;
  readonly rawDead: Dead;
  readonly rawWrittenMs: number;
  readonly rawCalls: AwsCallCounts;
  /** The revocation policy's size at the end of the run (characters, whitespace not counted). */
  readonly policyChars: number;
}

const elapsedMs = (start: bigint): number => Number(process.hrtime.bigint() - start) / 1e6;

/** ms from `startEpoch` until the fake accepted the first policy write counted in `calls`. */
function writtenMs(calls: AwsCallCounts, startEpoch: number): number {
  const at = calls.writesAt[0];
  if (at === undefined) throw new Error('the revocation wrote no policy');
  return at - startEpoch;
}
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Evenly spaced indexes 0 … n−1, `count` of them (all when n ≤ count). */
function sampleIndexes(n: number, count: number): Set<number> {
  if (n <= count) return new Set([...Array(n).keys()]);
  return new Set(Array.from({ length: count }, (_, i) => Math.floor((i * n) / count)));
}

async function allWork(probes: readonly SessionProbe[]): Promise<void> {
  const works = await Promise.all(probes.map((p) => p.works()));
  if (!works.every(Boolean)) throw new Error('a sampled credential was refused before its incident was revoked');
}

/**
 * Time to dead, from `start`. Until the first sampled credential is refused, PROBE_LANES lanes
 * probe the sample in turn, one call at a time each with PROBE_PAUSE_MS between (twenty calls in
 * parallel cost the fake and this process ~25 ms a round at 0 ms, which would be the resolution,
 * and load the machine the broker runs on); then every credential not yet refused is probed in
 * parallel, again until each is. One Deny statement covers them all, so `firstMs` is when the
 * write took effect (to within one probe call) and `allMs` adds the parallel check of the rest.
 */
async function timeToDead(probes: readonly SessionProbe[], start: bigint): Promise<Dead> {
  const deadAt: Array<number | null> = probes.map(() => null);
  let calls = 0;
  let next = 0;
  const check = (): void => {
    if (elapsedMs(start) > TIMEOUT_MS) throw new Error(`sampled credentials still worked ${TIMEOUT_MS} ms after the revocation began`);
  };
  const probe = async (i: number): Promise<void> => {
    calls += 1;
    if (!(await (probes[i] as SessionProbe).works())) deadAt[i] ??= elapsedMs(start);
  };
  const lane = async (): Promise<void> => {
    while (deadAt.every((d) => d === null)) {
      check();
      const i = next % probes.length;
      next += 1;
      await probe(i);
      if (deadAt.every((d) => d === null)) await sleep(PROBE_PAUSE_MS);
    }
  };
  await Promise.all(Array.from({ length: PROBE_LANES }, lane));
  while (deadAt.some((d) => d === null)) {
    check();
    await Promise.all(probes.map((_, i) => (deadAt[i] === null ? probe(i) : undefined)));
  }
  const times = deadAt as number[];
  return { firstMs: Math.min(...times), allMs: Math.max(...times), calls };
}

interface RevocationReport {
  revocation: {
    by_state: { revoked: number };
    close_to_all_revoked_ms: number | null;
    denied_pending_propagation: number;
    outstanding: number;
  };
}

async function brokerSeries(
  bench: AwsBench,
  n: number,
): Promise<Pick<Cell, 'closeAnsweredMs' | 'brokerReportMs' | 'brokerWallMs' | 'brokerDead' | 'brokerWrittenMs' | 'brokerCalls'>> {
  const { fake, broker, http: agent, incidentId, operatorHeaders } = bench;
  const sampled = sampleIndexes(n, SAMPLE);
  const keys: SessionKeys[] = [];
  const body = JSON.stringify({ incident_id: incidentId, profile: AWS_PROFILE, purpose: 'bench' });
  await runLimited([...Array(n).keys()], ISSUE_CONCURRENCY, async (i) => {
    const res = await httpCall(agent, `${broker.url}/v1/grants`, 'POST', bench.agentHeaders, body);
    if (res.status !== 201) throw new Error(`grant answered ${res.status}: ${res.body}`);
    if (sampled.has(i)) keys.push(sessionKeys((JSON.parse(res.body) as { credential: Record<string, unknown> }).credential));
  });
  const probes = keys.map((k) => sessionProbe(fake, k));
  try {
    await allWork(probes);
    await fake.resetCounts();
    const start = process.hrtime.bigint();
    const startEpoch = epochMs();
    // Probing starts with the close, not at its 202: the credentials may die before the answer arrives.
    const dead = timeToDead(probes, start);
    dead.catch(() => undefined);
    const closed = await httpCall(agent, `${broker.url}/v1/incidents/${incidentId}/close`, 'POST', operatorHeaders);
    const closeAnsweredMs = elapsedMs(start);
    if (closed.status !== 202) throw new Error(`close answered ${closed.status}: ${closed.body}`);
    const ended = (async () => {
      for (;;) {
        const res = await httpCall(agent, `${broker.url}/v1/incidents/${incidentId}?grants=false`, 'GET', operatorHeaders);
        const report = JSON.parse(res.body) as RevocationReport;
        if (report.revocation.by_state.revoked === n && report.revocation.outstanding === 0) return { report, wallMs: elapsedMs(start) };
        if (elapsedMs(start) > TIMEOUT_MS) throw new Error(`close did not end every grant within ${TIMEOUT_MS} ms`);
        await sleep(POLL_MS);
      }
    })();
    const [brokerDead, { report, wallMs }] = await Promise.all([dead, ended]);
    if (report.revocation.denied_pending_propagation !== n) {
      throw new Error(`only ${report.revocation.denied_pending_propagation} of ${n} reported denied pending propagation`);
    }
    const brokerCalls = await fake.counts();
    return {
      closeAnsweredMs,
      brokerReportMs: report.revocation.close_to_all_revoked_ms ?? NaN,
      brokerWallMs: wallMs,
      brokerDead,
      brokerWrittenMs: writtenMs(brokerCalls, startEpoch),
      brokerCalls,
    };
  } finally {
    for (const p of probes) p.close();
  }
}

/** N grants of a new incident issued by the provider in this process: their refs, and the sampled credentials' probes. */
async function issueDirect(bench: AwsBench, incidentId: string, n: number): Promise<{ refs: GrantRef[]; probes: SessionProbe[] }> {
  const refs: GrantRef[] = [];
  const probes: SessionProbe[] = [];
  const sampled = sampleIndexes(n, SAMPLE);
  const params = profileParams(bench.fake);
  const signal = directSignal();
  await runLimited([...Array(n).keys()], ISSUE_CONCURRENCY, async (i) => {
    const grantId = `grt_${randomBytes(12).toString('base64url')}`;
    const issued = await bench.provider.issue({
      grantId,
      incidentId,
      agent: { id: AGENT_ID, issuer: AGENT_ISSUER },
      profile: { name: AWS_PROFILE, params },
      ttlSeconds: GRANT_TTL_SECONDS,
      purpose: 'bench',
      signal,
    });
    refs.push({ grantId, incidentId, handle: issued.handle, expiresAt: issued.expiresAt });
    if (sampled.has(i)) probes.push(sessionProbe(bench.fake, sessionKeys(issued.credential)));
  });
  await allWork(probes);
  return { refs, probes };
}

/**
 * A direct series: `revoke` timed alone on an incident of `n` grants (and the AWS calls it made),
 * then made again on a second, equal incident with the probes running from its start, for time to
 * dead. Two incidents, because probes in this process would share the event loop with the timed call.
 */
async function directSeries(
  bench: AwsBench,
  incidentIds: readonly [string, string],
  n: number,
  revoke: (incidentId: string, refs: readonly GrantRef[]) => Promise<void>,
): Promise<{ ms: number; dead: Dead; writtenMs: number; calls: AwsCallCounts }> {
  const [timedId, probedId] = incidentIds;
  const timed = await issueDirect(bench, timedId, n);
  for (const p of timed.probes) p.close();
  await bench.fake.resetCounts();
  const start = process.hrtime.bigint();
  const startEpoch = epochMs();
  await revoke(timedId, timed.refs);
  const ms = elapsedMs(start);
  const calls = await bench.fake.counts();
  const probed = await issueDirect(bench, probedId, n);
  try {
    const probedStart = process.hrtime.bigint();
    const dead = timeToDead(probed.probes, probedStart);
    dead.catch(() => undefined);
    await revoke(probedId, probed.refs);
    return { ms, dead: await dead, writtenMs: writtenMs(calls, startEpoch), calls };
  } finally {
    for (const p of probed.probes) p.close();
  }
}

async function providerSeries(
  bench: AwsBench,
  id: string,
  n: number,
): Promise<Pick<Cell, 'providerMs' | 'providerDead' | 'providerWrittenMs' | 'providerCalls'>> {
  const result = await directSeries(bench, [id, `${id}-PROBED`], n, async (incidentId, refs) => {
    const receipts = await bench.provider.revokeIncident!({ incidentId, grants: refs, signal: directSignal() });
    if (receipts.length !== n || !receipts.every((r) => r.outcome === 'denied'))
      throw new Error('provider close left grants without a denied receipt');
  });
  return { providerMs: result.ms, providerDead: result.dead, providerWrittenMs: result.writtenMs, providerCalls: result.calls };
}

/** GetRolePolicy as the provider reads it: URL-decoded, or null when the role has none. */
async function readPolicy(iam: IAMClient): Promise<string | null> {
  try {
    const out = await iam.send(new GetRolePolicyCommand({ RoleName: ROLE_NAME, PolicyName: POLICY_NAME }));
    return out.PolicyDocument === undefined ? null : decodeURIComponent(out.PolicyDocument);
  } catch (err) {
    if ((err as { name?: string }).name === 'NoSuchEntityException' || (err as { Code?: string }).Code === 'NoSuchEntity') return null;
    throw err;
  }
}

/**
 * The write alone: read, add the incident's tag (in the provider's own document format,
 * deny_policy.ts, so the sessions are denied the same way), put, read back; no lock, no store.
 * N does not change these three calls, so the incidents hold SAMPLE grants.
 */
async function rawSeries(bench: AwsBench, id: string): Promise<Pick<Cell, 'rawMs' | 'rawDead' | 'rawWrittenMs' | 'rawCalls'>> {
  const iam = rawIamClient(bench.fake);
  try {
    // One call first, so the client's connection and credentials are set up as the broker's are.
    await readPolicy(iam);
    const result = await directSeries(bench, [id, `${id}-PROBED`], SAMPLE, async (incidentId) => {
      const policy = parseDenyPolicy(await readPolicy(iam));
      addEntry(policy, 'incidents', incidentId, Date.now() + 3600_000 + 5 * 60_000);
      const document = renderDenyPolicy(policy);
      await iam.send(new PutRolePolicyCommand({ RoleName: ROLE_NAME, PolicyName: POLICY_NAME, PolicyDocument: document }));
      if (!hasEntry(parseDenyPolicy(await readPolicy(iam)), 'incidents', incidentId))
        throw new Error('raw IAM write: the read-back lacks the incident');
    });
    return { rawMs: result.ms, rawDead: result.dead, rawWrittenMs: result.writtenMs, rawCalls: result.calls };
  } finally {
    iam.destroy();
  }
}

async function runOnce(options: AwsS4Options, latencyMs: number, index: number): Promise<Cell> {
  const n = options.grants ?? DEFAULT_GRANTS;
  const bench = await startAwsBench({
    latencyMs,
    logLevel: options.logLevel,
    maxSockets: 16,
    incidentId: `INC-BENCH-AS4-${latencyMs}-${index}`,
    store: options.store,
    ...(options.cpuProfDir ? { cpuProfDir: options.cpuProfDir } : {}),
  });
  try {
    const broker = await brokerSeries(bench, n);
    const provider = await providerSeries(bench, `INC-BENCH-AS4-PROVIDER-${latencyMs}-${index}`, n);
    const raw = await rawSeries(bench, `INC-BENCH-AS4-RAW-${latencyMs}-${index}`);
    const policy = JSON.stringify((await bench.fake.rolePolicies(ROLE_NAME))[POLICY_NAME] ?? {});
    return { latencyMs, ...broker, ...provider, ...raw, policyChars: policy.replace(/\s/gu, '').length };
  } finally {
    await bench.stop();
  }
}

export async function runAwsS4(options: AwsS4Options): Promise<Cell[][]> {
  const runs: Cell[][] = [];
  for (let i = 0; i < options.runs; i += 1) {
    const cells: Cell[] = [];
    for (const latency of LATENCIES) cells.push(await runOnce(options, latency, i));
    runs.push(cells);
  }
  return runs;
}

const ms = (v: number): string => v.toFixed(v < 10 ? 2 : 0);
const callText = (counts: Record<string, number>): string =>
  Object.entries(counts)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, v]) => `${k} ${v}`)
    .join(', ') || 'none';
const sum = (counts: Record<string, number>, prefix: string): number =>
  Object.entries(counts).reduce((a, [k, v]) => (k === prefix || k.startsWith(`${prefix} `) ? a + v : a), 0);

const verdict = (ratio: number): string => (ratio <= 1.25 ? 'meets' : `misses by ${(ratio - 1.25).toFixed(2)}×`);
const deadText = (d: { first: number; all: number }): string => `${ms(d.first)} / ${ms(d.all)}`;

export function awsS4Markdown(runs: Cell[][], options: AwsS4Options): string {
  const n = options.grants ?? DEFAULT_GRANTS;
  const first = runs[0] ?? [];
  const cells = first.map((cell, i) => {
    const all = runs.map((r) => r[i] as Cell);
    const m = (pick: (c: Cell) => number): number => median(all.map(pick));
    const dead = (pick: (c: Cell) => Dead) => ({ first: m((c) => pick(c).firstMs), all: m((c) => pick(c).allMs) });
    return {
      latencyMs: cell.latencyMs,
      all,
      closeAnswered: m((c) => c.closeAnsweredMs),
      brokerReport: m((c) => c.brokerReportMs),
      brokerWall: m((c) => c.brokerWallMs),
      brokerWritten: m((c) => c.brokerWrittenMs),
      brokerDead: dead((c) => c.brokerDead),
      provider: m((c) => c.providerMs),
      providerWritten: m((c) => c.providerWrittenMs),
      providerDead: dead((c) => c.providerDead),
      raw: m((c) => c.rawMs),
      rawWritten: m((c) => c.rawWrittenMs),
      rawDead: dead((c) => c.rawDead),
      brokerPuts: m((c) => sum(c.brokerCalls.broker, 'PutRolePolicy')),
      brokerGets: m((c) => sum(c.brokerCalls.broker, 'GetRolePolicy')),
    };
  });
  const lines = [
    `### S4 — revoke an incident of ${n} AWS STS grants on one role (aws_sts provider, STS + IAM fake in its own process, ${options.store} store, log level ${options.logLevel})`,
    '',
    `${options.runs} runs per fake latency; medians over runs. Broker revocation settings are the production defaults (batch 64, concurrency 16). ` +
      'Time to dead, two ways, both from the start of the revocation: *Deny in place*, when the fake accepted the first PutRolePolicy (it applies a policy as it answers; stamped in the fake’s process to ~1 ms); ' +
      `and what probes saw: the first, then all, of ${SAMPLE} sampled credentials (spread over the incident) refused by IAM GetRole ` +
      `(${PROBE_LANES} probe lanes in turn, ${PROBE_PAUSE_MS} ms apart, until the first refusal, then the rest in parallel; ` +
      'for the direct series on a second, equal incident, so the timed call has this process to itself). ' +
      'AWS calls: the first run’s, made with the broker’s own keys (the probes’ not included). ' +
      '**The fake applies a policy the moment it is written, so real IAM propagation (usually seconds) is in none of these numbers.**',
    '',
    `| fake latency | series | revoke → all ended ms | Deny in place ms | probes: first / all ${SAMPLE} refused ms | AWS calls (broker keys) |`,
    '|---:|---|---:|---:|---:|---|',
  ];
  for (const c of cells) {
    const r0 = c.all[0] as Cell;
    lines.push(
      `| ${c.latencyMs} ms | broker: POST close → all ${n} revoked, denied pending propagation (report close_to_all_revoked_ms) | ${ms(c.brokerReport)} | ${ms(c.brokerWritten)} | ${deadText(c.brokerDead)} | ${callText(r0.brokerCalls.broker)} |`,
      `| ${c.latencyMs} ms | broker: the same, wall time seen by polling every ${POLL_MS} ms (the close answered 202 after ${ms(c.closeAnswered)} ms) | ${ms(c.brokerWall)} | | | |`,
      `| ${c.latencyMs} ms | direct, provider: revokeIncident in-process, ${n} grants in one call | ${ms(c.provider)} | ${ms(c.providerWritten)} | ${deadText(c.providerDead)} | ${callText(r0.providerCalls.broker)} |`,
      `| ${c.latencyMs} ms | direct, raw IAM: GetRolePolicy + PutRolePolicy + GetRolePolicy | ${ms(c.raw)} | ${ms(c.rawWritten)} | ${deadText(c.rawDead)} | ${callText(r0.rawCalls.broker)} |`,
    );
  }
  lines.push(
    '',
    '| fake latency | Deny in place, broker / raw IAM | Deny in place, broker / provider | all ended, broker / provider revokeIncident | IAM writes / reads in the broker’s close | target ≤ 1.25×: Deny in place against the raw write | all ended against the provider’s revokeIncident |',
    '|---:|---:|---:|---:|---:|---|---|',
  );
  for (const c of cells) {
    const deadRatio = c.brokerWritten / c.rawWritten;
    const endedRatio = c.brokerReport / c.provider;
    lines.push(
      `| ${c.latencyMs} ms | ${deadRatio.toFixed(2)}× | ${(c.brokerWritten / c.providerWritten).toFixed(2)}× | ${endedRatio.toFixed(2)}× | ${c.brokerPuts} / ${c.brokerGets} | ${verdict(deadRatio)} | ${verdict(endedRatio)} |`,
    );
  }
  lines.push(
    '',
    '| run | fake latency | broker all ended / wall ms | broker Deny in place ms | broker probes first / all ms | provider ms | provider Deny ms | provider probes ms | raw ms | raw Deny ms | raw probes ms | broker Put / Get RolePolicy | broker probe calls | policy chars |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  );
  runs.forEach((row, r) => {
    for (const c of row) {
      const d = (x: Dead): string => deadText({ first: x.firstMs, all: x.allMs });
      lines.push(
        `| ${r + 1} | ${c.latencyMs} ms | ${ms(c.brokerReportMs)} / ${ms(c.brokerWallMs)} | ${ms(c.brokerWrittenMs)} | ${d(c.brokerDead)} | ${ms(c.providerMs)} | ${ms(c.providerWrittenMs)} | ${d(c.providerDead)} | ${ms(c.rawMs)} | ${ms(c.rawWrittenMs)} | ${d(c.rawDead)} | ${sum(c.brokerCalls.broker, 'PutRolePolicy')} / ${sum(c.brokerCalls.broker, 'GetRolePolicy')} | ${c.brokerDead.calls} | ${c.policyChars} |`,
      );
    }
  });
  return lines.join('\n');
}
