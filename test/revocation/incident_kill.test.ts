/**
 * The kill at close (src/revocation/incident_kill.ts) over a catalog of providers that kill,
 * find nothing, fail or cannot kill at all: who is asked, what is counted and logged, and that
 * settled() waits for every kill begun.
 */
import { describe, expect, it } from 'vitest';
import { BrokerError } from '../../src/errors.js';
import { createLogger } from '../../src/logging.js';
import { createMetrics } from '../../src/metrics.js';
import { createIncidentKill } from '../../src/revocation/incident_kill.js';
import type { KillIncidentRequest, Provider } from '../../src/sdk.js';
import { createLogCapture } from '../support/log_capture.js';

type Kill = (req: KillIncidentRequest) => Promise<boolean>;

const provider = (name: string, kill: Kill | undefined, incidentRevocation = true): Provider =>
  ({
    name,
    capabilities: { grantRevocation: 'upstream', incidentRevocation, minTtlSeconds: 1, maxTtlSeconds: 3600 },
    ...(kill ? { killIncident: kill } : {}),
  }) as unknown as Provider;

function world(providers: Provider[], now: () => number) {
  const metrics = createMetrics({ defaultMetrics: false });
  const logs = createLogCapture();
  const asked: string[] = [];
  const catalog = {
    providers: () => providers,
    killIncident: (p: Provider, req: { incidentId: string }) => {
      asked.push(`${p.name}:${req.incidentId}`);
      return (p.killIncident as Kill)({ ...req, signal: new AbortController().signal });
    },
  };
  const kill = createIncidentKill({ catalog, metrics, logger: createLogger({ level: 'info', destination: logs }), now });
  const counted = async (): Promise<Record<string, number>> => {
    const metric = await metrics.registry.getSingleMetric('quartermaster_incident_kill_seconds')?.get();
    const out: Record<string, number> = {};
    for (const v of (metric?.values ?? []) as Array<{ metricName?: string; labels: Record<string, string | number>; value: number }>) {
      if (v.metricName === 'quartermaster_incident_kill_seconds_count') out[`${v.labels.provider}:${v.labels.outcome}`] = v.value;
      if (v.metricName === 'quartermaster_incident_kill_seconds_sum') out[`${v.labels.provider}:${v.labels.outcome}:sum`] = v.value;
    }
    return out;
  };
  return { kill, asked, logs, counted };
}

describe('the kill at close', () => {
  it('asks every provider that can kill, counts each outcome from the close, and logs only what it ended or what failed', async () => {
    const now = 10_000;
    const w = world(
      [
        provider('vault', async () => true),
        provider('aws_sts', async () => false),
        provider('jwt', undefined),
        provider('undeclared', async () => true, false),
        provider('broken', async () => {
          throw new BrokerError('ERR_PROVIDER_UNAVAILABLE', 503, 'credential provider unavailable', { detail: 'vault sealed' });
        }),
      ],
      () => now,
    );
    w.kill.begin('INC-1', now - 250);
    await w.kill.settled();

    expect(w.asked).toEqual(['vault:INC-1', 'aws_sts:INC-1', 'broken:INC-1']);
    expect(await w.counted()).toEqual({
      'vault:killed': 1,
      'vault:killed:sum': 0.25,
      'aws_sts:nothing': 1,
      'aws_sts:nothing:sum': 0.25,
      'broken:failed': 1,
      'broken:failed:sum': 0.25,
    });
    const lines = w.logs.lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.filter((l) => l.msg === 'incident killed upstream at close').map((l) => [l.provider, l.incidentId])).toEqual([
      ['vault', 'INC-1'],
    ]);
    const failed = lines.filter((l) => l.msg === 'kill at close failed; the revocation queue revokes every grant of the incident');
    expect(failed.map((l) => [l.level, l.provider, l.incidentId, l.code, l.detail])).toEqual([
      ['warn', 'broken', 'INC-1', 'ERR_PROVIDER_UNAVAILABLE', 'vault sealed'],
    ]);
  });

  it('never waits in begin, and settled() waits for every kill in flight, then for none', async () => {
    let release: (killed: boolean) => void = () => undefined;
    const slow = new Promise<boolean>((resolve) => (release = resolve));
    const w = world([provider('vault', () => slow)], () => 1000);
    w.kill.begin('INC-2', 1000);
    let settled = false;
    const waiting = w.kill.settled().then(() => (settled = true));
    await new Promise((r) => setImmediate(r));
    expect(settled).toBe(false);
    expect(await w.counted()).toEqual({});
    release(true);
    await waiting;
    expect(await w.counted()).toMatchObject({ 'vault:killed': 1 });
    // Nothing left in flight: settled() resolves at once.
    await w.kill.settled();
    w.kill.begin('INC-3', 1000);
    await w.kill.settled();
    expect(await w.counted()).toMatchObject({ 'vault:killed': 2 });
  });

  it("begin's promise settles once this incident's kills have, and resolves when one fails", async () => {
    let release: (killed: boolean) => void = () => undefined;
    const slow = new Promise<boolean>((resolve) => (release = resolve));
    const failing = async (): Promise<boolean> => {
      throw new BrokerError('ERR_PROVIDER_UNAVAILABLE', 503, 'credential provider unavailable');
    };
    const w = world([provider('vault', () => slow), provider('broken', failing)], () => 1000);
    let done = false;
    const begun = w.kill.begin('INC-5', 1000).then(() => (done = true));
    await new Promise((r) => setImmediate(r));
    // The failed kill has settled; the slow one has not, so neither has the incident's.
    expect(await w.counted()).toEqual({ 'broken:failed': 1, 'broken:failed:sum': 0 });
    expect(done).toBe(false);
    release(true);
    await begun;
    expect(await w.counted()).toMatchObject({ 'vault:killed': 1, 'broken:failed': 1 });
    // With no provider that kills, there is nothing to wait for.
    await expect(world([provider('jwt', undefined)], () => 1000).kill.begin('INC-6', 1000)).resolves.toBeUndefined();
  });

  it('counts no time before the close: a clock behind the close stamp observes zero', async () => {
    const w = world([provider('vault', async () => true)], () => 500);
    w.kill.begin('INC-4', 900);
    await w.kill.settled();
    expect(await w.counted()).toEqual({ 'vault:killed': 1, 'vault:killed:sum': 0 });
  });
});
