/**
 * Claim constraints (claim_constraints.ts): RFC 6901 pointers over own members only, anchored
 * patterns, exact lists, and strings only.
 */
import { describe, expect, it } from 'vitest';
import { checkClaimConstraints, compileClaimConstraints, parsePointer, resolvePointer } from '../../src/identity/claim_constraints.js';

const test = (
  constraint: { claim: string; equals?: string | string[]; pattern?: string },
  claims: Record<string, unknown>,
): string | null => compileClaimConstraints([constraint])[0]!.test(claims);

describe('JSON Pointer', () => {
  it('unescapes ~1 and ~0 (RFC 6901 §4) and keeps dots in names', () => {
    expect(parsePointer('/kubernetes.io/namespace')).toEqual(['kubernetes.io', 'namespace']);
    expect(parsePointer('/a~1b/c~0d/~01')).toEqual(['a/b', 'c~d', '~1']);
  });

  it('follows own members of objects only: never arrays, never Object.prototype', () => {
    const claims = JSON.parse('{"a":{"b":"x"},"list":["y"],"__proto__":{"polluted":"z"}}') as Record<string, unknown>;
    expect(resolvePointer(claims, ['a', 'b'])).toBe('x');
    expect(resolvePointer(claims, ['list', '0'])).toBeUndefined();
    expect(resolvePointer(claims, ['toString'])).toBeUndefined();
    expect(resolvePointer(claims, ['a', 'constructor'])).toBeUndefined();
    expect(resolvePointer(claims, ['__proto__', 'polluted'])).toBe('z');
    expect(resolvePointer({}, ['__proto__'])).toBeUndefined();
    // Strings and null are no objects: not even a string's own index or length is followed.
    expect(resolvePointer({ ns: 'abc' }, ['ns', '0'])).toBeUndefined();
    expect(resolvePointer({ ns: 'abc' }, ['ns', 'length'])).toBeUndefined();
    expect(resolvePointer({ ns: null }, ['ns', 'x'])).toBeUndefined();
  });
});

describe('constraints', () => {
  it('anchors a pattern: an alternation matches whole values only', () => {
    const c = { claim: '/repository', pattern: 'acme/ops|acme/forensics' };
    expect(test(c, { repository: 'acme/ops' })).toBeNull();
    expect(test(c, { repository: 'acme/forensics' })).toBeNull();
    for (const value of ['acme/ops-evil', 'evil/acme/ops', 'xacme/forensics', 'acme/ops\n'])
      expect(test(c, { repository: value })).toMatch(/does not match/);
  });

  it('compares equals exactly, with one value or a list', () => {
    expect(test({ claim: '/ns', equals: 'a.b' }, { ns: 'a.b' })).toBeNull();
    expect(test({ claim: '/ns', equals: 'a.b' }, { ns: 'aXb' })).toMatch(/does not match/);
    expect(test({ claim: '/ns', equals: ['x', 'y'] }, { ns: 'y' })).toBeNull();
    expect(test({ claim: '/ns', equals: ['x', 'y'] }, { ns: 'X' })).toMatch(/does not match/);
  });

  it('fails a missing claim and any value that is not a string', () => {
    expect(test({ claim: '/ns', equals: 'a' }, {})).toMatch(/missing/);
    for (const value of [1, true, null, ['a'], { a: 'a' }])
      expect(test({ claim: '/ns', equals: 'a' }, { ns: value })).toMatch(/not a string/);
  });

  it('names an attacker-controlled value in its message only cleaned and bounded', () => {
    const message = test({ claim: '/ns', equals: 'a' }, { ns: `x\u0000\n${'y'.repeat(500)}` }) ?? '';
    expect(message).not.toContain('\u0000');
    expect(message).not.toContain('\n');
    expect(message.length).toBeLessThan(220);
  });
});

describe('patterns and lists, at their edges', () => {
  it('matches patterns in Unicode mode: one astral character is one character', () => {
    expect(test({ claim: '/ns', pattern: '.' }, { ns: '\u{1F600}' })).toBeNull();
    expect(test({ claim: '/ns', pattern: '.' }, { ns: 'ab' })).toMatch(/does not match/);
  });

  it('allows nothing when a constraint has neither equals nor pattern', () => {
    expect(test({ claim: '/ns', equals: '' }, { ns: '' })).toBeNull();
    expect(test({ claim: '/ns' }, { ns: '' })).toBe('claim /ns ("") does not match');
    expect(test({ claim: '/ns' }, { ns: 'anything' })).toBe('claim /ns ("anything") does not match');
  });

  it('names the claim as configured in every message', () => {
    expect(test({ claim: '/a~1b', equals: 'x' }, {})).toBe('claim /a~1b is missing');
    expect(test({ claim: '/a~1b', equals: 'x' }, { 'a/b': 1 })).toBe('claim /a~1b is not a string');
    expect(test({ claim: '/a~1b', equals: 'x' }, { 'a/b': 'y' })).toBe('claim /a~1b ("y") does not match');
  });
});

describe('checkClaimConstraints', () => {
  const constraints = compileClaimConstraints([
    { claim: '/repository', equals: 'acme/ops' },
    { claim: '/ref', pattern: 'refs/heads/main' },
  ]);

  it('passes claims that meet every constraint, and refuses the first one they fail with ERR_TOKEN_CLAIMS', () => {
    expect(constraints.map((c) => c.claim)).toEqual(['/repository', '/ref']);
    expect(() => checkClaimConstraints(constraints, { repository: 'acme/ops', ref: 'refs/heads/main' }, 'ci')).not.toThrow();
    expect(() => checkClaimConstraints([], {}, 'ci')).not.toThrow();
    for (const [claims, detail] of [
      [{ repository: 'acme/ops', ref: 'refs/heads/dev' }, 'ci: claim /ref ("refs/heads/dev") does not match'],
      [{ repository: 'acme/evil', ref: 'refs/heads/dev' }, 'ci: claim /repository ("acme/evil") does not match'],
      [{ ref: 'refs/heads/main' }, 'ci: claim /repository is missing'],
    ] as const) {
      let caught: unknown;
      try {
        checkClaimConstraints(constraints, claims, 'ci');
      } catch (err) {
        caught = err;
      }
      expect(caught).toMatchObject({ code: 'ERR_TOKEN_CLAIMS', status: 401, detail });
    }
  });
});
