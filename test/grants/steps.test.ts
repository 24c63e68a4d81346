import { describe, expect, it } from 'vitest';
import type { ProfileEntry } from '../../src/catalog/catalog.js';
import type { AgentIdentity } from '../../src/identity/types.js';
import { PolicyDenied } from '../../src/errors.js';
import type { GrantRequest } from '../../src/grants/grant_context.js';
import { authorize, authorizeForIncident } from '../../src/grants/steps/authorize.js';
import { limitRate, RateLimited } from '../../src/grants/steps/limit_rate.js';
import { loadIncident } from '../../src/grants/steps/load_incident.js';
import { resolveTtl } from '../../src/grants/steps/resolve_ttl.js';
import type { Incident } from '../../src/model.js';
import type { Provider } from '../../src/sdk.js';
import { createMemoryStore } from '../../src/store/memory_store.js';
import { testConfig } from '../support/test_config.js';

function profile(over: { maxTtl?: number; defaultTtl?: number; min?: number; max?: number; agents?: string[] } = {}): ProfileEntry {
  const provider = {
    name: 'p',
    capabilities: { grantRevocation: 'ledger', incidentRevocation: false, minTtlSeconds: over.min ?? 1, maxTtlSeconds: over.max ?? 3600 },
  } as unknown as Provider;
  const agents = over.agents ?? ['spiffe://dev\\.local/agent/triage'];
  return {
    name: 'demo',
    config: {
      provider: 'p',
      description: '',
      maxTtl: over.maxTtl ?? 900,
      tier: 'read',
      agents,
      params: {},
      singleUse: false,
      ...(over.defaultTtl ? { defaultTtl: over.defaultTtl } : {}),
    },
    params: {},
    provider,
    agentMatchers: agents.map((a) => new RegExp(`^(?:${a})$`, 'u')),
  };
}

const req = (ttlSeconds: number | undefined, profileName = 'demo', incidentId = 'INC-1'): GrantRequest => ({
  incidentId,
  profile: profileName,
  purpose: 'triage',
  ...(ttlSeconds === undefined ? {} : { ttlSeconds }),
});

const agent = (id: string): AgentIdentity => ({
  kind: 'agent',
  id,
  issuer: 'i',
  issuerName: 'dev',
  subject: id,
  expiresAt: 0,
  acceptedUntil: 0,
  fingerprint: 'f',
  tokenId: 't',
});

describe('resolveTtl step', () => {
  it('uses the requested TTL when within every bound', () => {
    expect(resolveTtl({ profile: profile(), request: req(120) })).toBe(120);
  });
  it('clamps to the profile maxTtl', () => {
    expect(resolveTtl({ profile: profile({ maxTtl: 900 }), request: req(5000) })).toBe(900);
  });
  it('clamps to the provider maximum when it is lower than maxTtl', () => {
    expect(resolveTtl({ profile: profile({ maxTtl: 900, max: 600 }), request: req(800) })).toBe(600);
  });
  it('raises to the provider minimum (AWS STS: 900 s)', () => {
    expect(resolveTtl({ profile: profile({ maxTtl: 3600, min: 900 }), request: req(60) })).toBe(900);
  });
  it('uses defaultTtl, then maxTtl, when none is requested', () => {
    expect(resolveTtl({ profile: profile({ defaultTtl: 300 }), request: req(undefined) })).toBe(300);
    expect(resolveTtl({ profile: profile({ maxTtl: 700 }), request: req(undefined) })).toBe(700);
  });
});

describe('authorize step', () => {
  const catalog = (p: ProfileEntry) => ({ profile: (name: string) => (name === p.name ? p : undefined) });

  it('allows an agent the profile lists', () => {
    expect(
      authorize(catalog(profile()), { agent: agent('spiffe://dev.local/agent/triage'), request: req(undefined, 'demo') }).profile.name,
    ).toBe('demo');
  });
  it('anchors patterns: a longer id with the listed one as prefix is denied', () => {
    expect(() =>
      authorize(catalog(profile()), { agent: agent('spiffe://dev.local/agent/triage-evil'), request: req(undefined, 'demo') }),
    ).toThrow(expect.objectContaining({ code: 'ERR_POLICY_DENIED', status: 403 }));
    expect(() =>
      authorize(catalog(profile()), { agent: agent('xspiffe://dev.local/agent/triage'), request: req(undefined, 'demo') }),
    ).toThrow(expect.objectContaining({ code: 'ERR_POLICY_DENIED' }));
  });
  it('anchors alternations as a whole', () => {
    const p = profile({ agents: ['spiffe://a/x|spiffe://a/y'] });
    expect(authorize(catalog(p), { agent: agent('spiffe://a/y'), request: req(undefined, 'demo') }).profile.name).toBe('demo');
    expect(() => authorize(catalog(p), { agent: agent('spiffe://a/x/evil'), request: req(undefined, 'demo') })).toThrow(
      expect.objectContaining({ code: 'ERR_POLICY_DENIED' }),
    );
  });
  it('allows an agent that any one of the listed patterns matches', () => {
    const p = profile({ agents: ['spiffe://dev\\.local/agent/triage', 'spiffe://dev\\.local/agent/contain'] });
    expect(authorize(catalog(p), { agent: agent('spiffe://dev.local/agent/triage'), request: req(undefined, 'demo') }).profile.name).toBe(
      'demo',
    );
    expect(authorize(catalog(p), { agent: agent('spiffe://dev.local/agent/contain'), request: req(undefined, 'demo') }).profile.name).toBe(
      'demo',
    );
    expect(() => authorize(catalog(p), { agent: agent('spiffe://dev.local/agent/observe'), request: req(undefined, 'demo') })).toThrow(
      expect.objectContaining({ code: 'ERR_POLICY_DENIED', status: 403 }),
    );
  });
  it('returns the decision that allowed the agent, naming the rule that decided', () => {
    expect(
      authorize(catalog(profile()), { agent: agent('spiffe://dev.local/agent/triage'), request: req(undefined, 'demo') }).decision,
    ).toEqual({
      effect: 'allow',
      decidedBy: ['profiles.demo.agents'],
      reasons: ['agent matches profiles.demo.agents'],
    });
  });
  it('denies with the deciding rule in the 403 body, and only its id', () => {
    let denied: unknown;
    try {
      authorize(catalog(profile()), { agent: agent('spiffe://dev.local/agent/observe'), request: req(undefined, 'demo') });
    } catch (err) {
      denied = err;
    }
    expect(denied).toBeInstanceOf(PolicyDenied);
    expect((denied as PolicyDenied).decision).toEqual({
      effect: 'deny',
      decidedBy: ['profiles.demo.agents'],
      reasons: ['agent not in profiles.demo.agents'],
    });
    expect((denied as PolicyDenied).toBody()).toEqual({
      error: { code: 'ERR_POLICY_DENIED', message: 'the request is not allowed by policy', decided_by: ['profiles.demo.agents'] },
    });
  });
  it('tells the operator which setting refused the agent (profiles.<name>.agents)', () => {
    expect(() =>
      authorize(catalog(profile()), { agent: agent('spiffe://dev.local/agent/observe'), request: req(undefined, 'demo') }),
    ).toThrow(expect.objectContaining({ code: 'ERR_POLICY_DENIED', detail: 'agent not in profiles.demo.agents' }));
  });
  it('answers 404 for an unknown profile', () => {
    expect(() =>
      authorize(catalog(profile()), { agent: agent('spiffe://dev.local/agent/triage'), request: req(undefined, 'nope') }),
    ).toThrow(expect.objectContaining({ code: 'ERR_PROFILE_NOT_FOUND', status: 404 }));
  });
});

describe('loadIncident step (the early check; the binding one is atomic at the intent)', () => {
  const incident: Incident = { id: 'INC-1', source: 'api', title: 't', severity: 'sev2', status: 'open', openedAt: 0, openedBy: 'op' };

  it('returns an open incident', async () => {
    const store = createMemoryStore();
    await store.createIncident(incident);
    await expect(loadIncident({ store }, { request: req(undefined, 'demo', 'INC-1') })).resolves.toEqual(incident);
  });
  it('refuses a closed incident with 409 ERR_INCIDENT_CLOSED', async () => {
    const store = createMemoryStore();
    await store.createIncident(incident);
    await store.closeIncident('INC-1', 1, 'op');
    await expect(loadIncident({ store }, { request: req(undefined, 'demo', 'INC-1') })).rejects.toMatchObject({
      code: 'ERR_INCIDENT_CLOSED',
      status: 409,
    });
  });
  it('refuses an unknown incident with 404 ERR_INCIDENT_NOT_FOUND', async () => {
    const store = createMemoryStore();
    await store.createIncident(incident);
    await expect(loadIncident({ store }, { request: req(undefined, 'demo', 'INC-2') })).rejects.toMatchObject({
      code: 'ERR_INCIDENT_NOT_FOUND',
      status: 404,
    });
  });
});

describe('authorizeForIncident step (the incident assignment, after the profile allowed)', () => {
  const byProfile = { effect: 'allow' as const, decidedBy: ['profiles.demo.agents'], reasons: ['agent matches profiles.demo.agents'] };
  const incident = (agents?: string[]): Incident => ({
    id: 'INC-1',
    source: 'api',
    title: 't',
    severity: 'sev2',
    status: 'open',
    openedAt: 0,
    openedBy: 'op',
    ...(agents ? { agents } : {}),
  });
  const denial = (run: () => unknown): PolicyDenied => {
    try {
      run();
    } catch (err) {
      if (err instanceof PolicyDenied) return err;
      throw err;
    }
    throw new Error('expected a PolicyDenied');
  };

  it("keeps the profile's decision, unchanged, for an incident no operator assigned agents to", () => {
    const decision = authorizeForIncident({ agent: agent('spiffe://dev.local/agent/observe'), incident: incident(), decision: byProfile });
    expect(decision).toBe(byProfile);
  });

  it('allows an assigned agent, adding the assignment to the decision after the profile rule', () => {
    expect(
      authorizeForIncident({
        agent: agent('spiffe://dev.local/agent/triage'),
        incident: incident(['spiffe://dev\\.local/agent/triage']),
        decision: byProfile,
      }),
    ).toEqual({
      effect: 'allow',
      decidedBy: ['profiles.demo.agents', 'incident.agents'],
      reasons: ['agent matches profiles.demo.agents', 'agent assigned to incident INC-1'],
    });
  });

  it('allows an agent any one of the assigned patterns matches', () => {
    const assigned = incident(['spiffe://dev\\.local/agent/contain', 'spiffe://dev\\.local/agent/triage']);
    for (const id of ['spiffe://dev.local/agent/contain', 'spiffe://dev.local/agent/triage']) {
      expect(authorizeForIncident({ agent: agent(id), incident: assigned, decision: byProfile }).effect).toBe('allow');
    }
    expect(() =>
      authorizeForIncident({ agent: agent('spiffe://dev.local/agent/observe'), incident: assigned, decision: byProfile }),
    ).toThrow(PolicyDenied);
  });

  it('denies an agent not assigned, with only the incident rule as the deciding one', () => {
    const assigned = incident(['spiffe://dev\\.local/agent/triage']);
    expect(authorizeForIncident({ agent: agent('spiffe://dev.local/agent/triage'), incident: assigned, decision: byProfile }).effect).toBe(
      'allow',
    );
    const denied = denial(() =>
      authorizeForIncident({ agent: agent('spiffe://dev.local/agent/contain'), incident: assigned, decision: byProfile }),
    );
    expect(denied.decision).toEqual({ effect: 'deny', decidedBy: ['incident.agents'], reasons: ['agent not assigned to incident INC-1'] });
    expect(denied).toMatchObject({ code: 'ERR_POLICY_DENIED', status: 403, detail: 'agent not assigned to incident INC-1' });
  });

  it('anchors the assigned patterns: a longer id with an assigned one as prefix is not assigned', () => {
    const assigned = incident(['spiffe://dev\\.local/agent/triage']);
    expect(authorizeForIncident({ agent: agent('spiffe://dev.local/agent/triage'), incident: assigned, decision: byProfile }).effect).toBe(
      'allow',
    );
    for (const id of ['spiffe://dev.local/agent/triage-evil', 'xspiffe://dev.local/agent/triage']) {
      expect(() => authorizeForIncident({ agent: agent(id), incident: assigned, decision: byProfile })).toThrow(PolicyDenied);
    }
  });
});

describe('limitRate step (limits.grantRequests, buckets in the store)', () => {
  type Bucket = { perSecond: number; burst: number };
  const world = (perAgent: Bucket, perSource: Bucket) => {
    const { config } = testConfig({ limits: { grantRequests: { perAgent, perSource } } });
    const clock = { now: 0 };
    return { clock, deps: { config, store: createMemoryStore(), now: () => clock.now } };
  };
  const from = (id: string, issuerName = 'dev'): AgentIdentity => ({ ...agent(id), issuerName });
  const outcome = async (run: Promise<void>): Promise<string> =>
    run.then(
      () => 'ok',
      (err: unknown) => (err instanceof RateLimited ? `limited:${err.bucket}` : `failed:${String(err)}`),
    );

  it("spends a token from the agent's bucket, then from its source's, refusing with the bucket that ran dry", async () => {
    const { deps } = world({ perSecond: 1, burst: 2 }, { perSecond: 1, burst: 3 });
    const a = { agent: from('spiffe://dev.local/agent/a') };
    const b = { agent: from('spiffe://dev.local/agent/b') };
    const other = { agent: from('spiffe://other.local/agent/a', 'other') };
    const answers = [];
    // a: two from its bucket (and the source's); the third finds a's bucket empty and spends nothing from the source.
    for (let i = 0; i < 3; i++) answers.push(await outcome(limitRate(deps, a)));
    // b has its own agent bucket; the source's third token is the last.
    for (let i = 0; i < 2; i++) answers.push(await outcome(limitRate(deps, b)));
    // Another source has its own bucket.
    answers.push(await outcome(limitRate(deps, other)));
    expect(answers).toEqual(['ok', 'ok', 'limited:agent', 'ok', 'limited:source', 'ok']);
  });

  it("refills the buckets by the store's clock, the one the step passes", async () => {
    const { deps, clock } = world({ perSecond: 1, burst: 1 }, { perSecond: 1000, burst: 1000 });
    const a = { agent: from('spiffe://dev.local/agent/a') };
    expect(await outcome(limitRate(deps, a))).toBe('ok');
    clock.now = 999;
    await expect(limitRate(deps, a)).rejects.toMatchObject({ code: 'ERR_RATE_LIMITED', status: 429, bucket: 'agent' });
    clock.now = 1000;
    expect(await outcome(limitRate(deps, a))).toBe('ok');
  });

  it('leaves a bucket whose perSecond is 0 out: no limit from it, whatever its burst', async () => {
    const limited = world({ perSecond: 1, burst: 1 }, { perSecond: 1, burst: 2 });
    const a = { agent: from('spiffe://dev.local/agent/a') };
    expect([await outcome(limitRate(limited.deps, a)), await outcome(limitRate(limited.deps, a))]).toEqual(['ok', 'limited:agent']);

    const agentOff = world({ perSecond: 0, burst: 1 }, { perSecond: 1, burst: 2 });
    const twice = [await outcome(limitRate(agentOff.deps, a)), await outcome(limitRate(agentOff.deps, a))];
    expect([...twice, await outcome(limitRate(agentOff.deps, a))]).toEqual(['ok', 'ok', 'limited:source']);

    const bothOff = world({ perSecond: 0, burst: 1 }, { perSecond: 0, burst: 1 });
    const many = [];
    for (let i = 0; i < 5; i++) many.push(await outcome(limitRate(bothOff.deps, a)));
    expect(many).toEqual(['ok', 'ok', 'ok', 'ok', 'ok']);
  });

  it('answers 429 ERR_RATE_LIMITED with Retry-After in whole seconds, rounded up, at least 1', () => {
    const refused = new RateLimited('source', 1500);
    expect(refused).toMatchObject({
      code: 'ERR_RATE_LIMITED',
      status: 429,
      message: 'too many grant requests; retry later',
      bucket: 'source',
      detail: 'the source bucket of limits.grantRequests is empty for 1500 ms',
      headers: { 'Retry-After': '2' },
    });
    expect(new RateLimited('agent', 3000).headers).toEqual({ 'Retry-After': '3' });
    expect(new RateLimited('agent', 200).headers).toEqual({ 'Retry-After': '1' });
    expect(new RateLimited('agent', 200).detail).toBe('the agent bucket of limits.grantRequests is empty for 200 ms');
  });

  it('tells the agent how long its bucket stays empty', async () => {
    const { deps, clock } = world({ perSecond: 0.5, burst: 1 }, { perSecond: 1000, burst: 1000 });
    const a = { agent: from('spiffe://dev.local/agent/a') };
    await limitRate(deps, a);
    clock.now = 500;
    await expect(limitRate(deps, a)).rejects.toMatchObject({
      detail: 'the agent bucket of limits.grantRequests is empty for 1500 ms',
      headers: { 'Retry-After': '2' },
    });
  });
});
