/**
 * The policy steps of the grant pipeline in process, against a scripted policy (what it is asked,
 * what it answers): the request built for the schema (SPIFFE and OIDC agents, claims, break-glass,
 * approval, the hour), the Decision and refusal each answer becomes, the second evaluation as
 * approved and which policies asked for the approval, the approval rule that results, and the
 * incident a closed webhook epoch's id resolves to. Every refusal case follows its valid case.
 */
import { describe, expect, it } from 'vitest';
import { approvalRuleFor } from '../../src/approvals/rule.js';
import type { ProfileEntry } from '../../src/catalog/catalog.js';
import { PolicyDenied } from '../../src/errors.js';
import {
  authorizeByPolicy,
  authorizeByPolicyOrApproval,
  policyRequestOf,
  type PolicyInput,
} from '../../src/grants/steps/authorize_by_policy.js';
import { loadIncident } from '../../src/grants/steps/load_incident.js';
import type { AgentIdentity } from '../../src/identity/types.js';
import type { Decision, Incident } from '../../src/model.js';
import type { PolicyDecision, PolicyRequest } from '../../src/policy/policy_set.js';
import { createMemoryStore } from '../../src/store/memory_store.js';
import { registerKey } from '../../src/webhooks/apply_event.js';
import { testConfig } from '../support/test_config.js';

const T = Date.UTC(2026, 11, 1, 13, 30);
const spiffe: AgentIdentity = {
  kind: 'agent',
  id: 'spiffe://prod.example/ns/ir/sa/triage',
  issuer: 'spiffe://prod.example',
  issuerName: 'prod.example',
  subject: 'spiffe://prod.example/ns/ir/sa/triage',
  trustDomain: 'prod.example',
  expiresAt: T + 60_000,
  acceptedUntil: T + 60_000,
  fingerprint: 'fp',
  tokenId: 'tid',
};
const oidc: AgentIdentity = {
  kind: 'agent',
  id: 'https://token.actions.githubusercontent.com#repo:acme/ir:ref:refs/heads/main',
  issuer: 'https://token.actions.githubusercontent.com',
  issuerName: 'github',
  subject: 'repo:acme/ir:ref:refs/heads/main',
  expiresAt: T + 60_000,
  acceptedUntil: T + 60_000,
  fingerprint: 'fp',
  tokenId: 'tid',
  claims: { team: 'ir' },
};
const profile = (approval?: ProfileEntry['config']['approval']): ProfileEntry =>
  ({
    name: 'fix',
    config: {
      provider: 'jwt',
      description: '',
      maxTtl: 900,
      tier: 'remediate',
      agents: ['.*'],
      params: {},
      singleUse: false,
      ...(approval ? { approval } : {}),
    },
    params: {},
    provider: { name: 'jwt' },
    agentMatchers: [/^(?:.*)$/u],
  }) as unknown as ProfileEntry;
const incident: Incident = {
  id: 'INC-1',
  source: 'api',
  title: 't',
  severity: 'sev2',
  status: 'open',
  openedAt: T,
  openedBy: 'alice',
  tiersGranted: ['read'],
};
const before: Decision = { effect: 'allow', decidedBy: ['profiles.fix.agents'], reasons: ['agent matches profiles.fix.agents'] };
const input = (over: Partial<PolicyInput> = {}): PolicyInput => ({
  agent: spiffe,
  profile: profile(),
  incident,
  ttlSeconds: 600,
  purpose: 'rotate',
  quarantined: false,
  now: T,
  decision: before,
  ...over,
});

/** A policy that answers from a script keyed by `approved`, and records what it was asked. */
function scripted(answers: { asIs: PolicyDecision; approved?: PolicyDecision }) {
  const asked: PolicyRequest[] = [];
  return {
    asked,
    decide(request: PolicyRequest): PolicyDecision {
      asked.push(request);
      return request.approved ? (answers.approved ?? answers.asIs) : answers.asIs;
    },
  };
}
const allow = (...policyIds: string[]): PolicyDecision => ({ effect: 'allow', policyIds, errors: [] });
const deny = (...policyIds: string[]): PolicyDecision => ({ effect: 'deny', policyIds, errors: [] });
const refusal = (fn: () => unknown): Decision => {
  try {
    fn();
  } catch (err) {
    if (err instanceof PolicyDenied) return err.decision;
    throw err;
  }
  throw new Error('not refused');
};

describe('the request in the schema’s terms', () => {
  it('describes a SPIFFE agent by its trust domain and path, and the incident and context as they are', () => {
    expect(policyRequestOf(input())).toEqual({
      action: 'issue',
      agent: { id: spiffe.id, kind: 'spiffe', trustDomain: 'prod.example', path: '/ns/ir/sa/triage', issuer: 'spiffe://prod.example' },
      profile: { name: 'fix', provider: 'jwt', tier: 'remediate', maxTtl: 900 },
      incident: { id: 'INC-1', severity: 2, status: 'open', source: 'api', major: false, tiersGranted: ['read'] },
      ttlSeconds: 600,
      purpose: 'rotate',
      quarantined: false,
      approved: false,
      hour: 13,
    });
  });

  it('describes an OIDC agent by its issuer host and subject, with its mapped claims', () => {
    expect(policyRequestOf(input({ agent: oidc })).agent).toEqual({
      id: oidc.id,
      kind: 'oidc',
      trustDomain: 'token.actions.githubusercontent.com',
      path: 'repo:acme/ir:ref:refs/heads/main',
      issuer: 'https://token.actions.githubusercontent.com',
      claims: { team: 'ir' },
    });
    // An issuer that is no URL: its configured name stands for the host.
    expect(policyRequestOf(input({ agent: { ...oidc, issuer: 'urn:issuer:ci' } })).agent.trustDomain).toBe('github');
  });

  it('carries break-glass while it lasts, the approval, the quarantine, and no tiers for a new incident', () => {
    const major = { startedAt: T - 1000, endsAt: T + 1000, by: 'bob', reason: 'r' };
    const fresh: Incident = { ...incident };
    delete (fresh as { tiersGranted?: unknown }).tiersGranted;
    const r = policyRequestOf(input({ incident: { ...fresh, major }, approved: true, quarantined: true }));
    expect([r.incident.major, r.approved, r.quarantined, r.incident.tiersGranted]).toEqual([true, true, true, []]);
    expect(policyRequestOf(input({ incident: { ...incident, major: { ...major, endsAt: T } } })).incident.major).toBe(false);
  });
});

describe('what a policy answer becomes', () => {
  it('adds the permitting policies after what decided before', () => {
    expect(authorizeByPolicy(scripted({ asIs: allow('tier-read') }), input())).toEqual({
      effect: 'allow',
      decidedBy: ['profiles.fix.agents', 'policy:tier-read'],
      reasons: ['agent matches profiles.fix.agents', 'permitted by policy:tier-read'],
    });
  });

  it('refuses naming the forbids that denied, "no-permit" when nothing permitted, "request-unfit" when the request did not type', () => {
    expect(refusal(() => authorizeByPolicy(scripted({ asIs: deny('ttl-cap') }), input()))).toEqual({
      effect: 'deny',
      decidedBy: ['policy:ttl-cap'],
      reasons: ['forbidden by policy:ttl-cap'],
    });
    expect(refusal(() => authorizeByPolicy(scripted({ asIs: deny() }), input()))).toEqual({
      effect: 'deny',
      decidedBy: ['policy:no-permit'],
      reasons: ['no policy permits it'],
    });
    const unfit: PolicyDecision = { effect: 'deny', policyIds: [], errors: ['agent claim team is not a String'], unfit: true };
    expect(refusal(() => authorizeByPolicy(scripted({ asIs: unfit }), input()))).toEqual({
      effect: 'deny',
      decidedBy: ['policy:request-unfit'],
      reasons: ['the request does not fit the policy schema', 'agent claim team is not a String'],
    });
  });
});

describe('asking again as approved', () => {
  it('asks once when the request is allowed as it stands, and needs no approval', () => {
    const policy = scripted({ asIs: allow('tier-read') });
    expect(authorizeByPolicyOrApproval(policy, input())).toMatchObject({ approvalAskedBy: null, decision: { effect: 'allow' } });
    expect(policy.asked.map((r) => r.approved)).toEqual([false]);
  });

  it('makes a request allowed only as approved wait, naming the policies that asked', () => {
    const policy = scripted({ asIs: deny('needs-approval'), approved: allow('tier-remediate') });
    const outcome = authorizeByPolicyOrApproval(policy, input());
    expect(outcome).toEqual({
      approvalAskedBy: ['needs-approval'],
      decision: {
        effect: 'allow',
        decidedBy: ['profiles.fix.agents', 'policy:tier-remediate'],
        reasons: ['agent matches profiles.fix.agents', 'permitted by policy:tier-remediate'],
      },
    });
    expect(policy.asked.map((r) => r.approved)).toEqual([false, true]);
    // No permit without approval: asked by nobody in particular.
    expect(authorizeByPolicyOrApproval(scripted({ asIs: deny(), approved: allow('p') }), input()).approvalAskedBy).toEqual([]);
  });

  it('refuses what is refused even as approved, naming what still refuses it, and never asks a human about an unfit request', () => {
    expect(
      refusal(() => authorizeByPolicyOrApproval(scripted({ asIs: deny('needs-approval'), approved: deny('ttl-cap') }), input())),
    ).toMatchObject({
      decidedBy: ['policy:ttl-cap'],
    });
    const unfit: PolicyDecision = { effect: 'deny', policyIds: [], errors: ['x'], unfit: true };
    const policy = scripted({ asIs: unfit, approved: allow('p') });
    expect(refusal(() => authorizeByPolicyOrApproval(policy, input()))).toMatchObject({ decidedBy: ['policy:request-unfit'] });
  });
});

describe('the approval rule', () => {
  const { config } = testConfig({ approvals: { defaultRule: { approvers: ['approver'], quorum: 1, expiresSeconds: 900 } } });
  const notes: Record<string, Record<string, string>> = {
    two: { quorum: '2', approvers: 'ir-lead, sec-lead' },
    nine: { quorum: '9' },
    junk: { quorum: 'many', approvers: ' ' },
  };
  const of = (id: string) => notes[id] ?? {};

  it('asks for nothing when neither the profile nor a policy asks', () => {
    expect(approvalRuleFor(config, profile(), null, of)).toBeNull();
  });

  it('takes the profile’s own rule', () => {
    expect(approvalRuleFor(config, profile({ approvers: ['ops'], quorum: 3, expiresSeconds: 120 }), null, of)).toEqual({
      approvers: ['ops'],
      quorum: 3,
      expiresSeconds: 120,
      from: ['profiles.fix.approval'],
    });
  });

  it('takes what the asking policies annotate, the default for the rest, and caps the quorum at 5', () => {
    expect(approvalRuleFor(config, profile(), ['two'], of)).toEqual({
      approvers: ['ir-lead', 'sec-lead'],
      quorum: 2,
      expiresSeconds: 900,
      from: ['policy:two', 'approvals.defaultRule'],
    });
    expect(approvalRuleFor(config, profile(), ['nine', 'junk'], of)).toEqual({
      approvers: ['approver'],
      quorum: 5,
      expiresSeconds: 900,
      from: ['policy:nine', 'policy:junk', 'approvals.defaultRule'],
    });
    expect(approvalRuleFor(config, profile(), [], of)).toEqual({
      approvers: ['approver'],
      quorum: 1,
      expiresSeconds: 900,
      from: ['policy:no-permit-without-approval', 'approvals.defaultRule'],
    });
  });

  it('combines a profile and a policy to the strictest: the highest quorum, the profile’s approvers', () => {
    expect(approvalRuleFor(config, profile({ approvers: ['ops'], quorum: 1, expiresSeconds: 300 }), ['two'], of)).toEqual({
      approvers: ['ops'],
      quorum: 2,
      expiresSeconds: 300,
      from: ['profiles.fix.approval', 'policy:two'],
    });
  });
});

describe('loadIncident for a reopened webhook incident', () => {
  const closed: Incident = {
    ...incident,
    id: 'pagerduty:Q1',
    source: 'pagerduty',
    status: 'closed',
    closedAt: T,
    closedBy: 'webhook:pagerduty',
  };
  const reopened: Incident = { ...incident, id: 'pagerduty:Q1:r2', source: 'pagerduty' };
  const world = async (current: string | null, epochs: Incident[]) => {
    const store = createMemoryStore();
    for (const e of epochs) await store.createIncident(e.status === 'closed' ? { ...e, status: 'open' } : e);
    for (const e of epochs) if (e.status === 'closed') await store.closeIncident(e.id, T, 'webhook:pagerduty');
    if (current !== null)
      expect(
        await store.compareAndSetRegister(
          registerKey('pagerduty', 'Q1'),
          null,
          JSON.stringify({ epoch: 2, incidentId: current, status: 'open' }),
        ),
      ).toBe(true);
    return { store };
  };
  const load = (deps: { store: ReturnType<typeof createMemoryStore> }, id = 'pagerduty:Q1') =>
    loadIncident(deps, { request: { incidentId: id, profile: 'fix', purpose: 'p' } });

  it('serves the closed epoch’s id from the current open epoch', async () => {
    expect((await load(await world('pagerduty:Q1:r2', [closed, reopened]))).id).toBe('pagerduty:Q1:r2');
  });

  it('refuses it closed when the source incident was not reopened, or its current epoch closed too', async () => {
    await expect(load(await world('pagerduty:Q1', [closed]))).rejects.toMatchObject({ code: 'ERR_INCIDENT_CLOSED' });
    await expect(load(await world(null, [closed]))).rejects.toMatchObject({ code: 'ERR_INCIDENT_CLOSED' });
    const closedToo = { ...reopened, status: 'closed' as const };
    await expect(load(await world('pagerduty:Q1:r2', [closed, closedToo]))).rejects.toMatchObject({ code: 'ERR_INCIDENT_CLOSED' });
    await expect(load(await world('pagerduty:Q1:r9', [closed]))).rejects.toMatchObject({ code: 'ERR_INCIDENT_CLOSED' });
  });

  it('refuses a closed incident of no webhook source without looking further', async () => {
    const apiClosed = { ...incident, id: 'INC-9', status: 'closed' as const };
    await expect(load(await world(null, [apiClosed]), 'INC-9')).rejects.toMatchObject({ code: 'ERR_INCIDENT_CLOSED' });
    await expect(load(await world(null, []), 'INC-404')).rejects.toMatchObject({ code: 'ERR_INCIDENT_NOT_FOUND' });
  });
});
