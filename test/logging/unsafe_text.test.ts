/**
 * What counts as unsafe text (src/logging.ts), the one definition behind subject checks, text
 * fields of requests, and log scrubbing.
 */
import { describe, expect, it } from 'vitest';
import { cleanForLog, hasUnsafeCharacters } from '../../src/logging.js';

describe('unsafe text', () => {
  it('lets ordinary text through, non-ASCII letters and emoji (surrogate pairs) included', () => {
    for (const text of [
      'spiffe://prod.example/ns/ir/sa/triage',
      'Zahlungen fallen aus — café',
      'payments 😀 down',
      'https://idp.example#user-42',
    ]) {
      expect(hasUnsafeCharacters(text), text).toBe(false);
      expect(cleanForLog(text)).toBe(text);
    }
  });

  it.each([
    ['NUL', 'a\u0000b'],
    ['an ANSI escape', 'a\u001b[31mb'],
    ['a newline', 'a\nb'],
    ['a bidi override', 'a\u202eb'],
    ['a zero-width joiner', 'a\u200db'],
    ['a line separator', 'a\u2028b'],
    ['a lone high surrogate', 'a\ud800b'],
    ['a lone low surrogate', 'a\udc00b'],
    ['a low surrogate before its high one', 'a\ude00\ud83db'],
  ])('refuses %s, and scrubs it from logs', (_name, text) => {
    expect(hasUnsafeCharacters(text)).toBe(true);
    expect(cleanForLog(text)).toMatch(/^a\?+(?:\[31m)?b$/u);
  });
});
