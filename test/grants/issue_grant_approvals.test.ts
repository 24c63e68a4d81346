/**
 * The issue flow's approval, break-glass and tier steps in process (grant_world.ts): a profile
 * whose rule asks for approval answers pending_approval (counted and announced once, asked again
 * it answers the same request), a quarantined agent asks no human for anything, a grant under
 * major-incident mode is marked for its end and the report, and the incident learns each tier it
 * had a grant of once.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { OPEN_APPROVALS, readApproval, type Approval } from '../../src/approvals/approval.js';
import { collectApproval } from '../../src/approvals/collect_approval.js';
import { decideApproval } from '../../src/approvals/decide_approval.js';
import { quarantineAgent } from '../../src/agents/quarantine.js';
import type { Catalog, ProfileEntry } from '../../src/catalog/catalog.js';
import type { DomainDeps } from '../../src/domain.js';
import { MAJOR_GRANTS } from '../../src/incidents/major_mode.js';
import { issueGrant } from '../../src/grants/issue_grant.js';
import type { Store } from '../../src/store/store.js';
import { agent, agentNamed, createGrantWorld, INCIDENT, issuedOf, request, T0, type GrantWorld } from './grant_world.js';

let w: GrantWorld;
beforeEach(async () => {
  w = await createGrantWorld();
});

/** The world's deps with profile `p` asking for approval, and a notifier that records what it was told. */
function withApproval(): { deps: DomainDeps; notified: Approval[] } {
  const real = w.deps.catalog.profile('p') as ProfileEntry;
  const asking: ProfileEntry = {
    ...real,
    config: { ...real.config, approval: { approvers: ['ir-lead'], quorum: 2, expiresSeconds: 300 } },
  };
  const catalog: Catalog = { ...w.deps.catalog, profile: (name) => (name === 'p' ? asking : w.deps.catalog.profile(name)) };
  const notified: Approval[] = [];
  return { deps: { ...w.deps, catalog, approvalNotifier: { requested: (a) => notified.push(a) } }, notified };
}
const requested = async (deps: DomainDeps) =>
  (await deps.metrics.registry.getSingleMetricAsString('quartermaster_approvals_total')).match(/outcome="requested"\} (\d+)/u)?.[1] ?? '0';

describe('a grant its profile holds for approval', () => {
  it('waits as an approval, counted and announced once; asked again, it answers the same one', async () => {
    const { deps, notified } = withApproval();
    const first = await issueGrant(deps, agent, request);
    if (first.status !== 'pending_approval') throw new Error('expected an approval');
    expect(first.approval).toMatchObject({
      state: 'pending',
      agent: agent.id,
      profile: 'p',
      rule: { approvers: ['ir-lead'], quorum: 2, from: ['profiles.p.approval'] },
      expiresAt: T0 + 300_000,
    });
    expect(w.upstream.issueCalls).toEqual([]);
    const again = await issueGrant(deps, agent, { ...request, purpose: 'again' });
    expect(again).toEqual(first);
    expect([await requested(deps), notified.map((a) => a.id)]).toEqual(['1', [first.approval.id]]);
  });

  it('asks no human for a quarantined agent', async () => {
    const { deps, notified } = withApproval();
    expect((await issueGrant(deps, { ...agent, id: 'spiffe://dev.local/agent/other' }, request)).status).toBe('pending_approval');
    await quarantineAgent(deps, agent.id, 'compromised', 'op');
    await expect(issueGrant(deps, agent, request)).rejects.toMatchObject({ code: 'ERR_AGENT_QUARANTINED' });
    const [open] = await w.store.listIncidentRecords(OPEN_APPROVALS, INCIDENT);
    expect(open?.values).toHaveLength(1);
    expect(notified).toHaveLength(1);
  });
});

describe('a grant under major-incident mode', () => {
  it('is marked for the mode’s end and the report; one outside it is not', async () => {
    const outside = issuedOf(await issueGrant(w.deps, agent, request));
    await w.store.updateIncident(INCIDENT, { major: { startedAt: T0, endsAt: T0 + 60_000, by: 'op', reason: 'r' } });
    const under = issuedOf(await issueGrant(w.deps, agent, request));
    const [marked] = await w.store.listIncidentRecords(MAJOR_GRANTS, INCIDENT);
    expect(marked?.values).toEqual([under.grant.id]);
    const issued = (await w.store.listAudit({ incidentId: INCIDENT, limit: 100 })).filter((e) => e.type === 'grant.issued');
    expect(issued.map((e) => [e.grantId, e.data?.underMajor])).toEqual([
      [outside.grant.id, undefined],
      [under.grant.id, true],
    ]);
    // Past its end, no longer.
    w.now = T0 + 60_000;
    const after = issuedOf(await issueGrant(w.deps, agent, request));
    expect((await w.store.listIncidentRecords(MAJOR_GRANTS, INCIDENT))[0]?.values).not.toContain(after.grant.id);
  });
});

describe('the tiers an incident had grants of', () => {
  it('are written once per tier', async () => {
    let updates = 0;
    const counting: Store = { ...w.store, updateIncident: async (id, patch) => ((updates += 1), w.store.updateIncident(id, patch)) };
    const deps = await w.depsOver(counting);
    issuedOf(await issueGrant(deps, agent, request));
    expect((await w.store.getIncident(INCIDENT))?.tiersGranted).toEqual(['read']);
    issuedOf(await issueGrant(deps, agent, request));
    expect(updates).toBe(1);
  });
});

describe('collecting an approved request', () => {
  const operator = (subject: string) =>
    ({
      kind: 'operator',
      subject,
      issuer: 'https://ops.example',
      roles: ['ir-lead'],
      expiresAt: T0 + 3_600_000,
      fingerprint: 'fp',
    }) as const;

  it('hands the credential out once; when the record cannot say so, revokes it instead of leaving it active', async () => {
    const { deps } = withApproval();
    const ask = async (who = agent) => {
      const outcome = await issueGrant(deps, who, request);
      if (outcome.status !== 'pending_approval') throw new Error('expected an approval');
      for (const name of ['alice', 'bob'])
        await decideApproval(deps, operator(name), outcome.approval.id, { decision: 'approve', reason: 'ok' }, {});
      return outcome.approval.id;
    };
    const id = await ask();
    const first = await collectApproval(deps, agent, id, { waitMs: 0, owner: 'poll-1' });
    expect(first.status).toBe('issued');
    expect((await collectApproval(deps, agent, id, { waitMs: 0, owner: 'poll-2' })).status).toBe('final');

    // The one change: the store refuses the write that marks the approval issued.
    const other = agentNamed('fixer');
    const second = await ask(other);
    const failing: Store = {
      ...w.store,
      compareAndSetRegister: async (key, expected, value) => {
        if (JSON.parse(value).state === 'issued') throw new Error('store down');
        return w.store.compareAndSetRegister(key, expected, value);
      },
    };
    // An unguarded store's error: the flow answers an internal error (the guarded store makes it a 503).
    await expect(collectApproval({ ...deps, store: failing }, other, second, { waitMs: 0, owner: 'poll-3' })).rejects.toMatchObject({
      code: 'ERR_INTERNAL',
    });
    const grants = (await w.store.listGrantsByAgent(other.id)).filter((g) => g.profile === 'p');
    expect(grants.map((g) => [g.state, g.revokeReason])).toEqual([['revoking', 'undelivered']]);
    expect((await readApproval(w.store, second))?.state).toBe('approved');
  });
});
