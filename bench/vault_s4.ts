/**
 * S4 for Vault (docs/performance.md): revoke an incident of N grants (1000, or --grants; half child tokens, half
 * dynamic database secrets). Measured in the same run, each on its own incident of N grants:
 *  - broker: POST close → every grant `revoked` (the broker's own close_to_all_revoked_ms, and the
 *    wall time seen by polling), with the Vault calls the fake counted during the close;
 *  - direct, per grant: the same revocations sent straight to the fake at the broker's revocation
 *    concurrency (16): sys/leases/revoke (sync) for each lease, revoke-accessor for each token;
 *  - direct, provider: the provider's revokeIncident in this process (parent revoke + receipts);
 *  - direct, one parent revoke: a single revoke-accessor of the incident's parent.
 */
import { readFileSync } from 'node:fs';
import type { Agent } from 'node:http';
import { randomBytes } from 'node:crypto';
import { runLimited } from '../src/revocation/revoke_jobs.js';
import type { GrantRef } from '../src/sdk.js';
import { AGENT_ISSUER } from '../test/support/test_config.js';
import { httpCall, type LogLevel } from './broker_child.js';
import { median } from './stats.js';
import type { FakeVaultChild } from './vault_fake_child.js';
import { AGENT_ID, directSignal, profileParams, startVaultBench, type VaultBench } from './vault_setup.js';

const DEFAULT_GRANTS = 1000;
const CONCURRENCY = 16;
const POLL_MS = 250;

export interface VaultS4Options {
  readonly runs: number;
  readonly logLevel: LogLevel;
  readonly cpuProfDir?: string;
  readonly confirmConcurrency?: number;
  readonly receiptLanes?: number;
  readonly vaultLatencyMs?: number;
  readonly grants?: number;
}

export interface S4Run {
  /** POST close sent → the fake handled the first revoke-accessor (the parent's): every credential dead. */
  readonly brokerDeadMs: number;
  readonly brokerReportMs: number;
  readonly brokerWallMs: number;
  readonly brokerCalls: Record<string, number>;
  readonly perGrantMs: number;
  readonly perGrantCalls: number;
  readonly providerMs: number;
  readonly parentOnlyMs: number;
}

const elapsedMs = (start: bigint): number => Number(process.hrtime.bigint() - start) / 1e6;

async function runOnce(options: VaultS4Options, index: number): Promise<S4Run> {
  const n = options.grants ?? DEFAULT_GRANTS;
  // Broker: N grants over HTTP, then close and wait for all revoked.
  const bench = await startVaultBench({
    latencyMs: options.vaultLatencyMs ?? 0,
    logLevel: options.logLevel,
    maxSockets: CONCURRENCY,
    incidentId: `INC-BENCH-VS4-${index}`,
    ...(options.cpuProfDir ? { cpuProfDir: options.cpuProfDir } : {}),
    ...(options.confirmConcurrency === undefined ? {} : { confirmConcurrency: options.confirmConcurrency }),
    ...(options.receiptLanes === undefined ? {} : { receiptLanes: options.receiptLanes }),
  });
  const { fake, broker, provider, http: agent, incidentId, operatorHeaders: opHeaders } = bench;
  try {
    await runLimited([...Array(n).keys()], 8, async (i) => {
      const body = JSON.stringify({ incident_id: incidentId, profile: i % 2 ? 'db-read' : 'vault-read', purpose: 'bench' });
      const res = await httpCall(agent, `${broker.url}/v1/grants`, 'POST', bench.agentHeaders, body);
      if (res.status !== 201) throw new Error(`grant answered ${res.status}: ${res.body}`);
    });
    await fake.resetCounts();
    const startEpoch = performance.timeOrigin + performance.now();
    const start = process.hrtime.bigint();
    const closed = await httpCall(agent, `${broker.url}/v1/incidents/${incidentId}/close`, 'POST', opHeaders);
    if (closed.status !== 202) throw new Error(`close answered ${closed.status}`);
    let report: { revocation: { by_state: { revoked: number }; close_to_all_revoked_ms: number | null; confirmed: number } };
    for (;;) {
      const res = await httpCall(agent, `${broker.url}/v1/incidents/${incidentId}?grants=false`, 'GET', opHeaders);
      report = JSON.parse(res.body) as typeof report;
      if (report.revocation.by_state.revoked === n) break;
      if (elapsedMs(start) > 120_000) throw new Error('close did not finish within 120 s');
      // The report without the grant list (?grants=false), as a dashboard polls it: rendering all N
      // grants on every poll slowed the close it measures (docs/performance.md).
      await new Promise((r) => setTimeout(r, POLL_MS));
    }
    const brokerWallMs = elapsedMs(start);
    if (report.revocation.confirmed !== n) throw new Error(`only ${report.revocation.confirmed} of ${n} confirmed`);
    const brokerCalls = await fake.counts();
    const deadAt = (await fake.firstHandledAt())['auth/token/revoke-accessor'];
    if (deadAt === undefined) throw new Error('the close revoked no parent token');

    const perGrant = await timedDirectPerGrant(fake, agent, provider, `INC-BENCH-VS4-DIRECT-${index}`, n);
    const providerMs = await timedProviderClose(provider, `INC-BENCH-VS4-PROVIDER-${index}`, n);
    const parentOnlyMs = await timedParentOnly(fake, agent, provider, `INC-BENCH-VS4-PARENT-${index}`, n);
    return {
      brokerDeadMs: deadAt - startEpoch,
      brokerReportMs: report.revocation.close_to_all_revoked_ms ?? NaN,
      brokerWallMs,
      brokerCalls,
      perGrantMs: perGrant.ms,
      perGrantCalls: perGrant.calls,
      providerMs,
      parentOnlyMs,
    };
  } finally {
    await bench.stop();
  }
}

type DirectProvider = VaultBench['provider'];

async function issueDirect(provider: DirectProvider, incidentId: string, n: number): Promise<GrantRef[]> {
  const refs: GrantRef[] = [];
  const signal = directSignal();
  await runLimited([...Array(n).keys()], 8, async (i) => {
    const name = i % 2 ? 'db-read' : 'vault-read';
    const grantId = `grt_${randomBytes(12).toString('base64url')}`;
    const issued = await provider.issue({
      grantId,
      incidentId,
      agent: { id: AGENT_ID, issuer: AGENT_ISSUER },
      profile: { name, params: profileParams(name) },
      ttlSeconds: 300,
      purpose: 'bench',
      signal,
    });
    refs.push({ grantId, incidentId, handle: issued.handle, expiresAt: issued.expiresAt });
  });
  return refs;
}

async function timedDirectPerGrant(
  fake: FakeVaultChild,
  agent: Agent,
  provider: DirectProvider,
  incidentId: string,
  n: number,
): Promise<{ ms: number; calls: number }> {
  const refs = await issueDirect(provider, incidentId, n);
  const headers = { 'x-vault-token': readFileSync(fake.brokerTokenFile, 'utf8').trim(), 'content-type': 'application/json' };
  let calls = 0;
  const start = process.hrtime.bigint();
  await runLimited(refs, CONCURRENCY, async (ref) => {
    if (typeof ref.handle.leaseId === 'string') {
      const res = await httpCall(
        agent,
        `${fake.url}/v1/sys/leases/revoke`,
        'PUT',
        headers,
        JSON.stringify({ lease_id: ref.handle.leaseId, sync: true }),
      );
      calls += 1;
      if (res.status !== 204) throw new Error(`lease revoke answered ${res.status}`);
    }
    const res = await httpCall(
      agent,
      `${fake.url}/v1/auth/token/revoke-accessor`,
      'POST',
      headers,
      JSON.stringify({ accessor: ref.handle.accessor }),
    );
    calls += 1;
    if (res.status !== 204) throw new Error(`revoke-accessor answered ${res.status}`);
  });
  return { ms: elapsedMs(start), calls };
}

async function timedProviderClose(provider: DirectProvider, incidentId: string, n: number): Promise<number> {
  const refs = await issueDirect(provider, incidentId, n);
  const start = process.hrtime.bigint();
  const receipts = await provider.revokeIncident!({ incidentId, grants: refs, signal: directSignal() });
  const ms = elapsedMs(start);
  if (receipts.filter((r) => r.confirmed).length !== n) throw new Error('provider close left grants unconfirmed');
  return ms;
}

async function timedParentOnly(
  fake: FakeVaultChild,
  agent: Agent,
  provider: DirectProvider,
  incidentId: string,
  n: number,
): Promise<number> {
  const refs = await issueDirect(provider, incidentId, n);
  const headers = { 'x-vault-token': readFileSync(fake.brokerTokenFile, 'utf8').trim(), 'content-type': 'application/json' };
  const start = process.hrtime.bigint();
  const res = await httpCall(
    agent,
    `${fake.url}/v1/auth/token/revoke-accessor`,
    'POST',
    headers,
    JSON.stringify({ accessor: refs[0]?.handle.parentAccessor }),
  );
  const ms = elapsedMs(start);
  if (res.status !== 204) throw new Error(`parent revoke answered ${res.status}`);
  return ms;
}

export async function runVaultS4(options: VaultS4Options): Promise<S4Run[]> {
  const runs: S4Run[] = [];
  for (let i = 0; i < options.runs; i += 1) runs.push(await runOnce(options, i));
  return runs;
}

const ms = (v: number): string => v.toFixed(v < 10 ? 2 : 0);

export function vaultS4Markdown(runs: S4Run[], options: VaultS4Options): string {
  const n = options.grants ?? DEFAULT_GRANTS;
  const m = (pick: (r: S4Run) => number): number => median(runs.map(pick));
  const broker = m((r) => r.brokerReportMs);
  const perGrant = m((r) => r.perGrantMs);
  const provider = m((r) => r.providerMs);
  const calls = runs[0]?.brokerCalls ?? {};
  const callText = Object.entries(calls)
    .sort()
    .map(([k, v]) => `${k} ${v}`)
    .join(', ');
  const lines = [
    `### S4 — revoke an incident of ${n} Vault grants (half tokens, half database leases; fake Vault in its own process; log level ${options.logLevel})`,
    '',
    `${options.runs} runs; medians over runs. Broker revocation settings are the production defaults (batch 64, concurrency 16); Vault confirmConcurrency ${options.confirmConcurrency ?? 16}, receipt lanes while serving ${options.receiptLanes ?? 2}; fake Vault latency ${options.vaultLatencyMs ?? 0} ms per request.`,
    '',
    '| series | ms | Vault calls |',
    '|---|---:|---|',
    `| broker: POST close sent → **dead** (the fake handled the parent's revoke-accessor: every child token and lease gone) | ${ms(m((r) => r.brokerDeadMs))} | |`,
    `| broker: close → all ${n} revoked and confirmed (report close_to_all_revoked_ms) | ${ms(broker)} | ${callText} |`,
    `| broker: the same, wall time seen by polling every ${POLL_MS} ms | ${ms(m((r) => r.brokerWallMs))} | |`,
    `| direct, per grant: the same revocations sent to the fake, concurrency ${CONCURRENCY} | ${ms(perGrant)} | ${runs[0]?.perGrantCalls ?? 0} revokes |`,
    `| direct, provider: revokeIncident in-process (parent revoke + ${n} receipts) | ${ms(provider)} | |`,
    `| direct, one parent-token revoke (Vault cascades to ${n} children and their leases) | ${ms(m((r) => r.parentOnlyMs))} | 1 revoke |`,
    '',
    '| derived | value |',
    '|---|---:|',
    `| broker dead / one parent revoke direct | ${(m((r) => r.brokerDeadMs) / m((r) => r.parentOnlyMs)).toFixed(2)}× (target ≤ 1.25×) |`,
    `| broker confirmed / direct per grant | ${(broker / perGrant).toFixed(2)}× |`,
    `| broker / provider revokeIncident | ${(broker / provider).toFixed(2)}× |`,
    `| revoke calls for the close | ${(calls['auth/token/revoke-accessor'] ?? 0) + (calls['sys/leases/revoke'] ?? 0)} (O(1): one per parent token) |`,
    '',
    '| run | broker dead ms | broker confirmed ms | per grant ms | provider ms | parent only ms |',
    '|---|---:|---:|---:|---:|---:|',
    ...runs.map(
      (r, i) =>
        `| ${i + 1} | ${ms(r.brokerDeadMs)} | ${ms(r.brokerReportMs)} | ${ms(r.perGrantMs)} | ${ms(r.providerMs)} | ${ms(r.parentOnlyMs)} |`,
    ),
  ];
  return lines.join('\n');
}
