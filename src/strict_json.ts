/**
 * JSON whose member names are unique in every object. JSON.parse keeps the last of duplicate
 * members, so `{"aud":"x","aud":"qm"}` reads one way here and another way in a parser that keeps
 * the first: a signer, a proxy or a log shipper could each see a different request (RFC 8259 §4
 * says names SHOULD be unique; RFC 7515 §5.2 and RFC 7519 §4 require JWTs to be refused). The
 * token verifier and every JSON request body go through this check.
 */

/** Parses JSON text, refusing duplicate member names at any depth; throws SyntaxError or DuplicateMemberError. */
export function parseStrictJson(text: string): unknown {
  const value: unknown = JSON.parse(text);
  const duplicate = findDuplicateMember(text);
  if (duplicate !== null) throw new DuplicateMemberError(duplicate);
  return value;
}

export class DuplicateMemberError extends Error {
  override readonly name = 'DuplicateMemberError';
  constructor(readonly member: string) {
    super('duplicate member name');
  }
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;
const COMMA = 0x2c;

/**
 * Returns the first member name that occurs twice in one object, at any depth, or null. Expects
 * text that JSON.parse accepted; compares names after unescaping (`"a"` and `"\u0061"` collide).
 */
export function findDuplicateMember(text: string): string | null {
  // One entry per open container: the names seen so far for an object, null for an array.
  const open: Array<Set<string> | null> = [];
  let expectName = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) {
      const end = endOfString(text, i);
      const names = open[open.length - 1];
      if (expectName && names) {
        const raw = text.slice(i + 1, end);
        const name = raw.includes('\\') ? (JSON.parse(`"${raw}"`) as string) : raw;
        if (names.has(name)) return name;
        names.add(name);
        expectName = false;
      }
      i = end;
    } else if (c === OPEN_OBJECT) {
      open.push(new Set());
      expectName = true;
    } else if (c === OPEN_ARRAY) {
      open.push(null);
      expectName = false;
    } else if (c === CLOSE_OBJECT || c === CLOSE_ARRAY) {
      open.pop();
      expectName = false;
    } else if (c === COMMA) {
      expectName = open[open.length - 1] instanceof Set;
    }
  }
  return null;
}

/** Index of the closing quote of the string literal opening at `start`: the next quote not escaped. */
function endOfString(text: string, start: number): number {
  for (let from = start + 1; ;) {
    const quote = text.indexOf('"', from);
    if (quote === -1) return text.length;
    let backslashes = 0;
    while (text.charCodeAt(quote - 1 - backslashes) === BACKSLASH) backslashes++;
    if (backslashes % 2 === 0) return quote;
    from = quote + 1;
  }
}
