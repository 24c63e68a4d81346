/**
 * Token claims in policy (src/policy/agent_claims.ts): the schema declares `Agent.claims`, the
 * config maps token claims to its attributes, a decision types them by the schema. A claim that
 * does not fit its type denies (a forbid testing it is never skipped); a schema that declares a
 * required or unsupported claim, and a mapping that does not match the schema, refuse to load.
 */
import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { pickClaims, typedClaims } from '../../src/policy/agent_claims.js';
import { loadPolicySet, PolicyLoadError, readPolicyDir, SCHEMA_FILE, type PolicyRequest } from '../../src/policy/policy_set.js';
import { parsePolicyTests } from '../../src/policy/policy_tests.js';

const DIR = 'config/policies';
const SHIPPED_SCHEMA = readFileSync(join(DIR, SCHEMA_FILE), 'utf8');

/** The shipped directory with `claims` declared on Agent, and `files` over it. */
function claimsDir(claims: string, files: Record<string, string> = {}): string {
  const dir = mkdtempSync(join(tmpdir(), 'qm-claims-'));
  for (const f of ['trust.cedar', 'tiers.cedar', 'ttl.cedar']) copyFileSync(join(DIR, f), join(dir, f));
  const schema = SHIPPED_SCHEMA.replace('type AgentClaims = {};', `type AgentClaims = ${claims};`);
  expect(schema).not.toBe(SHIPPED_SCHEMA);
  writeFileSync(join(dir, SCHEMA_FILE), schema);
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}

const TEAM_POLICIES = {
  'claims.cedar': `
@id("ir-team-only")
forbid (principal, action == Quartermaster::Action::"issue", resource)
unless { principal.claims has team && principal.claims.team == "ir" };

@id("no-contractors")
forbid (principal, action == Quartermaster::Action::"issue", resource)
when { principal.claims has groups && principal.claims.groups.contains("contractors") };
`,
};

const [readCase] = parsePolicyTests(readFileSync(join(DIR, 'policy_tests.yaml'), 'utf8'));
const withClaims = (claims: Record<string, unknown> | undefined): PolicyRequest => ({
  ...readCase!.request,
  agent: { ...readCase!.request.agent, ...(claims === undefined ? {} : { claims }) },
});

const loadProblems = (dir: string, agentClaims?: string[]): readonly string[] => {
  try {
    loadPolicySet(readPolicyDir(dir), undefined, agentClaims ? { agentClaims } : {});
  } catch (err) {
    if (err instanceof PolicyLoadError) return err.problems;
    throw err;
  }
  return [];
};

describe('agent claims in decisions', () => {
  // Loaded by the first test that decides (inside a test, so mutation testing sees what covers it).
  let loaded: ReturnType<typeof loadPolicySet> | undefined;
  const set = {
    decide: (r: PolicyRequest) =>
      (loaded ??= loadPolicySet(
        readPolicyDir(claimsDir('{ team?: String, groups?: Set<String>, level?: Long, levels?: Set<Long>, oncall?: Bool }', TEAM_POLICIES)),
        undefined,
        { agentClaims: ['team', 'groups', 'level', 'levels', 'oncall'] },
      )).decide(r),
  };

  it('allows the agent whose claim the policy asks for, and denies another value or none', () => {
    expect(set.decide(withClaims({ team: 'ir' }))).toEqual({ effect: 'allow', policyIds: ['tier-read'], errors: [] });
    expect(set.decide(withClaims({ team: 'sales' }))).toEqual({ effect: 'deny', policyIds: ['ir-team-only'], errors: [] });
    expect(set.decide(withClaims(undefined))).toEqual({ effect: 'deny', policyIds: ['ir-team-only'], errors: [] });
  });

  it('reads a set claim, and takes a bare string as a one-element set', () => {
    expect(set.decide(withClaims({ team: 'ir', groups: ['oncall'] })).effect).toBe('allow');
    expect(set.decide(withClaims({ team: 'ir', groups: ['oncall', 'contractors'] })).policyIds).toEqual(['no-contractors']);
    expect(set.decide(withClaims({ team: 'ir', groups: 'contractors' })).policyIds).toEqual(['no-contractors']);
  });

  it('denies a claim that does not fit its declared type instead of skipping the forbid that tests it', () => {
    expect(set.decide(withClaims({ team: 'ir', groups: ['oncall'], level: 3 })).effect).toBe('allow');
    for (const odd of [{ groups: [7] }, { groups: { contractors: true } }, { level: '3' }, { level: 1.5 }, { team: ['ir'] }]) {
      const decided = set.decide(withClaims({ team: 'ir', groups: ['oncall'], level: 3, ...odd }));
      expect(decided.effect, JSON.stringify(odd)).toBe('deny');
      expect(decided.errors[0]).toMatch(/^agent claim (groups|level|team) is not a /u);
    }
  });

  it('types Long sets and booleans, and refuses what does not fit them', () => {
    expect(set.decide(withClaims({ team: 'ir', levels: [1, 2, 2], oncall: true })).effect).toBe('allow');
    for (const odd of [{ levels: [1.5] }, { levels: 3 }, { levels: ['1'] }, { oncall: 'true' }]) {
      expect(set.decide(withClaims({ team: 'ir', ...odd })).effect, JSON.stringify(odd)).toBe('deny');
    }
    expect(set.decide(withClaims({ team: 'ir', levels: Array.from({ length: 257 }, (_, i) => i) })).effect).toBe('deny');
    expect(set.decide(withClaims({ team: 'ir', groups: Array.from({ length: 256 }, (_, i) => `g${i}`) })).effect).toBe('allow');
    expect(set.decide(withClaims({ team: 'ir', groups: Array.from({ length: 257 }, (_, i) => `g${i}`) })).effect).toBe('deny');
  });

  it('denies a string claim longer than the limit', () => {
    expect(set.decide(withClaims({ team: 'ir', groups: ['x'.repeat(1024)] })).effect).toBe('allow');
    expect(set.decide(withClaims({ team: 'ir', groups: ['x'.repeat(1025)] })).effect).toBe('deny');
  });

  it('types claims only as far as the schema declares them', () => {
    expect(typedClaims(new Map([['team', 'String']]), { team: 'ir', other: 5 })).toEqual({ claims: { team: 'ir' } });
  });
});

describe('agent claims at load', () => {
  it('loads a schema of optional claims that the mapping names exactly', () => {
    expect(loadProblems(claimsDir('{ team?: String }'), ['team'])).toEqual([]);
  });

  it('refuses a required claim and a claim of an unsupported type', () => {
    expect(loadProblems(claimsDir('{ team: String }'))).toEqual([
      `${SCHEMA_FILE}: Agent.claims.team must be optional (team?: String): a token may not carry it`,
    ]);
    expect(loadProblems(claimsDir('{ team?: { name: String } }'))).toEqual([
      `${SCHEMA_FILE}: Agent.claims.team: a claim is a String, Long, Bool, Set<String> or Set<Long>`,
    ]);
    expect(loadProblems(claimsDir('{ flags?: Set<Bool> }'))).toEqual([
      `${SCHEMA_FILE}: Agent.claims.flags: a claim is a String, Long, Bool, Set<String> or Set<Long>`,
    ]);
    expect(loadProblems(claimsDir('{ at?: decimal }'))).toEqual([
      `${SCHEMA_FILE}: Agent.claims.at: a claim is a String, Long, Bool, Set<String> or Set<Long>`,
    ]);
    for (const ok of ['{ a?: String }', '{ a?: Long }', '{ a?: Bool }', '{ a?: Set<String> }', '{ a?: Set<Long> }']) {
      expect(loadProblems(claimsDir(ok), ['a']), ok).toEqual([]);
    }
  });

  it('refuses a mapping naming a claim the schema lacks, and a declared claim nothing maps', () => {
    expect(loadProblems(claimsDir('{ team?: String }'), ['team', 'env'])).toEqual([
      `${SCHEMA_FILE}: policy.agentClaims maps "env", but the schema declares no Agent.claims.env`,
    ]);
    expect(loadProblems(claimsDir('{ team?: String, env?: String }'), ['team'])).toEqual([
      `${SCHEMA_FILE}: the schema declares Agent.claims.env, but policy.agentClaims does not map it to a token claim`,
    ]);
    expect(loadProblems(DIR, ['team'])).toEqual([
      `${SCHEMA_FILE}: policy.agentClaims maps "team", but the schema declares no Agent.claims.team`,
    ]);
  });
});

describe('picking claims from a verified payload', () => {
  it('takes top-level claims and paths into nested objects, own properties only', () => {
    const payload = { team: 'ir', 'kubernetes.io': { namespace: 'ir-agents' }, n: 0 };
    expect(pickClaims(payload, { team: 'team', ns: ['kubernetes.io', 'namespace'], n: 'n' })).toEqual({
      team: 'ir',
      ns: 'ir-agents',
      n: 0,
    });
    expect(
      pickClaims(payload, { missing: 'absent', deep: ['team', 'length'], proto: 'toString', ctor: ['kubernetes.io', 'constructor'] }),
    ).toBe(undefined);
  });
});
