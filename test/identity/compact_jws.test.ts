/**
 * The compact JWS structure checks (src/identity/compact_jws.ts) on their own, at their bounds:
 * the size cap in UTF-8 bytes, exactly three parts, canonical base64url for each remainder length,
 * and header/payload JSON objects. The reason goes to `detail`; the verifier's use of these checks
 * is in attacks.test.ts.
 */
import { describe, expect, it } from 'vitest';
import type { BrokerError } from '../../src/errors.js';
import { decodeCanonical, decodeJsonObject, splitCompact } from '../../src/identity/compact_jws.js';
import { b64 } from './token_factory.js';

/** The refusal `run` throws: always ERR_TOKEN_MALFORMED, 401; returns its detail. */
function malformed(run: () => unknown): string {
  let caught: unknown;
  try {
    run();
  } catch (err) {
    caught = err;
  }
  expect(caught).toMatchObject({ code: 'ERR_TOKEN_MALFORMED', status: 401 });
  return (caught as BrokerError).detail ?? '';
}

describe('splitCompact', () => {
  it('splits three parts and keeps header.payload as the signing input', () => {
    expect(splitCompact('aa.bb.cc', 100)).toEqual({ header: 'aa', payload: 'bb', signature: 'cc', signingInput: 'aa.bb' });
    expect(splitCompact('..', 100)).toEqual({ header: '', payload: '', signature: '', signingInput: '.' });
    expect(splitCompact('a.b.c', 100)).toEqual({ header: 'a', payload: 'b', signature: 'c', signingInput: 'a.b' });
  });

  it.each([
    ['no dot', 'aabbcc', 1],
    ['one dot', 'aa.bb', 2],
    ['three dots', 'aa.bb.cc.dd', 4],
    ['five parts', 'a.b.c.d.e', 5],
  ])('refuses %s, counting the parts', (_name, token, count) => {
    expect(splitCompact('aa.bb.cc', 100).signature).toBe('cc');
    expect(malformed(() => splitCompact(token, 100))).toBe(`token has ${count} dot-separated parts; a compact JWS has 3`);
  });

  it('refuses what is not a string', () => {
    for (const token of [undefined, null, 42, ['a.b.c'], { toString: () => 'a.b.c' }])
      expect(malformed(() => splitCompact(token, 100))).toBe('token is not a string');
  });

  it('takes a token of exactly maxBytes and refuses one byte more', () => {
    const token = `${'a'.repeat(46)}.b.c`;
    expect(token).toHaveLength(50);
    expect(splitCompact(token, 50).header).toHaveLength(46);
    expect(malformed(() => splitCompact(`a${token}`, 50))).toBe('token exceeds identity.maxTokenBytes (50)');
  });

  it('counts UTF-8 bytes, not UTF-16 code units, near the cap', () => {
    // 20 code units, 38 bytes: under a 30-unit cap by length, over a 30-byte cap by bytes.
    const wide = `${'\u00e9'.repeat(18)}.b`;
    expect(wide).toHaveLength(20);
    expect(malformed(() => splitCompact(wide, 30))).toBe('token exceeds identity.maxTokenBytes (30)');
    // The same bytes fit a 38-byte cap: refused for its shape, not its size.
    expect(malformed(() => splitCompact(wide, 38))).toBe('token has 2 dot-separated parts; a compact JWS has 3');
    // 20 bytes in 12 code units: exactly a 20-byte cap passes, one byte more does not.
    expect(splitCompact(`${'\u00e9'.repeat(8)}.b.c`, 20).signature).toBe('c');
    expect(malformed(() => splitCompact(`${'\u00e9'.repeat(8)}.b.cc`, 20))).toBe('token exceeds identity.maxTokenBytes (20)');
  });
});

describe('decodeCanonical', () => {
  it.each([
    ['rest 0', 'AAAB'],
    ['rest 2, unused bits zero', 'AQ'],
    ['rest 3, unused bits zero', 'AAE'],
    ['every alphabet character', 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'],
  ])('decodes %s', (_name, part) => {
    expect(decodeCanonical(part, 'payload')).toEqual(Buffer.from(part, 'base64url'));
  });

  it.each([
    ['empty', ''],
    ['one character over a whole group (rest 1)', 'AAAAA'],
    ['rest 2 with an unused bit set', 'AB'],
    ['rest 2 with the highest unused bit set', 'AI'],
    ['rest 3 with an unused bit set', 'AAB'],
    ['rest 3 with the higher unused bit set', 'AAC'],
    ['padding', 'AQ=='],
    ['standard base64', 'A+/A'],
    ['a space', 'AA A'],
  ])('refuses %s', (_name, part) => {
    expect(malformed(() => decodeCanonical(part, 'signature'))).toBe('signature is empty or not canonical base64url');
  });

  it('names the part it refused', () => {
    expect(malformed(() => decodeCanonical('A', 'header'))).toBe('header is empty or not canonical base64url');
  });
});

describe('decodeJsonObject', () => {
  it('returns the object', () => {
    expect(decodeJsonObject(b64('{"a":1,"b":{"c":[true]}}'), 'payload')).toEqual({ a: 1, b: { c: [true] } });
  });

  it.each([
    ['not JSON', b64('a=1'), 'payload is not UTF-8 JSON'],
    ['not UTF-8', b64(Buffer.from([0x7b, 0x22, 0xff, 0x22, 0x3a, 0x31, 0x7d])), 'payload is not UTF-8 JSON'],
    ['JSON after a byte-order mark', b64('\ufeff{"a":1}'), 'payload is not UTF-8 JSON'],
    ['an array', b64('[1]'), 'payload is not a JSON object'],
    ['null', b64('null'), 'payload is not a JSON object'],
    ['a number', b64('1'), 'payload is not a JSON object'],
    ['a string', b64('"{}"'), 'payload is not a JSON object'],
    ['an object with a duplicate member', b64('{"a":1,"a":2}'), 'payload has duplicate member "a"'],
  ])('refuses %s', (_name, part, detail) => {
    expect(malformed(() => decodeJsonObject(part, 'payload'))).toBe(detail);
  });

  it('names the part, and the duplicate only cleaned and bounded', () => {
    expect(malformed(() => decodeJsonObject(b64('[]'), 'header'))).toBe('header is not a JSON object');
    const name = `x\n${'y'.repeat(200)}`;
    const detail = malformed(() =>
      decodeJsonObject(b64(JSON.stringify({ [name]: 1 }).replace('{', `{${JSON.stringify(name)}:0,`)), 'header'),
    );
    expect(detail).toMatch(/^header has duplicate member "x/u);
    expect(detail).not.toContain('\n');
    expect(detail.length).toBeLessThan(120);
  });
});
