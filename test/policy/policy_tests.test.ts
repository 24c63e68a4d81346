/**
 * Decision tests in YAML (src/policy/policy_tests.ts), in process: a case passes only when the
 * effect, the deciding policies (when given) and the absence of evaluation errors all match;
 * `defaults` merge one level deep; a case that does not fit the request's shape is refused naming
 * the case and the field. (The CLI over it: test/policy/policy_set.test.ts.)
 */
import { describe, expect, it } from 'vitest';
import type { LoadedPolicySet, PolicyDecision } from '../../src/policy/policy_set.js';
import { parsePolicyTests, runPolicyTests } from '../../src/policy/policy_tests.js';

const DEFAULTS = `defaults:
  action: issue
  agent: { id: 'spiffe://dev.local/agent/a', kind: spiffe, trustDomain: dev.local, path: /agent/a, issuer: 'spiffe://dev.local' }
  profile: { name: demo, provider: jwt, tier: read, maxTtl: 900 }
  incident: { id: INC-1, severity: 2, status: open, source: api, major: false, tiersGranted: [] }
  ttlSeconds: 300
  purpose: triage
  quarantined: false
  approved: false
  hour: 12
`;
/** A set that answers `answer` to every request. */
const answering = (answer: PolicyDecision): LoadedPolicySet => ({
  source: {} as LoadedPolicySet['source'],
  decide: () => answer,
  decideSignal: () => {
    throw new Error('not a signal case');
  },
});
const run = (answer: PolicyDecision, cases: string) => runPolicyTests(answering(answer), `${DEFAULTS}cases:\n${cases}`);

describe('running decision cases', () => {
  it('passes a case whose effect and policies match, with no evaluation error', () => {
    const [r] = run({ effect: 'allow', policyIds: ['a', 'b'], errors: [] }, '  - { name: ok, expect: allow, policies: [b, a] }\n');
    expect(r).toEqual({
      name: 'ok',
      passed: true,
      expected: { effect: 'allow', policies: ['b', 'a'] },
      got: { effect: 'allow', policyIds: ['a', 'b'], errors: [] },
    });
  });

  it('fails a case whose effect differs, whose policies differ, or that errored', () => {
    const allow = { effect: 'allow' as const, policyIds: ['a'], errors: [] };
    expect(run(allow, '  - { name: effect, expect: deny, policies: [a] }\n')[0]?.passed).toBe(false);
    expect(run(allow, '  - { name: policies, expect: allow, policies: [b] }\n')[0]?.passed).toBe(false);
    expect(run(allow, '  - { name: more, expect: allow, policies: [a, b] }\n')[0]?.passed).toBe(false);
    expect(run({ ...allow, errors: ['x: boom'] }, '  - { name: errored, expect: allow, policies: [a] }\n')[0]?.passed).toBe(false);
  });

  it('checks only the effect when a case names no policies', () => {
    const [r] = run({ effect: 'deny', policyIds: ['f'], errors: [] }, '  - { name: any, expect: deny }\n');
    expect(r).toMatchObject({ passed: true, expected: { effect: 'deny' } });
    expect(r?.expected).not.toHaveProperty('policies');
  });
});

describe('parsing decision cases', () => {
  it('merges a case over the defaults one level deep, and replaces what is not an object', () => {
    const [c] = parsePolicyTests(
      `${DEFAULTS}cases:\n  - { name: m, agent: { trustDomain: evil.example }, ttlSeconds: 60, expect: deny }\n`,
    );
    expect(c?.request.agent).toEqual({
      id: 'spiffe://dev.local/agent/a',
      kind: 'spiffe',
      trustDomain: 'evil.example',
      path: '/agent/a',
      issuer: 'spiffe://dev.local',
    });
    expect([c?.request.ttlSeconds, c?.request.profile.tier, c?.expect]).toEqual([60, 'read', 'deny']);
    expect(c).not.toHaveProperty('policies');
  });

  it('refuses a case that does not fit, naming the case and the field', () => {
    expect(() => parsePolicyTests(`${DEFAULTS}cases:\n  - { name: bad, incident: { severity: 9 }, expect: allow }\n`)).toThrow(
      /^case "bad": incident\.severity: /u,
    );
    expect(() => parsePolicyTests(`${DEFAULTS}cases:\n  - { name: extra, colour: red, expect: allow }\n`)).toThrow(
      /^case "extra": \(request\): /u,
    );
    expect(() => parsePolicyTests('cases:\n  - { name: empty, expect: allow }\n')).toThrow(/^case "empty": /u);
  });
});
