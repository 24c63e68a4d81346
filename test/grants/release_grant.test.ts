/**
 * The release flow (grants/release_grant.ts) in-process (grant_world.ts): an agent ends its own
 * grant early; another agent's grant is not found; a grant revoked for another reason or ended
 * answers as it is; a release repeated or retried after a failed audit append is audited once,
 * at the time it was first requested.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { issueGrant } from '../../src/grants/issue_grant.js';
import { releaseGrant } from '../../src/grants/release_grant.js';
import { closeIncident } from '../../src/incidents/close_incident.js';
import type { Grant } from '../../src/model.js';
import { createRevocationWorker } from '../../src/revocation/worker.js';
import type { Store } from '../../src/store/store.js';
import { AGENT_ID, agent, agentNamed, createGrantWorld, INCIDENT, request, T0, type GrantWorld } from './grant_world.js';

describe('release flow', () => {
  let w: GrantWorld;
  const issue = async (): Promise<Grant> => {
    const outcome = await issueGrant(w.deps, agent, request);
    if (outcome.status !== 'issued') throw new Error('expected an issued grant');
    return outcome.grant;
  };
  const releases = async () => (await w.store.listAudit({ incidentId: INCIDENT, limit: 1000 })).filter((e) => e.type === 'grant.released');

  beforeEach(async () => {
    w = await createGrantWorld();
  });

  it("turns the agent's own active grant revoking (released), queues it, wakes the worker and audits each release", async () => {
    const first = await issue();
    const second = await issue();
    w.now = T0 + 1000;
    await expect(releaseGrant(w.deps, agent, first.id)).resolves.toMatchObject({
      id: first.id,
      state: 'revoking',
      revokeReason: 'released',
      revokeRequestedAt: T0 + 1000,
    });
    await releaseGrant(w.deps, agent, second.id);
    expect(w.nudges).toBe(2);
    expect(await w.store.revocationQueueDepth()).toBe(2);
    expect(await releases()).toEqual([
      {
        seq: 3,
        at: T0 + 1000,
        type: 'grant.released',
        actor: AGENT_ID,
        incidentId: INCIDENT,
        grantId: first.id,
        profile: 'p',
        data: { tokenFingerprint: 'fp-triage' },
      },
      {
        seq: 4,
        at: T0 + 1000,
        type: 'grant.released',
        actor: AGENT_ID,
        incidentId: INCIDENT,
        grantId: second.id,
        profile: 'p',
        data: { tokenFingerprint: 'fp-triage' },
      },
    ]);
    expect(await createRevocationWorker(w.deps).runOnce()).toBe(2);
    expect(await w.store.getGrant(first.id)).toMatchObject({ state: 'revoked', revokeReason: 'released' });
  });

  it("answers another agent's grant as 404 ERR_GRANT_NOT_FOUND and leaves it alone", async () => {
    const mine = await issue();
    await expect(releaseGrant(w.deps, agentNamed('contain'), mine.id)).rejects.toMatchObject({ code: 'ERR_GRANT_NOT_FOUND', status: 404 });
    await expect(releaseGrant(w.deps, agent, 'grt_nobody')).rejects.toMatchObject({ code: 'ERR_GRANT_NOT_FOUND', status: 404 });
    expect(await w.store.getGrant(mine.id)).toMatchObject({ state: 'active' });
    expect(await releases()).toEqual([]);
  });

  it('releases an intent the provider has not answered yet', async () => {
    const intent: Grant = {
      id: 'grt_intent',
      incidentId: INCIDENT,
      profile: 'p',
      provider: 'held',
      agent: AGENT_ID,
      purpose: 'p',
      state: 'issuing',
      createdAt: T0,
      ttlSeconds: 300,
      expiresAt: T0 + 300_000,
    };
    expect(await w.store.createGrantIntent(intent)).toBe('ok');
    await expect(releaseGrant(w.deps, agent, intent.id)).resolves.toMatchObject({ state: 'revoking', revokeReason: 'released' });
    expect(w.nudges).toBe(1);
    expect(await releases()).toHaveLength(1);
  });

  it("answers a grant its incident's close revoked as it is, and records no release", async () => {
    const grant = await issue();
    await closeIncident(w.deps, INCIDENT, 'op');
    const nudgesAtClose = w.nudges;
    await expect(releaseGrant(w.deps, agent, grant.id)).resolves.toMatchObject({ state: 'revoking', revokeReason: 'incident_closed' });
    await createRevocationWorker(w.deps).runOnce();
    await expect(releaseGrant(w.deps, agent, grant.id)).resolves.toMatchObject({ state: 'revoked', revokeReason: 'incident_closed' });
    expect(w.nudges).toBe(nudgesAtClose);
    expect(await releases()).toEqual([]);
  });

  it('audits a release once when the agent repeats it', async () => {
    const grant = await issue();
    w.now = T0 + 1000;
    await releaseGrant(w.deps, agent, grant.id);
    w.now = T0 + 5000;
    await expect(releaseGrant(w.deps, agent, grant.id)).resolves.toMatchObject({
      state: 'revoking',
      revokeReason: 'released',
      revokeRequestedAt: T0 + 1000,
    });
    expect((await releases()).map((e) => e.at)).toEqual([T0 + 1000]);
  });

  it('audits a release retried after a failed audit append, once, at the time it was first requested', async () => {
    const grant = await issue();
    let appendFails = true;
    const flaky: Store = {
      ...w.store,
      async appendAudit(event, options) {
        if (appendFails) {
          appendFails = false;
          throw new Error('connection reset');
        }
        return w.store.appendAudit(event, options);
      },
    };
    const deps = await w.depsOver(flaky);
    w.now = T0 + 1000;
    await expect(releaseGrant(deps, agent, grant.id)).rejects.toThrow('connection reset');
    expect(await w.store.getGrant(grant.id)).toMatchObject({ state: 'revoking', revokeReason: 'released' });
    w.now = T0 + 5000;
    await expect(releaseGrant(deps, agent, grant.id)).resolves.toMatchObject({ state: 'revoking' });
    expect(await releases()).toEqual([expect.objectContaining({ at: T0 + 1000, grantId: grant.id })]);
  });

  it('answers 404 ERR_GRANT_NOT_FOUND, waking nobody, when the grant vanished from the store before the revocation request', async () => {
    const grant = await issue();
    const forgetful: Store = { ...w.store, requestRevocation: async () => null };
    const deps = await w.depsOver(forgetful);
    await expect(releaseGrant(deps, agent, grant.id)).rejects.toMatchObject({ code: 'ERR_GRANT_NOT_FOUND', status: 404 });
    expect(w.nudges).toBe(0);
    expect(await releases()).toEqual([]);
  });
});
