/**
 * The close flow (incidents/close_incident.ts) around its kill at close: the close returns, with
 * its audit event and the approvals sweep done, while the kill is in flight; this replica's worker
 * is woken, and the report the route renders may go ahead, once the kill has settled or
 * KILL_HEAD_START_MS has passed, so nothing else on the event loop holds back its provider calls.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { DomainDeps } from '../../src/domain.js';
import { issueGrant } from '../../src/grants/issue_grant.js';
import { closeIncident, KILL_HEAD_START_MS } from '../../src/incidents/close_incident.js';
import { createAuditLog } from '../../src/audit/audit_log.js';
import type { Store } from '../../src/store/store.js';
import { agent, createGrantWorld, INCIDENT, request, type GrantWorld } from '../grants/grant_world.js';

interface HeldKill {
  readonly begun: Array<[string, number]>;
  release(): void;
}

function heldKill(w: Pick<GrantWorld, 'deps'>): { deps: DomainDeps; kill: HeldKill } {
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

  it('answers and audits while the kill runs, and wakes the worker and frees the report only once it has settled', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const w = await createGrantWorld();
    await issueGrant(w.deps, agent, request);
    const { deps, kill } = heldKill(w);
    // A caller applying many closes (the webhook inbox) is never held up by a provider.
    const outcome = await closeIncident(deps, INCIDENT, 'op');
    expect(outcome).toMatchObject({ closedNow: true, revoking: [expect.any(String)] });
    expect(kill.begun).toEqual([[INCIDENT, w.now]]);
    expect((await w.auditTrail()).map(([type]) => type)).toContain('incident.closed');
    let headStartOver = false;
    void outcome.killHeadStart.then(() => (headStartOver = true));
    await turns(20);
    expect(w.nudges).toBe(0);
    expect(headStartOver).toBe(false);
    kill.release();
    await outcome.killHeadStart;
    await turns(1);
    expect(w.nudges).toBe(1);
    // The head start's timer went with the kill.
    expect(vi.getTimerCount()).toBe(0);
  });

  it('stops waiting for a kill that hangs after the head start', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const w = await createGrantWorld();
    await issueGrant(w.deps, agent, request);
    const { deps, kill } = heldKill(w);
    const outcome = await closeIncident(deps, INCIDENT, 'op');
    let headStartOver = false;
    void outcome.killHeadStart.then(() => (headStartOver = true));
    await vi.advanceTimersByTimeAsync(KILL_HEAD_START_MS - 1);
    expect(headStartOver).toBe(false);
    expect(w.nudges).toBe(0);
    await vi.advanceTimersByTimeAsync(1);
    expect(headStartOver).toBe(true);
    expect(w.nudges).toBe(1);
    // The kill never settled and leaves no timer behind.
    expect(kill.begun).toHaveLength(1);
    expect(vi.getTimerCount()).toBe(0);
  });

  it("stamps the kill and the audit event with the close's own time, and audits how many grants it turned to revoking", async () => {
    const w = await createGrantWorld();
    await issueGrant(w.deps, agent, request);
    await issueGrant(w.deps, agent, { ...request, purpose: 'second task' });
    const closedAt = w.now;
    // The clock moves on while the store records the close: nothing after it may restamp the close.
    const store: Store = {
      ...w.store,
      closeIncident: async (...args) => {
        const result = await w.store.closeIncident(...args);
        w.now += 5000;
        return result;
      },
    };
    const { deps, kill } = heldKill({ ...w, deps: { ...w.deps, store, audit: createAuditLog(store, w.deps.logger) } });
    await closeIncident(deps, INCIDENT, 'op');
    expect(kill.begun).toEqual([[INCIDENT, closedAt]]);
    const [closed] = (await w.store.listAudit({ incidentId: INCIDENT, limit: 100 })).filter((e) => e.type === 'incident.closed');
    expect(closed).toMatchObject({ at: closedAt, actor: 'op', data: { grantsToRevoke: 2 } });
    kill.release();
  });

  it('closes and kills even when the approvals cannot be cancelled now, and says the sweep will', async () => {
    const w = await createGrantWorld();
    await issueGrant(w.deps, agent, request);
    const store: Store = {
      ...w.store,
      listIncidentRecords: async () => {
        throw new Error('redis: connection lost');
      },
    };
    const { deps, kill } = heldKill({ deps: { ...w.deps, store } });
    await expect(closeIncident(deps, INCIDENT, 'op')).resolves.toMatchObject({ closedNow: true });
    expect(kill.begun).toHaveLength(1);
    const warned = w.logs.lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(warned.map((l) => [l.level, l.msg, l.incidentId])).toContainEqual([
      'warn',
      'approvals of the closed incident not cancelled yet; the sweep will',
      INCIDENT,
    ]);
    expect(warned.find((l) => l.incidentId === INCIDENT)?.err).toContain('connection lost');
    kill.release();
  });

  it('refuses an incident the store does not know, and begins no kill', async () => {
    const w = await createGrantWorld();
    const { deps, kill } = heldKill(w);
    await expect(closeIncident(deps, 'INC-NOBODY', 'op')).rejects.toMatchObject({ code: 'ERR_INCIDENT_NOT_FOUND', status: 404 });
    expect(kill.begun).toEqual([]);
  });

  it('wakes the worker at once when no provider kills, and neither kills nor wakes it for a close with nothing to revoke', async () => {
    const w = await createGrantWorld();
    await issueGrant(w.deps, agent, request);
    // The grant world's deps have no kill at close: the worker is woken before the close returns.
    const outcome = await closeIncident(w.deps, INCIDENT, 'op');
    expect(w.nudges).toBe(1);
    await expect(outcome.killHeadStart).resolves.toBeUndefined();

    const empty = await createGrantWorld();
    const { deps, kill } = heldKill(empty);
    await expect(closeIncident(deps, INCIDENT, 'op')).resolves.toMatchObject({ closedNow: true, revoking: [] });
    expect(kill.begun).toEqual([]);
    expect(empty.nudges).toBe(0);
  });
});
