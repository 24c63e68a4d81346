import { describe, expect, it } from 'vitest';
import type { ProfileEntry } from '../../src/catalog/catalog.js';
import type { AgentIdentity } from '../../src/identity/types.js';
import { PolicyDenied } from '../../src/errors.js';
import type { GrantRequest } from '../../src/grants/grant_context.js';
import { authorize } from '../../src/grants/steps/authorize.js';
import { loadIncident } from '../../src/grants/steps/load_incident.js';
import { resolveTtl } from '../../src/grants/steps/resolve_ttl.js';
import type { Incident } from '../../src/model.js';
import type { Provider } from '../../src/sdk.js';
import { createMemoryStore } from '../../src/store/memory_store.js';

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
