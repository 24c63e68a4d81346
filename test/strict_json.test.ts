/**
 * Strict JSON (src/strict_json.ts): member names unique in every object at any depth, compared
 * after unescaping, and a scanner that steps over arrays, nested objects and escaped quotes or
 * backslashes without losing its place. Each duplicate case first shows the same text without the
 * duplicate passing.
 */
import { describe, expect, it } from 'vitest';
import { DuplicateMemberError, findDuplicateMember, parseStrictJson } from '../src/strict_json.js';

/** `before` with no duplicate passes; `before` followed by a second "aud" is caught. */
const audAfter = (before: string): { valid: string; duplicate: string } => ({
  valid: `{"aud":"qm",${before}}`,
  duplicate: `{"aud":"qm",${before},"aud":"x"}`,
});

describe('parseStrictJson', () => {
  it('returns what JSON.parse returns when every name is unique', () => {
    const text = '{"a":1,"b":{"a":[1,{"a":null}]},"c":"\\"a\\""}';
    expect(parseStrictJson(text)).toEqual(JSON.parse(text));
    expect(parseStrictJson('[1,"a",{"a":true}]')).toEqual([1, 'a', { a: true }]);
    expect(parseStrictJson('"a"')).toBe('a');
  });

  it('refuses a duplicate member with a DuplicateMemberError naming it', () => {
    expect(parseStrictJson('{"role":"viewer","mode":"x"}')).toEqual({ role: 'viewer', mode: 'x' });
    let caught: unknown;
    try {
      parseStrictJson('{"role":"viewer","role":"admin"}');
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(DuplicateMemberError);
    expect(caught).toBeInstanceOf(Error);
    expect(caught).toMatchObject({ name: 'DuplicateMemberError', member: 'role', message: 'duplicate member name' });
  });

  it('refuses text that is not JSON with a SyntaxError, before looking for duplicates', () => {
    expect(() => parseStrictJson('{"a":1,"a":2')).toThrow(SyntaxError);
    expect(() => parseStrictJson('')).toThrow(SyntaxError);
  });
});

describe('findDuplicateMember', () => {
  it('finds a duplicate at the top level, in a nested object and in an object inside an array', () => {
    expect(findDuplicateMember('{"a":1,"b":2}')).toBeNull();
    expect(findDuplicateMember('{"a":1,"b":2,"a":3}')).toBe('a');
    expect(findDuplicateMember('{"o":{"a":1,"b":2}}')).toBeNull();
    expect(findDuplicateMember('{"o":{"a":1,"b":2,"b":3}}')).toBe('b');
    expect(findDuplicateMember('[{"a":1},{"a":2,"c":3}]')).toBeNull();
    expect(findDuplicateMember('[{"a":1},{"a":2,"c":3,"c":4}]')).toBe('c');
  });

  it('reports the first name that repeats', () => {
    expect(findDuplicateMember('{"a":1,"b":2,"b":3,"a":4}')).toBe('b');
  });

  it('compares names after unescaping them', () => {
    expect(findDuplicateMember('{"a":1,"\\u0062":2}')).toBeNull();
    expect(findDuplicateMember('{"a":1,"\\u0061":2}')).toBe('a');
    expect(findDuplicateMember('{"\\"":1,"\\u0022":2}')).toBe('"');
    expect(findDuplicateMember('{"a\\\\b":1,"a\\u005cb":2}')).toBe('a\\b');
  });

  it('reads values as values, never as names', () => {
    expect(findDuplicateMember('{"a":"a"}')).toBeNull();
    expect(findDuplicateMember('{"a":"b","b":"a"}')).toBeNull();
    expect(findDuplicateMember('{"a":["a","a"],"b":"a"}')).toBeNull();
    expect(findDuplicateMember('["a","a",["a"]]')).toBeNull();
  });

  it('keeps names of sibling and nested objects apart', () => {
    expect(findDuplicateMember('{"a":{"a":{"a":1}},"b":{"a":2}}')).toBeNull();
    expect(findDuplicateMember('{"a":{"x":1},"x":2}')).toBeNull();
    expect(findDuplicateMember('{"a":[{"x":1}],"x":2}')).toBeNull();
    expect(findDuplicateMember('{"a":{},"b":[],"c":{"d":[]}}')).toBeNull();
  });

  it.each([
    ['an array value', '"v":["aud"]'],
    ['an array of objects', '"v":[{"aud":1},{"aud":2}]'],
    ['an empty array', '"v":[]'],
    ['nested arrays and objects', '"v":[[{"aud":["y",{"aud":"z"}]}],{}]'],
    ['a nested object', '"act":{"aud":"y","sub":"z"}'],
    ['an empty object', '"v":{}'],
    ['a string with an escaped quote', '"v":"a\\""'],
    ['a string that spells a member', '"v":"\\",\\"aud\\":\\"y"'],
    ['a string ending in an escaped backslash', '"v":"a\\\\"'],
    ['a string of escaped backslashes', '"v":"\\\\\\\\","w":"\\\\"'],
    ['an escaped backslash then an escaped quote', '"v":"a\\\\\\""'],
    ['a name with an escaped quote', '"a\\"":1'],
    ['a string holding brackets and braces', '"v":"]}[{,"'],
  ])('finds a duplicate after %s', (_what, before) => {
    const { valid, duplicate } = audAfter(before);
    expect(() => JSON.parse(valid) as unknown).not.toThrow();
    expect(findDuplicateMember(valid)).toBeNull();
    expect(findDuplicateMember(duplicate)).toBe('aud');
  });

  it('stops at an unterminated string instead of reading past the end', () => {
    expect(findDuplicateMember('{"a":1,"b')).toBeNull();
    expect(findDuplicateMember('["a')).toBeNull();
    expect(findDuplicateMember('{"a":1,"b":"\\"')).toBeNull();
  });
});
