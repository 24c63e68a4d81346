/**
 * The close flow (incidents/close_incident.ts) around its kill at close: the close's own audit
 * event and the approvals sweep run while the kill is in flight; the worker (and the report the
 * route answers next) wait for the kill, up to KILL_HEAD_START_MS, so nothing else on the event
 * loop holds back its provider calls.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { DomainDeps } from '../../src/domain.js';
import { issueGrant } from '../../src/grants/issue_grant.js';
import { closeIncident, KILL_HEAD_START_MS } from '../../src/incidents/close_incident.js';
import { agent, createGrantWorld, INCIDENT, request, type GrantWorld } from '../grants/grant_world.js';

interface HeldKill {
  readonly begun: Array<[string, number]>;
  release(): void;
}

function heldKill(w: GrantWorld): { deps: DomainDeps; kill: HeldKill } {
  let release: () => void = () => undefined;
  const settles = new Promise<void>((resolve) => (release = resolve));
  const begun: Array<[string, number]> = [];
  const deps: DomainDeps = {
    ...w.deps,
    incidentKill: {
      begin: (id, at) => {
        begun.push([id, at]);
        return settles;
      },
    },
  };
  return { deps, kill: { begun, release: () => release() } };
}

const turns = async (n: number): Promise<void> => {
  for (let i = 0; i < n; i++) await new Promise((r) => setImmediate(r));
};

describe('closing an incident with a kill at close', () => {
  afterEach(() => vi.useRealTimers());

  it('audits the close while the kill runs, and wakes the worker only once the kill has settled', async () => {
    const w = await createGrantWorld();
    await issueGrant(w.deps, agent, request);
    const { deps, kill } = heldKill(w);
    let closed = false;
    const closing = closeIncident(deps, INCIDENT, 'op').then((r) => ((closed = true), r));
    await turns(20);
    expect(kill.begun).toEqual([[INCIDENT, w.now]]);
    // The close is recorded and audited already; the worker has not been woken, the close not answered.
    expect((await w.auditTrail()).map(([type]) => type)).toContain('incident.closed');
    expect(w.nudges).toBe(0);
    expect(closed).toBe(false);
    kill.release();
    await expect(closing).resolves.toMatchObject({ closedNow: true, revoking: [expect.any(String)] });
    expect(w.nudges).toBe(1);
  });

  it('stops waiting for a kill that hangs after the head start', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const w = await createGrantWorld();
    await issueGrant(w.deps, agent, request);
    const { deps, kill } = heldKill(w);
    let closed = false;
    const closing = closeIncident(deps, INCIDENT, 'op').then(() => (closed = true));
    await turns(20);
    await vi.advanceTimersByTimeAsync(KILL_HEAD_START_MS - 1);
    expect(closed).toBe(false);
    expect(w.nudges).toBe(0);
    await vi.advanceTimersByTimeAsync(1);
    await closing;
    expect(w.nudges).toBe(1);
    // The kill never settled and leaves no timer behind.
    expect(kill.begun).toHaveLength(1);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('neither kills nor wakes the worker for a close with nothing to revoke', async () => {
    const w = await createGrantWorld();
    const { deps, kill } = heldKill(w);
    await expect(closeIncident(deps, INCIDENT, 'op')).resolves.toMatchObject({ closedNow: true, revoking: [] });
    expect(kill.begun).toEqual([]);
    expect(w.nudges).toBe(0);
  });
});
