/**
 * S8 (docs/performance.md): a policy decision and an audit hash-chain append per grant. Two parts per run:
 *
 *  1. Decisions, in this process: `decide()` of the shipped set, `loadPolicySet(readPolicyDir('config/policies'))`,
 *     for four requests of its decision table (config/policies/policy_tests.yaml, parsed by
 *     `parsePolicyTests`), each checked against the decision the table expects before it is timed:
 *     an allow by tier-read, an allow by tier-remediate (a set lookup), a deny by a forbid
 *     (trusted-trust-domains), a deny by no permit (a closed incident). Also the broker's whole step
 *     (`authorizeByPolicy`: `policyRequestOf` + `decide` + the Decision). Baselines in the same run:
 *      - one-policy: `decide()` on a set of `permit(principal, action, resource);` with the same schema:
 *        the fixed cost of the cedar-wasm call and its entities, with (nearly) no policy to evaluate;
 *      - raw-*: cedar-wasm's `statefulIsAuthorized` called directly with a copy of the call `decide()`
 *        builds (src/policy/policy_set.ts), to split the cost: as `decide()` calls it, without request
 *        validation (the module has no such option), without the schema, against an empty set, and
 *        with no entities or context at all; and `JSON.stringify` of the call, which the binding
 *        does first.
 *      - chain-link: `chainLink` of a grant.issued event, what the audit sealer computes per event
 *        (RFC 8785 canonical JSON + SHA-256, src/audit/chain.ts).
 *     Every series is timed per call, interleaved in blocks, after a warm-up.
 *  2. Grants: S1's sequential `POST /v1/grants` (bench/s1_issue.ts) through three broker children
 *     alive at once, on the same store kind: one with `policy: { dir: <abs config/policies> }` and
 *     the audit chain (the default), one without policy, one without policy and with
 *     `audit.chain.enabled: false`, and S1's direct jwt-provider baseline, interleaved in blocks of
 *     100 (the order of the series rotates from block to block). The chain's sealer works off the
 *     request path, in the same process. `--cpu-prof-dir` profiles the policy child only.
 *
 * With `--store redis` the policy child dies of a V8 fatal error after 1500–2800 grants (Node 20; see
 * docs/performance.md S8); the bench then stops, saying which child exited.
 */
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Agent } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as cedar from '@cedar-policy/cedar-wasm/nodejs';
import { CHAIN_GENESIS, chainLink } from '../src/audit/chain.js';
import type { ProfileEntry } from '../src/catalog/catalog.js';
import type { AuditEvent } from '../src/model.js';
import { authorizeByPolicy, type PolicyInput } from '../src/grants/steps/authorize_by_policy.js';
import type { AgentIdentity } from '../src/identity/types.js';
import { authorizationCall, loadPolicySet, readPolicyDir, SCHEMA_FILE, type LoadedPolicySet } from '../src/policy/policy_set.js';
import { parsePolicyTests } from '../src/policy/policy_tests.js';
import { startRedisServer, type RedisServer } from '../test/support/redis_server.js';
import { AGENT_ISSUER } from '../test/support/test_config.js';
import { directJwtIssue } from './s1_issue.js';
import { benchTokens, httpCall, startBrokerChild, type BrokerChild } from './broker_child.js';
import type { S1Options } from './s1_issue.js';
import { median, medianOfRuns, summarize, timeSequential, type Summary } from './stats.js';

const POLICY_DIR = fileURLToPath(new URL('../config/policies', import.meta.url));
const POLICY_TESTS = join(POLICY_DIR, 'policy_tests.yaml');

/** Timed calls per decision series per run, in blocks, after the warm-up. */
const DECISIONS = 5000;
const DECISION_BLOCK = 100;
const DECISION_WARMUP = 1000;
/** Grant requests per series before switching to the next series (as S1). */
const GRANT_BLOCK = 100;
/**
 * Warm-up grants per broker child (or --warmup, if larger), interleaved like the timed ones. A fresh
 * process runs cedar-wasm in V8's baseline tier (Liftoff) until the functions tier up: its first few
 * hundred decisions cost 2–4 × a warm one. S1's 200 would leave that in the timed series; the
 * warm-up is reported in three segments instead.
 */
const GRANT_WARMUP = 1500;
const WARMUP_SEGMENTS: readonly (readonly [number, number])[] = [
  [0, 300],
  [300, 1000],
  [1000, GRANT_WARMUP],
];
/** docs/performance.md S8: at most 100 µs per policy decision. */
const TARGET_DECISION_US = 100;
/** docs/performance.md S1: p50 ≤ direct + 1 ms (to hold with the policy on). */
const TARGET_S1_P50_OVERHEAD_US = 1000;

const AGENT_ID = 'spiffe://dev.local/agent/triage';
const PROFILE = 'demo';

/** A grant.issued event as the broker audits one (issue_grant.ts auditIssued), for the chain-link series. */
const ISSUED_EVENT: AuditEvent = {
  seq: 1234,
  at: Date.UTC(2026, 11, 1),
  type: 'grant.issued',
  actor: AGENT_ID,
  incidentId: 'INC-BENCH-S8-1',
  grantId: 'grt_5f0c3a9e2b7d4c1f8a6e0b3d',
  profile: PROFILE,
  data: {
    ttlSeconds: 300,
    provider: 'jwt',
    requestedTtlSeconds: 0,
    purpose: 'bench s8',
    decidedBy: ['profiles.demo.agents', 'policy:tier-read'],
    requestId: 'req_0123456789abcdef',
    tokenFingerprint: 'fp_9a8b7c6d5e4f3a2b1c0d',
  },
};

const DECISION_SERIES = [
  'allow-read',
  'allow-remediate',
  'deny-forbid',
  'deny-no-permit',
  'step',
  'one-policy',
  'raw',
  'raw-novalidate',
  'raw-noschema',
  'raw-empty-set',
  'raw-bare',
  'stringify',
  'chain-link',
] as const;
type DecisionSeries = (typeof DECISION_SERIES)[number];

const DECISION_LABELS: Record<DecisionSeries, string> = {
  'allow-read': 'shipped set `decide()`: a read (allow, tier-read)',
  'allow-remediate': 'shipped set `decide()`: remediation after evidence (allow, tier-remediate)',
  'deny-forbid': 'shipped set `decide()`: another trust domain (deny, trusted-trust-domains)',
  'deny-no-permit': 'shipped set `decide()`: a closed incident (deny, no permit)',
  step: 'the broker step `authorizeByPolicy` (policyRequestOf + decide + Decision), a read',
  'one-policy': 'baseline: `decide()` on a one-policy set, same schema, the read',
  raw: 'cedar-wasm `statefulIsAuthorized`, decide()’s call, shipped set (≈ decide)',
  'raw-novalidate': 'the same, `validateRequest: false`',
  'raw-noschema': 'the same, no schema (no validation, untyped entities)',
  'raw-empty-set': 'the same, no schema, an empty policy set',
  'raw-bare': 'an empty set, no schema, no entities, empty context (the call floor)',
  stringify: '`JSON.stringify` of decide()’s call (the binding’s first step)',
  'chain-link': 'audit chain: `chainLink` of a grant.issued event (RFC 8785 + SHA-256; the sealer, per event)',
};

const GRANT_SERIES = ['policy', 'plain', 'nochain', 'direct'] as const;
type GrantSeries = (typeof GRANT_SERIES)[number];

/** The first decisions of the process (cold only in run 1): the first call, and two spans of the next 1000. */
export interface DecisionWarmup {
  readonly firstUs: number;
  /** p50 of the next calls in [from, to) of the first series' warm-up. */
  readonly spans: readonly { readonly from: number; readonly to: number; readonly p50Us: number }[];
}

/** A broker child's first grant after start, and the p50 of its warm-up grants in WARMUP_SEGMENTS. */
export interface GrantWarmup {
  readonly firstUs: number;
  readonly segmentsP50Us: readonly number[];
}

export interface S8Run {
  readonly decisions: Record<DecisionSeries, Summary>;
  readonly decisionWarmup: DecisionWarmup;
  readonly grants: Record<GrantSeries, Summary>;
  readonly grantWarmup: Record<'policy' | 'plain', GrantWarmup>;
}

export interface S8Result {
  readonly runs: readonly S8Run[];
  readonly median: Pick<S8Run, 'decisions' | 'grants'>;
}

/** Times a synchronous `fn` `count` times; one sample per call, in nanoseconds. */
function timeSync(count: number, fn: () => unknown): bigint[] {
  const samples = new Array<bigint>(count);
  for (let i = 0; i < count; i += 1) {
    const start = process.hrtime.bigint();
    fn();
    samples[i] = process.hrtime.bigint() - start;
  }
  return samples;
}

const sameIds = (a: readonly string[], b: readonly string[]): boolean => JSON.stringify([...a].sort()) === JSON.stringify([...b].sort());

function rawDecision(call: cedar.StatefulAuthorizationCall): 'allow' | 'deny' {
  const answer = cedar.statefulIsAuthorized(call);
  if (answer.type === 'failure') throw new Error(`cedar-wasm refused the bench call: ${answer.errors.map((e) => e.message).join('; ')}`);
  return answer.response.decision === 'allow' ? 'allow' : 'deny';
}

/** The one-policy set, loaded through the module from a directory holding the shipped schema. */
function loadOnePolicySet(): LoadedPolicySet {
  const dir = mkdtempSync(join(tmpdir(), 'qm-bench-s8-'));
  try {
    copyFileSync(join(POLICY_DIR, SCHEMA_FILE), join(dir, SCHEMA_FILE));
    writeFileSync(join(dir, 'all.cedar'), '@id("permit-all")\npermit (principal, action, resource);\n');
    return loadPolicySet(readPolicyDir(dir));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The broker step's input for a read of `demo` by the triage agent on an open sev3 incident. */
function stepInput(): PolicyInput {
  const now = Date.now();
  const agent: AgentIdentity = {
    kind: 'agent',
    id: AGENT_ID,
    issuer: AGENT_ISSUER,
    issuerName: 'dev.local',
    subject: AGENT_ID,
    trustDomain: 'dev.local',
    expiresAt: now + 3_600_000,
    acceptedUntil: now + 3_660_000,
    fingerprint: 'bench',
    tokenId: 'bench',
  };
  // policyRequestOf reads only these fields of a catalog entry.
  const profile = { name: PROFILE, config: { tier: 'read', maxTtl: 900 }, provider: { name: 'jwt' } } as unknown as ProfileEntry;
  return {
    agent,
    profile,
    incident: { id: 'INC-BENCH-S8', source: 'api', title: 'bench s8', severity: 'sev3', status: 'open', openedAt: now, openedBy: 'bench' },
    ttlSeconds: 300,
    purpose: 'bench s8',
    quarantined: false,
    now,
    decision: { effect: 'allow', decidedBy: ['profiles.demo.agents'], reasons: ['profile demo allows the agent'] },
  };
}

function measureDecisions(): { decisions: Record<DecisionSeries, Summary>; warmup: DecisionWarmup } {
  const shipped = loadPolicySet(readPolicyDir(POLICY_DIR));
  const onePolicy = loadOnePolicySet();
  const cases = parsePolicyTests(readFileSync(POLICY_TESTS, 'utf8'));
  const byName = (name: string) => {
    const found = cases.find((c) => c.name === name);
    if (!found) throw new Error(`policy_tests.yaml has no case "${name}"`);
    return found;
  };
  const picked: Record<'allow-read' | 'allow-remediate' | 'deny-forbid' | 'deny-no-permit', ReturnType<typeof byName>> = {
    'allow-read': byName('an agent of a trusted trust domain reads'),
    'allow-remediate': byName('remediation for a sev2 once evidence was gathered, approved'),
    'deny-forbid': byName('an agent of another trust domain gets nothing'),
    'deny-no-permit': byName('nothing is allowed for a closed incident'),
  };
  let firstUs = 0;
  for (const [series, c] of Object.entries(picked)) {
    const started = process.hrtime.bigint();
    const got = shipped.decide(c.request);
    if (series === 'allow-read') firstUs = Number(process.hrtime.bigint() - started) / 1000;
    if (got.effect !== c.expect || (c.policies !== undefined && !sameIds(got.policyIds, c.policies)) || got.errors.length > 0)
      throw new Error(`${series}: "${c.name}" decided ${JSON.stringify(got)}, the table expects ${c.expect} ${JSON.stringify(c.policies)}`);
  }
  const read = picked['allow-read'].request;
  const one = onePolicy.decide(read);
  if (one.effect !== 'allow' || !sameIds(one.policyIds, ['permit-all'])) throw new Error(`one-policy decided ${JSON.stringify(one)}`);
  const input = stepInput();
  const stepped = authorizeByPolicy(shipped, input);
  if (stepped.effect !== 'allow' || !stepped.decidedBy.includes('policy:tier-read'))
    throw new Error(`step decided ${JSON.stringify(stepped)}`);

  // The raw series' own copies of the sets and schema in cedar-wasm's cache.
  const key = 'bench-s8';
  const emptyKey = 'bench-s8-empty';
  const loaded = [
    cedar.preparseSchema(key, shipped.source.schema),
    cedar.preparsePolicySet(key, { staticPolicies: { ...shipped.source.policies } }),
    cedar.preparsePolicySet(emptyKey, { staticPolicies: {} }),
  ];
  if (loaded.some((a) => a.type === 'failure')) throw new Error('cedar-wasm did not pre-parse the bench copies');
  const calls = {
    raw: authorizationCall(read, key, key, true, {}),
    novalidate: authorizationCall(read, key, key, false, {}),
    noschema: authorizationCall(read, key, undefined, false, {}),
    empty: authorizationCall(read, emptyKey, undefined, false, {}),
  };
  const bare: cedar.StatefulAuthorizationCall = {
    ...calls.empty,
    context: {},
    entities: [],
  };
  const expectRaw: [cedar.StatefulAuthorizationCall, 'allow' | 'deny'][] = [
    [calls.raw, 'allow'],
    [calls.novalidate, 'allow'],
    [calls.noschema, 'allow'],
    [calls.empty, 'deny'],
    [bare, 'deny'],
  ];
  for (const [call, effect] of expectRaw) if (rawDecision(call) !== effect) throw new Error(`a raw call did not decide ${effect}`);

  const series: Record<DecisionSeries, () => unknown> = {
    'allow-read': () => shipped.decide(read),
    'allow-remediate': () => shipped.decide(picked['allow-remediate'].request),
    'deny-forbid': () => shipped.decide(picked['deny-forbid'].request),
    'deny-no-permit': () => shipped.decide(picked['deny-no-permit'].request),
    step: () => authorizeByPolicy(shipped, input),
    'one-policy': () => onePolicy.decide(read),
    // Built per call, as decide() builds it.
    raw: () => cedar.statefulIsAuthorized(authorizationCall(read, key, key, true, {})),
    'raw-novalidate': () => cedar.statefulIsAuthorized(authorizationCall(read, key, key, false, {})),
    'raw-noschema': () => cedar.statefulIsAuthorized(authorizationCall(read, key, undefined, false, {})),
    'raw-empty-set': () => cedar.statefulIsAuthorized(authorizationCall(read, emptyKey, undefined, false, {})),
    'raw-bare': () => cedar.statefulIsAuthorized({ ...bare }),
    stringify: () => JSON.stringify(authorizationCall(read, key, key, true, {})),
    'chain-link': () => chainLink(CHAIN_GENESIS, ISSUED_EVENT),
  };
  const warm = Object.fromEntries(DECISION_SERIES.map((n) => [n, timeSync(DECISION_WARMUP, series[n])])) as Record<
    DecisionSeries,
    bigint[]
  >;
  const spans = [
    [0, 300],
    [300, DECISION_WARMUP],
  ].map(([from, to]) => ({ from: from!, to: to!, p50Us: summarize(warm['allow-read'].slice(from, to)).p50Us }));
  const samples = Object.fromEntries(DECISION_SERIES.map((n) => [n, [] as bigint[]])) as Record<DecisionSeries, bigint[]>;
  for (let done = 0; done < DECISIONS; done += DECISION_BLOCK) {
    const size = Math.min(DECISION_BLOCK, DECISIONS - done);
    for (const name of DECISION_SERIES) samples[name].push(...timeSync(size, series[name]));
  }
  return {
    decisions: Object.fromEntries(DECISION_SERIES.map((n) => [n, summarize(samples[n])])) as Record<DecisionSeries, Summary>,
    warmup: { firstUs, spans },
  };
}

interface GrantTarget {
  readonly child: BrokerChild;
  readonly url: string;
  readonly headers: Record<string, string>;
  readonly body: string;
  /** The child's first grant after start, µs. */
  readonly firstUs: number;
}

/** Tokens, one open sev3 incident, and a first grant whose audit event shows whether policy decided it. */
async function prepareChild(agent: Agent, child: BrokerChild, incidentId: string, withPolicy: boolean): Promise<GrantTarget> {
  const { operator, agent: agentToken } = await benchTokens(child.keyDir, AGENT_ID);
  const operatorHeaders = { authorization: `Bearer ${operator}`, 'content-type': 'application/json' };
  const opened = await httpCall(
    agent,
    `${child.url}/v1/incidents`,
    'POST',
    operatorHeaders,
    JSON.stringify({ id: incidentId, title: 'bench s8', severity: 'sev3' }),
  );
  if (opened.status !== 201) throw new Error(`opening the incident answered ${opened.status}: ${opened.body}`);
  const url = `${child.url}/v1/grants`;
  const headers = { authorization: `Bearer ${agentToken}`, 'content-type': 'application/json' };
  const body = JSON.stringify({ incident_id: incidentId, profile: PROFILE, purpose: 'bench s8' });
  const started = process.hrtime.bigint();
  const first = await httpCall(agent, url, 'POST', headers, body);
  const target: GrantTarget = { child, url, headers, body, firstUs: Number(process.hrtime.bigint() - started) / 1000 };
  if (first.status !== 201) throw new Error(`the first grant answered ${first.status}: ${first.body}`);
  const audit = await httpCall(agent, `${child.url}/v1/audit?incident=${encodeURIComponent(incidentId)}`, 'GET', {
    authorization: `Bearer ${operator}`,
  });
  const events = (JSON.parse(audit.body) as { events?: { type: string; data?: { decidedBy?: string[] } }[] }).events ?? [];
  const decidedBy = events.find((e) => e.type === 'grant.issued')?.data?.decidedBy ?? [];
  const byPolicy = decidedBy.includes('policy:tier-read');
  if (audit.status !== 200 || byPolicy !== withPolicy)
    throw new Error(
      `the ${withPolicy ? 'policy' : 'plain'} broker's first grant was decided by ${JSON.stringify(decidedBy)} (${audit.status})`,
    );
  return target;
}

async function measureGrants(
  options: S1Options,
  index: number,
): Promise<{ grants: Record<GrantSeries, Summary>; warmup: Record<'policy' | 'plain', GrantWarmup> }> {
  const redis: RedisServer | null = options.store === 'redis' ? await startRedisServer() : null;
  const store = (prefix: string) => (redis ? { store: { kind: 'redis' as const, url: redis.url, keyPrefix: prefix } } : {});
  const started: BrokerChild[] = [];
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  try {
    const plainChild = await startBrokerChild({ logLevel: options.logLevel, ...store('qm-bench-s8-plain:') });
    started.push(plainChild);
    const nochainChild = await startBrokerChild({
      logLevel: options.logLevel,
      ...store('qm-bench-s8-nochain:'),
      configure: (config) => ({ ...config, audit: { chain: { enabled: false } } }),
    });
    started.push(nochainChild);
    const policyChild = await startBrokerChild({
      logLevel: options.logLevel,
      ...store('qm-bench-s8-policy:'),
      ...(options.cpuProfDir ? { cpuProfDir: options.cpuProfDir } : {}),
      configure: (config) => ({ ...config, policy: { dir: POLICY_DIR } }),
    });
    started.push(policyChild);
    const incidentId = `INC-BENCH-S8-${index + 1}`;
    const targets = {
      policy: await prepareChild(agent, policyChild, incidentId, true),
      plain: await prepareChild(agent, plainChild, incidentId, false),
      nochain: await prepareChild(agent, nochainChild, incidentId, false),
    };

    // S1's direct baseline: the jwt provider made as the catalog makes it, with the policy child's key.
    const direct = await directJwtIssue(policyChild, incidentId);

    const grant = (name: 'policy' | 'plain' | 'nochain') => {
      const t = targets[name];
      let done = 1;
      return async () => {
        const res = await httpCall(agent, t.url, 'POST', t.headers, t.body).catch(async (err: unknown) => {
          // Say whether the child is still there: a dead one is the finding, not a bench error.
          const probe = new Agent({ keepAlive: false });
          const health = await httpCall(probe, `${t.child.url}/healthz`, 'GET', {}).then(
            (r) => `answered ${r.status}`,
            (e: unknown) => `failed too (${e instanceof Error ? e.message : String(e)}): the child has exited`,
          );
          probe.destroy();
          throw new Error(
            `POST /v1/grants to the ${name} broker failed after ${done} grants (${String(err)}); its /healthz then ${health}`,
          );
        });
        if (res.status !== 201) throw new Error(`POST /v1/grants to the ${name} broker answered ${res.status}: ${res.body}`);
        done += 1;
      };
    };
    const series: Record<GrantSeries, () => Promise<void>> = {
      policy: grant('policy'),
      plain: grant('plain'),
      nochain: grant('nochain'),
      direct: direct.issue,
    };
    /** `count` calls per series in interleaved blocks; the order of the series rotates from block to block. */
    const interleaved = async (count: number): Promise<Record<GrantSeries, bigint[]>> => {
      const samples: Record<GrantSeries, bigint[]> = { policy: [], plain: [], nochain: [], direct: [] };
      for (let done = 0, block = 0; done < count; done += GRANT_BLOCK, block += 1) {
        const size = Math.min(GRANT_BLOCK, count - done);
        const order = GRANT_SERIES.map((_, i) => GRANT_SERIES[(i + block) % GRANT_SERIES.length]!);
        for (const name of order) samples[name].push(...(await timeSequential(size, series[name])));
      }
      return samples;
    };
    const warm = await interleaved(Math.max(options.warmup, GRANT_WARMUP));
    const samples = await interleaved(options.requests);
    await direct.close();
    const warmupOf = (name: 'policy' | 'plain'): GrantWarmup => ({
      firstUs: targets[name].firstUs,
      segmentsP50Us: WARMUP_SEGMENTS.map(([from, to]) => summarize(warm[name].slice(from, to)).p50Us),
    });
    return {
      grants: {
        policy: summarize(samples.policy),
        plain: summarize(samples.plain),
        nochain: summarize(samples.nochain),
        direct: summarize(samples.direct),
      },
      warmup: { policy: warmupOf('policy'), plain: warmupOf('plain') },
    };
  } finally {
    agent.destroy();
    for (const child of started.reverse()) await child.stop();
    await redis?.stop();
  }
}

export async function runS8(options: S1Options): Promise<S8Result> {
  const runs: S8Run[] = [];
  for (let i = 0; i < options.runs; i += 1) {
    process.stderr.write(`bench: s8 run ${i + 1}: decisions in process\n`);
    const decided = measureDecisions();
    process.stderr.write(`bench: s8 run ${i + 1}: grants with and without policy (${options.store} store)\n`);
    const granted = await measureGrants(options, i);
    runs.push({ decisions: decided.decisions, decisionWarmup: decided.warmup, grants: granted.grants, grantWarmup: granted.warmup });
  }
  const medianOf = <K extends string>(keys: readonly K[], pick: (r: S8Run) => Record<K, Summary>): Record<K, Summary> =>
    Object.fromEntries(keys.map((k) => [k, medianOfRuns(runs.map((r) => pick(r)[k]))])) as Record<K, Summary>;
  return {
    runs,
    median: { decisions: medianOf(DECISION_SERIES, (r) => r.decisions), grants: medianOf(GRANT_SERIES, (r) => r.grants) },
  };
}

const us1 = (v: number): string => v.toFixed(1);
const us0 = (v: number): string => v.toFixed(0);
const verdict = (value: number, limit: number, fmt: (v: number) => string): string =>
  value <= limit ? `meets (${fmt(limit - value)} µs to spare)` : `misses by ${fmt(value - limit)} µs`;

export function s8Markdown(result: S8Result, options: S1Options): string {
  const d = result.median.decisions;
  const g = result.median.grants;
  const lines: string[] = [];
  lines.push(
    `### S8 — a policy decision per grant (shipped set config/policies; jwt provider, ${options.store} store, log level ${options.logLevel})`,
  );
  lines.push('');
  lines.push(
    'The audit chain is on in the policy and plain children (the default) and off in nochain; its sealer links events off the request path.',
  );
  lines.push('');
  lines.push(
    `Decisions: ${DECISIONS} timed calls per series per run in blocks of ${DECISION_BLOCK}, after ${DECISION_WARMUP} warm-up; ` +
      `grants: ${options.requests} requests per series per run in blocks of ${GRANT_BLOCK}, ` +
      `after ${Math.max(options.warmup, GRANT_WARMUP)} warm-up (interleaved the same way); ` +
      `${options.runs} runs; each cell is the median over runs of the per-run value.`,
  );
  lines.push('');
  lines.push('| series | what | p50 µs | p99 µs | mean µs |');
  lines.push('|---|---|---:|---:|---:|');
  for (const name of DECISION_SERIES) {
    const s = d[name];
    lines.push(`| ${name} | ${DECISION_LABELS[name]} | ${us1(s.p50Us)} | ${us1(s.p99Us)} | ${us1(s.meanUs)} |`);
  }
  lines.push('');
  const shipped = ['allow-read', 'allow-remediate', 'deny-forbid', 'deny-no-permit'] as const;
  const worstP50 = Math.max(...shipped.map((n) => d[n].p50Us));
  const worstP99 = Math.max(...shipped.map((n) => d[n].p99Us));
  // Differences between series: the median over runs of each run's difference (less noisy than a difference of medians).
  const diff = (a: DecisionSeries, b: DecisionSeries) =>
    `${us1(median(result.runs.map((r) => r.decisions[a].p50Us - r.decisions[b].p50Us)))} µs`;
  lines.push('| derived (p50; differences are the median over runs of the per-run difference) | value |');
  lines.push('|---|---:|');
  lines.push(`| slowest shipped-set request, p50 | ${us1(worstP50)} µs |`);
  lines.push(`| target ≤ ${TARGET_DECISION_US} µs per decision (p50) | ${verdict(worstP50, TARGET_DECISION_US, us1)} |`);
  lines.push(`| slowest shipped-set request, p99 (against the same ${TARGET_DECISION_US} µs) | ${us1(worstP99)} µs |`);
  const fixedShare = median(result.runs.map((r) => r.decisions['one-policy'].p50Us / r.decisions['allow-read'].p50Us));
  lines.push(`| one-policy ÷ allow-read (the fixed part) | ${(fixedShare * 100).toFixed(0)} % |`);
  lines.push(`| step − allow-read (policyRequestOf and the Decision) | ${diff('step', 'allow-read')} |`);
  lines.push(`| raw − raw-novalidate (request validation) | ${diff('raw', 'raw-novalidate')} |`);
  lines.push(`| raw-novalidate − raw-noschema (schema-typed entities) | ${diff('raw-novalidate', 'raw-noschema')} |`);
  lines.push(
    `| raw-noschema − raw-empty-set (evaluating the ${Object.keys(readPolicyDir(POLICY_DIR).policies).length} policies) | ${diff('raw-noschema', 'raw-empty-set')} |`,
  );
  lines.push(`| raw-empty-set − raw-bare (3 entities + context, untyped) | ${diff('raw-empty-set', 'raw-bare')} |`);
  lines.push(`| raw-bare (a cedar-wasm call with nothing in it) | ${us1(d['raw-bare'].p50Us)} µs |`);
  lines.push('');
  lines.push('| series (grants) | p50 µs | p99 µs | mean µs |');
  lines.push('|---|---:|---:|---:|');
  lines.push(
    `| policy: POST /v1/grants, broker with \`policy.dir\` | ${us0(g.policy.p50Us)} | ${us0(g.policy.p99Us)} | ${us0(g.policy.meanUs)} |`,
  );
  lines.push(
    `| plain: POST /v1/grants, the same broker config without \`policy\` | ${us0(g.plain.p50Us)} | ${us0(g.plain.p99Us)} | ${us0(g.plain.meanUs)} |`,
  );
  lines.push(
    `| nochain: the same without \`policy\`, with \`audit.chain.enabled: false\` | ${us0(g.nochain.p50Us)} | ${us0(g.nochain.p99Us)} | ${us0(g.nochain.meanUs)} |`,
  );
  lines.push(`| direct: jwt provider issue() in-process | ${us0(g.direct.p50Us)} | ${us0(g.direct.p99Us)} | ${us0(g.direct.meanUs)} |`);
  lines.push('');
  const grantDiff = (a: GrantSeries, b: GrantSeries, stat: 'p50Us' | 'p99Us' | 'meanUs') =>
    median(result.runs.map((r) => r.grants[a][stat] - r.grants[b][stat]));
  const policyOverDirect = grantDiff('policy', 'direct', 'p50Us');
  lines.push('| derived (the median over runs of the per-run difference) | value |');
  lines.push('|---|---:|');
  lines.push(`| policy p50 − plain p50 | ${us0(grantDiff('policy', 'plain', 'p50Us'))} µs |`);
  lines.push(`| policy p99 − plain p99 | ${us0(grantDiff('policy', 'plain', 'p99Us'))} µs |`);
  lines.push(`| policy mean − plain mean | ${us0(grantDiff('policy', 'plain', 'meanUs'))} µs |`);
  lines.push(`| plain p50 − nochain p50 (the audit chain, per grant) | ${us0(grantDiff('plain', 'nochain', 'p50Us'))} µs |`);
  lines.push(`| plain mean − nochain mean | ${us0(grantDiff('plain', 'nochain', 'meanUs'))} µs |`);
  lines.push(`| plain p50 − direct p50 (S1 without policy) | ${us0(grantDiff('plain', 'direct', 'p50Us'))} µs |`);
  lines.push(`| policy p50 − direct p50 (S1 with policy) | ${us0(policyOverDirect)} µs |`);
  lines.push(`| S1 target p50 ≤ direct + 1 ms, policy and chain on | ${verdict(policyOverDirect, TARGET_S1_P50_OVERHEAD_US, us0)} |`);
  lines.push(
    `| S1 target p50 ≤ direct + 1 ms, policy off, chain on | ${verdict(grantDiff('plain', 'direct', 'p50Us'), TARGET_S1_P50_OVERHEAD_US, us0)} |`,
  );
  lines.push('');
  const segment = ([from, to]: readonly [number, number]) => `grants ${from + 2}–${to + 1} p50`;
  lines.push(`| cold start, per run | first grant after start µs | ${WARMUP_SEGMENTS.map(segment).join(' | ')} | timed p50 µs |`);
  lines.push(`|---|---:|${WARMUP_SEGMENTS.map(() => '---:|').join('')}---:|`);
  result.runs.forEach((r, i) => {
    for (const name of ['policy', 'plain'] as const) {
      const w = r.grantWarmup[name];
      lines.push(`| ${i + 1}: ${name} | ${us0(w.firstUs)} | ${w.segmentsP50Us.map(us0).join(' | ')} | ${us0(r.grants[name].p50Us)} |`);
    }
  });
  lines.push('');
  lines.push('| decisions in this process, per run (cold in run 1 only) | first `decide()` µs | ' + 'calls after it, p50 µs |');
  lines.push('|---|---:|---|');
  result.runs.forEach((r, i) => {
    const w = r.decisionWarmup;
    const spans = w.spans.map((sp) => `${sp.from + 1}–${sp.to}: ${us1(sp.p50Us)}`).join('; ');
    lines.push(`| ${i + 1} | ${us1(w.firstUs)} | ${spans}; timed: ${us1(r.decisions['allow-read'].p50Us)} |`);
  });
  lines.push('');
  lines.push(
    '| run | allow-read p50 / p99 µs | one-policy p50 µs | raw-bare p50 µs | policy p50 / p99 µs | plain p50 / p99 µs | direct p50 µs | policy − plain p50 µs |',
  );
  lines.push('|---|---:|---:|---:|---:|---:|---:|---:|');
  result.runs.forEach((r, i) => {
    const rd = r.decisions;
    const rg = r.grants;
    lines.push(
      `| ${i + 1} | ${us1(rd['allow-read'].p50Us)} / ${us1(rd['allow-read'].p99Us)} | ${us1(rd['one-policy'].p50Us)} | ${us1(rd['raw-bare'].p50Us)} | ` +
        `${us0(rg.policy.p50Us)} / ${us0(rg.policy.p99Us)} | ${us0(rg.plain.p50Us)} / ${us0(rg.plain.p99Us)} | ${us0(rg.direct.p50Us)} | ` +
        `${us0(rg.policy.p50Us - rg.plain.p50Us)} |`,
    );
  });
  return lines.join('\n');
}
