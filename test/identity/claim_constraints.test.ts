/**
 * Claim constraints (claim_constraints.ts): RFC 6901 pointers over own members only, anchored
 * patterns, exact lists, and strings only.
 */
import { describe, expect, it } from 'vitest';
import { compileClaimConstraints, parsePointer, resolvePointer } from '../../src/identity/claim_constraints.js';

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
