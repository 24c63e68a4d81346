/**
 * The bench's summary rows (bench/summary.ts): each target read the way docs/performance.md states
 * it, on hand-made results, at and just past its line.
 */
import { describe, expect, it } from 'vitest';
import { s1Rows, s2Rows, s5Rows, s6Rows, summaryMarkdown, vaultS4Rows } from '../../bench/summary.js';
import type { S1Result } from '../../bench/s1_issue.js';
import type { S2Result } from '../../bench/s2_capacity.js';
import type { S4Run } from '../../bench/vault_s4.js';
import type { S5Run } from '../../bench/s5_during_close.js';

const summary = (p50Us: number, p99Us = p50Us) => ({ n: 100, p50Us, p99Us, meanUs: p50Us });
const s1 = (broker: number, direct: number, brokerP99 = broker, directP99 = direct): S1Result => {
  const run = { broker: summary(broker, brokerP99), direct: summary(direct, directP99), healthz: summary(100) };
  return { runs: [run], median: run };
};

describe('bench summary', () => {
  it('reads S1 as p50 within direct + 1 ms and p99 within direct + 5 ms', () => {
    const [p50, p99] = s1Rows(s1(1050, 50, 5050, 50), 'redis');
    expect([p50!.status, p99!.status]).toEqual(['met', 'met']);
    expect(p50!.compared?.text).toBe('+1000 µs (21.00×)');
    const [p50Past, p99Past] = s1Rows(s1(1051, 50, 5051, 50), 'redis');
    expect([p50Past!.status, p99Past!.status]).toEqual(['missed', 'missed']);
  });

  it('reads S4 for Vault: dead and confirmed each within 1.25× their baseline, O(1) revoke calls', () => {
    const run: S4Run = {
      brokerDeadMs: 12.5,
      brokerReportMs: 1250,
      brokerWallMs: 1300,
      brokerCalls: { 'auth/token/revoke-accessor': 1, 'auth/token/lookup-accessor': 1000 },
      perGrantMs: 400,
      perGrantCalls: 1500,
      providerMs: 1000,
      parentOnlyMs: 10,
    };
    expect(vaultS4Rows([run], 1000).map((r) => r.status)).toEqual(['met', 'met', 'met']);
    const slow = { ...run, brokerDeadMs: 12.6, brokerReportMs: 1251, brokerCalls: { 'auth/token/revoke-accessor': 3 } };
    expect(vaultS4Rows([slow], 1000).map((r) => r.status)).toEqual(['missed', 'missed', 'missed']);
  });

  it('reads S2 at about half the knee: CPU within 3× the floor, p99 within direct + 5 ms', () => {
    const step = (rate: number, cpu: number, p99Ms: number) => ({
      rate,
      load: { offered: rate, ok: rate, statuses: {}, errors: 0, p50Ms: 1, p99Ms, maxMs: p99Ms, elapsedMs: 1000, maxSendLagMs: 1 },
      cpuPerIssuanceUs: cpu,
      cpuCores: 0.5,
      keptUp: true,
    });
    const result: S2Result = {
      provider: 'jwt',
      steps: [step(100, 900, 5), step(200, 600, 5.1), step(400, 500, 9)],
      kneeRate: 400,
      halfLoad: step(200, 600, 5.1),
      floor: { verifyUs: 100, httpHopUs: 80, redisWriteUs: 20, providerCallUs: null, totalUs: 200 },
      directP99Us: 100,
      stepSeconds: 1,
    };
    const [knee, cpu, p99] = s2Rows(result, 'redis');
    expect(knee).toMatchObject({ value: 400, status: 'reported' });
    expect(cpu).toMatchObject({ value: 600, status: 'met', compared: { text: '3.00×' } });
    expect(p99).toMatchObject({ scenario: 'S1', status: 'met' });
    const past = s2Rows({ ...result, halfLoad: step(200, 601, 5.2) }, 'redis');
    expect(past.map((r) => r.status)).toEqual(['reported', 'missed', 'missed']);
    // No step kept up: only the knee row, at 0.
    expect(s2Rows({ ...result, steps: [], kneeRate: 0, halfLoad: null }, 'redis')).toHaveLength(1);
    // A provider's own client call is part of its floor, and the rows name the provider.
    const vault = s2Rows({ ...result, provider: 'vault', floor: { ...result.floor, providerCallUs: 100, totalUs: 300 } }, 'redis');
    expect(vault[1]).toMatchObject({ provider: 'vault', compared: { text: '2.00×' }, status: 'met' });
    expect(vault[1]!.baseline?.name).toBe('floor: raw verify + HTTP hop + Redis write + provider call');
  });

  it('reads S5 as the p99 during the close within 2× the p99 alone, on the store its provider runs on', () => {
    const run = (aloneP99: number, duringP99: number): S5Run => ({
      provider: 'jwt',
      grants: 10_000,
      alone: { broker: summary(1000, aloneP99), direct: summary(50) },
      during: { broker: summary(1500, duringP99), direct: summary(50) },
      closeMs: 2000,
    });
    const [met] = s5Rows([run(4000, 8000)]);
    expect(met).toMatchObject({ scenario: 'S5', provider: 'jwt', store: 'redis', status: 'met', compared: { text: '2.00×' } });
    expect(met!.measure).toBe('issue p99 while a close of 10000 is revoked');
    expect(s5Rows([run(4000, 8001)])[0]!.status).toBe('missed');
    expect(s5Rows([{ ...run(4000, 8000), provider: 'aws_sts' }])[0]).toMatchObject({ provider: 'aws_sts', store: 'redis' });
    expect(s5Rows([{ ...run(4000, 8000), provider: 'vault' }])[0]).toMatchObject({ provider: 'vault', store: 'memory' });
    expect(s5Rows([])).toEqual([]);
  });

  it('prints one table, by scenario, counting met and missed', () => {
    const rows = [
      ...s6Rows([{ grants: 1000, bytesPerGrant: 900, parts: { 'audit log': 250, 'incident audit index': 50 } }]),
      ...s1Rows(s1(500, 50), 'memory'),
    ];
    const text = summaryMarkdown(rows);
    expect(text).toContain('2 met, 1 missed, 0 reported only.');
    const lines = text.split('\n').filter((l) => l.startsWith('| S'));
    expect(lines.map((l) => l.split('|')[1]!.trim())).toEqual(['S1', 'S1', 'S6']);
    expect(lines[2]).toContain('| 600 B |');
    expect(lines[2]).toContain('**missed**');
  });
});
