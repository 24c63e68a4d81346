/**
 * The issue flow (grants/issue_grant.ts, steps/issue_credential.ts) in-process: the memory store,
 * the real catalog and an in-process provider that implements the public contract (src/sdk.ts)
 * and whose issue call the test can hold open. It checks the order guarantee 2 relies on (intent
 * before the side effect, commit before the hand-out) and the close race of guarantee 3 at each
 * point a close can land: before the intent (the atomic check in the store refuses it, whatever
 * the early check saw) and while the provider works (the credential is withheld and the grant
 * left revoking with its handle, for the worker). Nothing sleeps: gates the test opens order it.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { z } from 'zod';
import { createAuditLog } from '../../src/audit/audit_log.js';
import { createCatalog } from '../../src/catalog/catalog.js';
import { parseConfig } from '../../src/config/load.js';
import type { DomainDeps } from '../../src/domain.js';
import { issueGrant, type GrantRequest } from '../../src/grants/issue_grant.js';
import { issueCredential } from '../../src/grants/steps/issue_credential.js';
import { loadIncident } from '../../src/grants/steps/load_incident.js';
import type { AgentIdentity } from '../../src/identity/types.js';
import { closeIncident } from '../../src/incidents/close_incident.js';
import { createLogger } from '../../src/logging.js';
import { createMetrics } from '../../src/metrics.js';
import type { RevocationHandle } from '../../src/model.js';
import { createRevocationWorker } from '../../src/revocation/worker.js';
import { providerUnavailable, type IssuedCredential, type ProviderFactory } from '../../src/sdk.js';
import { createMemoryStore } from '../../src/store/memory_store.js';
import type { Store } from '../../src/store/store.js';
import { createLogCapture } from '../support/log_capture.js';
import { testConfigObject } from '../support/test_config.js';

const T0 = Date.UTC(2030, 0, 1);
const INCIDENT = 'INC-ISSUE';
const AGENT_ID = 'spiffe://dev.local/agent/triage';

/** What the upstream behind the provider saw, and how it answers. */
interface Upstream {
  /** Grant ids of issue calls that reached the provider. */
  issueCalls: string[];
  revokeCalls: Array<{ grantId: string; handle: RevocationHandle }>;
  /** When set, the next issue call tells `started` and answers once `gate` opens. */
  hold: { started: () => void; gate: Promise<void> } | null;
  /** When set, the next issue call answers this instead of a valid credential (a provider bug). */
  answer: ((grantId: string, valid: IssuedCredential) => unknown) | null;
  /** When set, issue calls fail with this. */
  failure: Error | null;
}

interface HeldCall {
  /** Resolves once the held call has reached the provider. */
  readonly started: Promise<void>;
  release(): void;
}

function holdNextIssue(upstream: Upstream): HeldCall {
  let started!: () => void;
  let release!: () => void;
  const startedPromise = new Promise<void>((resolve) => { started = resolve; });
  const gate = new Promise<void>((resolve) => { release = resolve; });
  upstream.hold = { started, gate };
  return { started: startedPromise, release };
}

const secretOf = (grantId: string): string => `secret-token-for-${grantId}`;

function heldProvider(upstream: Upstream): ProviderFactory<Record<string, never>, Record<string, never>> {
  return {
    name: 'held',
    configSchema: z.object({}).strict() as z.ZodType<Record<string, never>>,
    profileParamsSchema: z.object({}).strict() as z.ZodType<Record<string, never>>,
    async create(_config, deps) {
      return {
        name: 'held',
        capabilities: { grantRevocation: 'upstream', incidentRevocation: false, minTtlSeconds: 1, maxTtlSeconds: 3600 },
        async issue(req) {
          upstream.issueCalls.push(req.grantId);
          const hold = upstream.hold;
          if (hold) {
            upstream.hold = null;
            hold.started();
            await hold.gate;
          }
          if (upstream.failure) throw upstream.failure;
          const valid: IssuedCredential = {
            credential: { token: secretOf(req.grantId), token_type: 'Bearer' },
            secretFields: ['token'],
            handle: { ref: req.grantId },
            expiresAt: deps.now() + req.ttlSeconds * 1000,
          };
          return (upstream.answer ? upstream.answer(req.grantId, valid) : valid) as IssuedCredential;
        },
        async revokeGrant(req) {
          upstream.revokeCalls.push({ grantId: req.grantId, handle: req.handle });
          return { grantId: req.grantId, outcome: 'revoked', confirmed: true };
        },
        async health() { return { ok: true }; },
        async close() {},
      };
    },
  };
}

const agent: AgentIdentity = {
  kind: 'agent', id: AGENT_ID, issuer: 'spiffe://dev.local', issuerName: 'dev.local', subject: AGENT_ID,
  expiresAt: T0 + 600_000, acceptedUntil: T0 + 630_000, fingerprint: 'fp-triage', tokenId: 'tok-triage',
};
const request: GrantRequest = { incidentId: INCIDENT, profile: 'p', ttlSeconds: 300, purpose: 'read alerts' };

describe('issue flow', () => {
  let now: number;
  let upstream: Upstream;
  let store: Store;
  let deps: DomainDeps;
  let nudges: number;

  /** The domain deps over `over` (default: the shared memory store). */
  const domain = async (over: Store = store): Promise<DomainDeps> => {
    const config = parseConfig(stringify({
      ...testConfigObject({ revocation: { issueTimeoutSeconds: 30 } }),
      providers: { held: {} },
      profiles: { p: { provider: 'held', maxTtl: 900, defaultTtl: 600, tier: 'read', agents: ['spiffe://dev\\.local/agent/[a-z]+'] } },
    }));
    const logger = createLogger({ level: 'silent', destination: createLogCapture() });
    const clock = (): number => now;
    const catalog = await createCatalog(config, [heldProvider(upstream)], { logger, now: clock, devMode: true, callTimeoutMs: 60_000 });
    return {
      config, store: over, catalog, audit: createAuditLog(over, logger), metrics: createMetrics({ defaultMetrics: false }), logger, now: clock,
      nudgeRevocation: () => { nudges += 1; },
    };
  };
  const grantsOfIncident = async () => store.listGrantsByIncident(INCIDENT);
  const auditTypes = async () => (await store.listAudit({ incidentId: INCIDENT, limit: 100 })).map((e) => [e.type, e.reason ?? null]);

  beforeEach(async () => {
    now = T0;
    nudges = 0;
    upstream = { issueCalls: [], revokeCalls: [], hold: null, answer: null, failure: null };
    store = createMemoryStore();
    await store.createIncident({ id: INCIDENT, source: 'api', title: 't', severity: 'sev2', status: 'open', openedAt: T0, openedBy: 'op' });
    deps = await domain();
  });

  it('hands out the credential once the grant is committed active, and audits the issue', async () => {
    const issued = await issueGrant(deps, agent, request);
    expect(issued.credential).toEqual({ token: secretOf(issued.grant.id), token_type: 'Bearer' });
    expect(issued.grant).toMatchObject({ incidentId: INCIDENT, profile: 'p', provider: 'held', agent: AGENT_ID, purpose: 'read alerts', state: 'active', ttlSeconds: 300, createdAt: T0, expiresAt: T0 + 300_000, handle: { ref: issued.grant.id } });
    expect(await store.getGrant(issued.grant.id)).toEqual(issued.grant);
    expect(upstream.issueCalls).toEqual([issued.grant.id]);
    const [event] = (await store.listAudit({ incidentId: INCIDENT, limit: 10 }));
    expect(event).toMatchObject({ type: 'grant.issued', at: T0, actor: AGENT_ID, grantId: issued.grant.id, profile: 'p', data: { ttlSeconds: 300, provider: 'held', requestedTtlSeconds: 300, tokenFingerprint: 'fp-triage' } });
  });

  it('records the intent before the provider is called, expiring when the grant\'s TTL would end', async () => {
    const held = holdNextIssue(upstream);
    const pending = issueGrant(deps, agent, request);
    await held.started;
    now += 5000; // the provider takes its time; the intent keeps its own start
    const [intent] = await grantsOfIncident();
    expect(intent).toEqual({
      id: upstream.issueCalls[0], incidentId: INCIDENT, profile: 'p', provider: 'held', agent: AGENT_ID, purpose: 'read alerts',
      state: 'issuing', createdAt: T0, ttlSeconds: 300, expiresAt: T0 + 300_000,
    });
    held.release();
    await expect(pending).resolves.toMatchObject({ grant: { state: 'active', createdAt: T0, expiresAt: T0 + 5000 + 300_000 } });
  });

  it('refuses with 409 ERR_INCIDENT_CLOSED, calling no provider, when the close lands between the early check and the intent', async () => {
    // Valid case: the early check passes and the incident is still open at the intent.
    const incident = await loadIncident(deps, INCIDENT);
    const input = { agent, incident, profile: deps.catalog.profile('p')!, ttlSeconds: 300, purpose: 'p' };
    await expect(issueCredential(deps, input)).resolves.toMatchObject({ grant: { state: 'active' } });
    // The one change: the incident closes after the early check read it open.
    await closeIncident(deps, INCIDENT, 'op');
    const calls = upstream.issueCalls.length;
    await expect(issueCredential(deps, input)).rejects.toMatchObject({ code: 'ERR_INCIDENT_CLOSED', status: 409 });
    expect(upstream.issueCalls).toHaveLength(calls); // nothing minted
    expect((await grantsOfIncident()).map((g) => g.state)).toEqual(['revoking']); // the first one only; no intent
  });

  it('refuses the whole request with 409 ERR_INCIDENT_CLOSED and audits the denial when the close lands right after the early check', async () => {
    // A store whose incident read is followed at once by a close, as another replica would do it.
    const racing: Store = {
      ...store,
      async getIncident(id) {
        const incident = await store.getIncident(id);
        await store.closeIncident(id, now, 'op');
        return incident;
      },
    };
    const racingDeps = await domain(racing);
    await expect(issueGrant(racingDeps, agent, request)).rejects.toMatchObject({ code: 'ERR_INCIDENT_CLOSED', status: 409 });
    expect(upstream.issueCalls).toEqual([]);
    expect(await grantsOfIncident()).toEqual([]);
    expect(await auditTypes()).toEqual([['grant.denied', 'ERR_INCIDENT_CLOSED']]);
  });

  it('refuses with 404 ERR_INCIDENT_NOT_FOUND, calling no provider, an intent for an incident the store does not have', async () => {
    const incident = await loadIncident(deps, INCIDENT);
    const input = { agent, incident, profile: deps.catalog.profile('p')!, ttlSeconds: 300, purpose: 'p' };
    await expect(issueCredential(deps, input)).resolves.toMatchObject({ grant: { state: 'active' } });
    await expect(issueCredential(deps, { ...input, incident: { ...incident, id: 'INC-NOT-IN-STORE' } })).rejects.toMatchObject({ code: 'ERR_INCIDENT_NOT_FOUND', status: 404 });
    expect(upstream.issueCalls).toHaveLength(1);
  });

  it('withholds the credential with 409 ERR_INCIDENT_CLOSED when the incident closes while the provider works, and leaves the grant revoking for the worker', async () => {
    // Valid case: the provider answers and the incident is still open at the commit.
    const first = holdNextIssue(upstream);
    const pendingFirst = issueGrant(deps, agent, request);
    await first.started;
    first.release();
    const kept = await pendingFirst;
    expect(kept.grant.state).toBe('active');

    // The one change: the close lands while the provider is minting.
    const held = holdNextIssue(upstream);
    const pending = issueGrant(deps, agent, request);
    const outcome = pending.then(() => 'handed out', (err: unknown) => err);
    await held.started;
    const grantId = upstream.issueCalls[1]!;
    const closed = await closeIncident(deps, INCIDENT, 'op');
    expect([...closed.revoking].sort()).toEqual([kept.grant.id, grantId].sort());
    const nudgesAtClose = nudges;
    held.release();
    expect(await outcome).toMatchObject({ code: 'ERR_INCIDENT_CLOSED', status: 409 });

    // Revoking, with the handle the provider returned, queued, and the worker woken.
    expect(await store.getGrant(grantId)).toMatchObject({ state: 'revoking', revokeReason: 'incident_closed', handle: { ref: grantId } });
    expect(nudges).toBe(nudgesAtClose + 1);
    expect(await store.revocationQueueDepth()).toBe(2);
    expect((await auditTypes()).slice(-2)).toEqual([['incident.closed', null], ['grant.denied', 'ERR_INCIDENT_CLOSED']]);

    // The worker revokes it upstream with that handle.
    const worker = createRevocationWorker(deps);
    expect(await worker.runOnce()).toBe(2);
    expect(upstream.revokeCalls).toContainEqual({ grantId, handle: { ref: grantId } });
    expect(await store.getGrant(grantId)).toMatchObject({ state: 'revoked' });
  });

  it('commits no grant, hands nothing out, and answers 502 when the provider returns no revocation handle', async () => {
    await expect(issueGrant(deps, agent, request)).resolves.toMatchObject({ grant: { state: 'active' } });
    upstream.answer = (_grantId, valid) => ({ ...valid, handle: undefined });
    await expect(issueGrant(deps, agent, request)).rejects.toMatchObject({ code: 'ERR_PROVIDER_FAILED', status: 502, detail: 'provider(held): issue returned no revocation handle' });
    const refused = await store.getGrant(upstream.issueCalls[1]!);
    expect(refused).toMatchObject({ state: 'failed', lastError: 'ERR_PROVIDER_FAILED', endedAt: T0 });
    expect(refused).not.toHaveProperty('handle');
    expect((await auditTypes()).at(-1)).toEqual(['grant.failed', 'ERR_PROVIDER_FAILED']);
  });

  it('marks the intent failed when the provider fails, and audits grant.failed for a 5xx', async () => {
    upstream.failure = providerUnavailable('upstream sealed');
    now = T0 + 1000;
    await expect(issueGrant(deps, agent, request)).rejects.toMatchObject({ code: 'ERR_PROVIDER_UNAVAILABLE', status: 503, detail: 'provider(held): issue: upstream sealed' });
    expect(await grantsOfIncident()).toMatchObject([{ state: 'failed', lastError: 'ERR_PROVIDER_UNAVAILABLE', endedAt: T0 + 1000 }]);
    expect(await auditTypes()).toEqual([['grant.failed', 'ERR_PROVIDER_UNAVAILABLE']]);
  });
});
