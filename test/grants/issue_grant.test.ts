/**
 * The issue flow (grants/issue_grant.ts, steps/issue_credential.ts) in-process (grant_world.ts).
 * It checks the order guarantee 2 relies on (intent before the side effect, commit before the
 * hand-out) and the close race of guarantee 3 at each point a close can land: before the intent
 * (the atomic check in the store refuses it, whatever the early check saw) and while the provider
 * works (the credential is withheld and the grant left revoking with its handle, for the worker);
 * and what each outcome leaves in the ledger, the audit log and the metrics.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { quarantineAgent } from '../../src/agents/quarantine.js';
import { issueGrant } from '../../src/grants/issue_grant.js';
import { releaseGrant } from '../../src/grants/release_grant.js';
import { issueCredential } from '../../src/grants/steps/issue_credential.js';
import { loadIncident } from '../../src/grants/steps/load_incident.js';
import { closeIncident } from '../../src/incidents/close_incident.js';
import { createRevocationWorker } from '../../src/revocation/worker.js';
import { providerUnavailable } from '../../src/sdk.js';
import { storeUnavailable } from '../../src/errors.js';
import type { DomainDeps } from '../../src/domain.js';
import type { Store } from '../../src/store/store.js';
import {
  AGENT_ID,
  agent,
  createGrantWorld,
  holdNextIssue,
  INCIDENT,
  issuedOf,
  request,
  secretOf,
  T0,
  type GrantWorld,
} from './grant_world.js';

describe('issue flow', () => {
  let w: GrantWorld;
  const grantsOfIncident = async () => w.store.listGrantsByIncident(INCIDENT);
  const metric = async (name: string): Promise<string> => w.deps.metrics.registry.getSingleMetricAsString(name);

  beforeEach(async () => {
    w = await createGrantWorld();
  });

  it('hands out the credential once the grant is committed active, and audits and counts the issue', async () => {
    const issued = issuedOf(await issueGrant(w.deps, agent, request));
    expect(issued.credential).toEqual({ token: secretOf(issued.grant.id), token_type: 'Bearer' });
    expect(issued.grant).toMatchObject({
      incidentId: INCIDENT,
      profile: 'p',
      provider: 'held',
      agent: AGENT_ID,
      purpose: 'read alerts',
      state: 'active',
      ttlSeconds: 300,
      createdAt: T0,
      expiresAt: T0 + 300_000,
      handle: { ref: issued.grant.id },
    });
    expect(await w.store.getGrant(issued.grant.id)).toEqual(issued.grant);
    expect(w.upstream.issueCalls).toEqual([issued.grant.id]);
    expect(await w.store.listAudit({ incidentId: INCIDENT, limit: 10 })).toEqual([
      {
        seq: 1,
        at: T0,
        type: 'grant.issued',
        actor: AGENT_ID,
        incidentId: INCIDENT,
        grantId: issued.grant.id,
        profile: 'p',
        data: {
          ttlSeconds: 300,
          provider: 'held',
          requestedTtlSeconds: 300,
          purpose: 'read alerts',
          decidedBy: ['profiles.p.agents'],
          // No approval: the operator who opened the incident the grant was pre-authorised for.
          accountable: ['op'],
          tokenFingerprint: 'fp-triage',
        },
      },
    ]);
    expect(await metric('quartermaster_grants_issued_total')).toContain('quartermaster_grants_issued_total{profile="p",provider="held"} 1');
  });

  it('audits a request that named no TTL as requestedTtlSeconds 0, with the profile default granted', async () => {
    const issued = await issueGrant(w.deps, agent, { incidentId: INCIDENT, profile: 'p', purpose: 'read alerts' });
    if (issued.status !== 'issued') throw new Error('expected an issued grant');
    expect(issued.grant.ttlSeconds).toBe(600);
    const [event] = await w.store.listAudit({ incidentId: INCIDENT, limit: 10 });
    expect(event?.data).toMatchObject({ ttlSeconds: 600, requestedTtlSeconds: 0 });
  });

  it("records the intent before the provider is called, expiring when the grant's TTL would end", async () => {
    const held = holdNextIssue(w.upstream);
    const pending = issueGrant(w.deps, agent, request);
    await held.started;
    w.now += 5000; // the provider takes its time; the intent keeps its own start
    const [intent] = await grantsOfIncident();
    expect(intent).toEqual({
      id: w.upstream.issueCalls[0],
      incidentId: INCIDENT,
      profile: 'p',
      provider: 'held',
      agent: AGENT_ID,
      purpose: 'read alerts',
      state: 'issuing',
      createdAt: T0,
      ttlSeconds: 300,
      expiresAt: T0 + 300_000,
    });
    held.release();
    await expect(pending).resolves.toMatchObject({ grant: { state: 'active', createdAt: T0, expiresAt: T0 + 5000 + 300_000 } });
  });

  it('refuses with 409 ERR_INCIDENT_CLOSED, calling no provider, when the close lands between the early check and the intent', async () => {
    // Valid case: the early check passes and the incident is still open at the intent.
    const incident = await loadIncident(w.deps, { request });
    const input = { agent, incident, profile: w.deps.catalog.profile('p')!, ttlSeconds: 300, request: { ...request, purpose: 'p' } };
    await expect(issueCredential(w.deps, input)).resolves.toMatchObject({ grant: { state: 'active' } });
    // The one change: the incident closes after the early check read it open.
    await closeIncident(w.deps, INCIDENT, 'op');
    await expect(issueCredential(w.deps, input)).rejects.toMatchObject({ code: 'ERR_INCIDENT_CLOSED', status: 409 });
    expect(w.upstream.issueCalls).toHaveLength(1); // nothing minted for the second
    expect((await grantsOfIncident()).map((g) => g.state)).toEqual(['revoking']); // the first one only; no intent
  });

  it('refuses the whole request with 409 ERR_INCIDENT_CLOSED, audits and counts the denial, when the close lands right after the early check', async () => {
    // A store whose incident read is followed at once by a close, as another replica would do it.
    const racing: Store = {
      ...w.store,
      async getIncident(id) {
        const incident = await w.store.getIncident(id);
        await w.store.closeIncident(id, w.now, 'op');
        return incident;
      },
    };
    const deps = await w.depsOver(racing);
    await expect(issueGrant(deps, agent, request)).rejects.toMatchObject({ code: 'ERR_INCIDENT_CLOSED', status: 409 });
    expect(w.upstream.issueCalls).toEqual([]);
    expect(await grantsOfIncident()).toEqual([]);
    expect(await w.store.listAudit({ incidentId: INCIDENT, limit: 10 })).toEqual([
      {
        seq: 1,
        at: T0,
        type: 'grant.denied',
        actor: AGENT_ID,
        incidentId: INCIDENT,
        profile: 'p',
        reason: 'ERR_INCIDENT_CLOSED',
        data: { tokenFingerprint: 'fp-triage' },
      },
    ]);
    expect(await deps.metrics.registry.getSingleMetricAsString('quartermaster_grants_denied_total')).toContain(
      'quartermaster_grants_denied_total{code="ERR_INCIDENT_CLOSED"} 1',
    );
  });

  it('refuses with 404 ERR_INCIDENT_NOT_FOUND, calling no provider, an intent for an incident the store does not have', async () => {
    const incident = await loadIncident(w.deps, { request });
    const input = { agent, incident, profile: w.deps.catalog.profile('p')!, ttlSeconds: 300, request: { ...request, purpose: 'p' } };
    await expect(issueCredential(w.deps, input)).resolves.toMatchObject({ grant: { state: 'active' } });
    await expect(issueCredential(w.deps, { ...input, incident: { ...incident, id: 'INC-NOT-IN-STORE' } })).rejects.toMatchObject({
      code: 'ERR_INCIDENT_NOT_FOUND',
      status: 404,
    });
    expect(w.upstream.issueCalls).toHaveLength(1);
  });

  it('withholds the credential with 409 ERR_INCIDENT_CLOSED when the incident closes while the provider works, and leaves the grant revoking for the worker', async () => {
    // Valid case: the provider answers and the incident is still open at the commit.
    const first = holdNextIssue(w.upstream);
    const pendingFirst = issueGrant(w.deps, agent, request);
    await first.started;
    first.release();
    const kept = await pendingFirst;
    if (kept.status !== 'issued') throw new Error('expected an issued grant');
    expect(kept.grant.state).toBe('active');

    // The one change: the close lands while the provider is minting.
    const held = holdNextIssue(w.upstream);
    const outcome = issueGrant(w.deps, agent, request).then(
      () => 'handed out',
      (err: unknown) => err,
    );
    await held.started;
    const grantId = w.upstream.issueCalls[1]!;
    const closed = await closeIncident(w.deps, INCIDENT, 'op');
    expect([...closed.revoking].sort()).toEqual([kept.grant.id, grantId].sort());
    const nudgesAtClose = w.nudges;
    held.release();
    expect(await outcome).toMatchObject({ code: 'ERR_INCIDENT_CLOSED', status: 409 });

    // Revoking, with the handle the provider returned, queued, and the worker woken.
    expect(await w.store.getGrant(grantId)).toMatchObject({ state: 'revoking', revokeReason: 'incident_closed', handle: { ref: grantId } });
    expect(w.nudges).toBe(nudgesAtClose + 1);
    expect(await w.store.revocationQueueDepth()).toBe(2);
    expect((await w.auditTrail()).slice(-2)).toEqual([
      ['incident.closed', null],
      ['grant.denied', 'ERR_INCIDENT_CLOSED'],
    ]);

    // The worker revokes it upstream with that handle.
    const worker = createRevocationWorker(w.deps);
    expect(await worker.runOnce()).toBe(2);
    expect(w.upstream.revokeCalls).toContainEqual({ grantId, handle: { ref: grantId } });
    expect(await w.store.getGrant(grantId)).toMatchObject({ state: 'revoked' });
  });

  it('withholds the credential with 409 ERR_GRANT_NOT_ACTIVE, not "incident closed", when the grant is released while the provider works', async () => {
    const held = holdNextIssue(w.upstream);
    const outcome = issueGrant(w.deps, agent, request).then(
      () => 'handed out',
      (err: unknown) => err,
    );
    await held.started;
    const grantId = w.upstream.issueCalls[0]!;
    await releaseGrant(w.deps, agent, grantId);
    held.release();
    expect(await outcome).toMatchObject({ code: 'ERR_GRANT_NOT_ACTIVE', status: 409 });
    // The agent is told why (a 4xx message reaches the client).
    expect((await outcome) as Error).toHaveProperty(
      'message',
      'the grant was revoked while it was being issued; its credential is withheld',
    );
    expect(await w.store.getIncident(INCIDENT)).toMatchObject({ status: 'open' });
    expect(await w.store.getGrant(grantId)).toMatchObject({ state: 'revoking', revokeReason: 'released', handle: { ref: grantId } });
  });

  it('withholds the credential with 404 ERR_INCIDENT_NOT_FOUND when the store lost the grant before the commit', async () => {
    // A store that forgets the intent between write and commit (a Redis flushed meanwhile).
    const forgetful: Store = { ...w.store, commitGrant: async () => null };
    const deps = await w.depsOver(forgetful);
    await expect(issueGrant(w.deps, agent, request)).resolves.toMatchObject({ grant: { state: 'active' } });
    await expect(issueGrant(deps, agent, request)).rejects.toMatchObject({ code: 'ERR_INCIDENT_NOT_FOUND', status: 404 });
    expect(w.upstream.issueCalls).toHaveLength(2);
  });

  it('commits no grant, hands nothing out, and answers 502 when the provider returns no revocation handle', async () => {
    await expect(issueGrant(w.deps, agent, request)).resolves.toMatchObject({ grant: { state: 'active' } });
    w.upstream.answer = (valid) => ({ ...valid, handle: undefined });
    await expect(issueGrant(w.deps, agent, request)).rejects.toMatchObject({
      code: 'ERR_PROVIDER_FAILED',
      status: 502,
      detail: 'provider(held): issue returned no revocation handle',
    });
    const refused = await w.store.getGrant(w.upstream.issueCalls[1]!);
    expect(refused).toMatchObject({ state: 'failed', lastError: 'ERR_PROVIDER_FAILED', endedAt: T0 });
    expect(refused).not.toHaveProperty('handle');
    expect((await w.auditTrail()).at(-1)).toEqual(['grant.failed', 'ERR_PROVIDER_FAILED']);
  });

  it('marks the intent failed when the provider fails, and audits grant.failed for a 5xx', async () => {
    w.upstream.failure = providerUnavailable('upstream sealed');
    w.now = T0 + 1000;
    await expect(issueGrant(w.deps, agent, request)).rejects.toMatchObject({
      code: 'ERR_PROVIDER_UNAVAILABLE',
      status: 503,
      detail: 'provider(held): issue: upstream sealed',
    });
    expect(await grantsOfIncident()).toMatchObject([{ state: 'failed', lastError: 'ERR_PROVIDER_UNAVAILABLE', endedAt: T0 + 1000 }]);
    expect(await w.auditTrail()).toEqual([['grant.failed', 'ERR_PROVIDER_UNAVAILABLE']]);
  });

  it('fails the intent of a quarantined agent, read after it, and calls no provider', async () => {
    // The valid case first: not quarantined, issued.
    await expect(issueGrant(w.deps, agent, request)).resolves.toMatchObject({ status: 'issued' });
    await quarantineAgent(w.deps, agent.id, 'compromised', 'op');
    await expect(issueGrant(w.deps, agent, request)).rejects.toMatchObject({ code: 'ERR_AGENT_QUARANTINED', status: 403 });
    expect(w.upstream.issueCalls).toHaveLength(1);
    const failed = (await grantsOfIncident()).filter((g) => g.state === 'failed');
    expect(failed.map((g) => g.lastError)).toEqual(['ERR_AGENT_QUARANTINED']);
  });

  it('withholds the credential of an agent quarantined while its provider call ran, naming the quarantine', async () => {
    const held = holdNextIssue(w.upstream);
    const pending = issueGrant(w.deps, agent, request);
    await held.started;
    await quarantineAgent(w.deps, agent.id, 'compromised', 'op');
    held.release();
    await expect(pending).rejects.toMatchObject({ code: 'ERR_AGENT_QUARANTINED', status: 403 });
    expect(await grantsOfIncident()).toEqual([expect.objectContaining({ state: 'revoking', revokeReason: 'quarantined' })]);
  });

  it("fails the intent and calls no provider when the agent's quarantine cannot be read after it", async () => {
    // The valid case first: the intent and its read both answer, and the grant is issued.
    await expect(issueGrant(w.deps, agent, request)).resolves.toMatchObject({ status: 'issued' });
    expect(w.upstream.issueCalls).toHaveLength(1);
    const unreadable: Store = {
      ...w.store,
      createGrantIntentAndRead: async (grant, quota, key) => {
        const written = await w.store.createGrantIntentAndRead(grant, quota, key);
        return { result: written.result, readError: new Error('connection reset') };
      },
    };
    const deps = await w.depsOver(unreadable);
    await expect(issueGrant(deps, agent, request)).rejects.toMatchObject({ code: 'ERR_STORE_UNAVAILABLE', status: 503 });
    expect(w.upstream.issueCalls).toHaveLength(1);
    // Both grants were created at the same clock instant: compare them in state order.
    expect((await grantsOfIncident()).map((g) => [g.state, g.lastError]).sort()).toEqual([
      ['active', undefined],
      ['failed', 'ERR_STORE_UNAVAILABLE'],
    ]);
  });

  it('audits an internal error (500) as grant.failed, not as a denial', async () => {
    const broken: Store = {
      ...w.store,
      createGrantIntentAndRead: async () => {
        throw new TypeError('store bug');
      },
    };
    const deps = await w.depsOver(broken);
    await expect(issueGrant(deps, agent, request)).rejects.toMatchObject({ code: 'ERR_INTERNAL', status: 500 });
    expect(w.upstream.issueCalls).toEqual([]);
    expect(await w.auditTrail()).toEqual([['grant.failed', 'ERR_INTERNAL']]);
  });

  it("answers the provider's failure even when the intent cannot be marked failed, and logs which grant stays issuing", async () => {
    const unreachable: Store = {
      ...w.store,
      failGrant: async () => {
        throw new Error('connection reset');
      },
    };
    const deps = await w.depsOver(unreachable);
    w.upstream.failure = providerUnavailable('upstream sealed');
    await expect(issueGrant(deps, agent, request)).rejects.toMatchObject({ code: 'ERR_PROVIDER_UNAVAILABLE', status: 503 });
    const grantId = w.upstream.issueCalls[0]!;
    expect(await w.store.getGrant(grantId)).toMatchObject({ state: 'issuing' }); // the worker ends it after issueTimeoutSeconds
    const lines = w.logs.lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.msg === 'could not mark failed grant');
    expect(lines).toEqual([expect.objectContaining({ level: 'error', grantId, err: 'Error' })]);
  });

  it('refuses an issue it cannot audit and, when the store cannot queue the grant either, logs the grant left to end at its expiry', async () => {
    const auditDown = (deps: DomainDeps): DomainDeps => ({
      ...deps,
      audit: {
        ...deps.audit,
        async record(event, options) {
          if (event.type === 'grant.issued') throw storeUnavailable(new Error('audit append failed'));
          return deps.audit.record(event, options);
        },
      },
    });
    const logged = () => w.logs.lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.level === 'error');
    // The store still answers: the undelivered grant is queued and the worker woken, nothing logged.
    const queued = auditDown(w.deps);
    await expect(issueGrant(queued, agent, request)).rejects.toMatchObject({ code: 'ERR_STORE_UNAVAILABLE', status: 503 });
    expect(await grantsOfIncident()).toEqual([expect.objectContaining({ state: 'revoking', revokeReason: 'undelivered' })]);
    expect([w.nudges, logged()]).toEqual([1, []]);

    const unqueueable: Store = {
      ...w.store,
      requestRevocation: async () => {
        throw new Error('connection reset');
      },
    };
    const deps = auditDown(await w.depsOver(unqueueable));
    await expect(issueGrant(deps, agent, request)).rejects.toMatchObject({ code: 'ERR_STORE_UNAVAILABLE', status: 503 });
    const grantId = w.upstream.issueCalls[1]!;
    expect(await w.store.getGrant(grantId)).toMatchObject({ state: 'active' });
    expect(w.nudges).toBe(1);
    expect(logged()).toEqual([
      expect.objectContaining({
        grantId,
        err: 'Error: connection reset',
        msg: 'grant committed but not delivered, and it could not be queued for revocation; it ends at its expiry',
      }),
    ]);
  });
});
