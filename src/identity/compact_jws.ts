/**
 * Compact JWS structure (RFC 7515 §7.1), checked before anything is trusted (SECURITY.md §1
 * "Structure"): a size cap before any parsing, exactly three non-empty canonical base64url
 * parts (JWE has 5, the JSON serialization 1), UTF-8 JSON objects without duplicate members.
 */
import { cleanForLog } from '../logging.js';
import { tokenError } from './token_errors.js';

/** The three parts of a compact token, split but not yet decoded. */
export interface CompactParts {
  readonly header: string;
  readonly payload: string;
  readonly signature: string;
  /** `header.payload`: what the signature covers, and what caches key on (never the raw token). */
  readonly signingInput: string;
}

const BASE64URL = /^[A-Za-z0-9_-]+$/;
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** Size cap and shape; cheap enough to run before the verified-token cache lookup. */
export function splitCompact(token: unknown, maxBytes: number): CompactParts {
  if (typeof token !== 'string') throw tokenError('ERR_TOKEN_MALFORMED', 'token is not a string');
  // Before any parsing: jose accepted a 2 MB token. A string's UTF-8 size is at least its length,
  // so the cheap check runs first.
  if (token.length > maxBytes || Buffer.byteLength(token, 'utf8') > maxBytes) {
    throw tokenError('ERR_TOKEN_MALFORMED', `token exceeds identity.maxTokenBytes (${maxBytes})`);
  }
  const parts = token.split('.');
  if (parts.length !== 3) throw tokenError('ERR_TOKEN_MALFORMED', `token has ${parts.length} dot-separated parts; a compact JWS has 3`);
  const [header, payload, signature] = parts as [string, string, string];
  return { header, payload, signature, signingInput: `${header}.${payload}` };
}

/** Unpadded base64url whose unused trailing bits are zero: one encoding per value. */
export function decodeCanonical(part: string, name: 'header' | 'payload' | 'signature'): Buffer {
  const bytes = BASE64URL.test(part) && part.length % 4 !== 1 ? Buffer.from(part, 'base64url') : null;
  if (!bytes || bytes.toString('base64url') !== part) throw tokenError('ERR_TOKEN_MALFORMED', `${name} is empty or not canonical base64url`);
  return bytes;
}

/** Decodes a header or payload part into a plain JSON object with unique member names. */
export function decodeJsonObject(part: string, what: 'header' | 'payload'): Record<string, unknown> {
  const bytes = decodeCanonical(part, what);
  let text: string;
  let value: unknown;
  try {
    text = utf8.decode(bytes);
    value = JSON.parse(text);
  } catch {
    throw tokenError('ERR_TOKEN_MALFORMED', `${what} is not UTF-8 JSON`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw tokenError('ERR_TOKEN_MALFORMED', `${what} is not a JSON object`);
  // JSON.parse keeps the last of duplicate members, so `{"aud":"x","aud":"qm"}` would read
  // differently to other parsers (RFC 7515 §5.2 step 4, RFC 7519 §4: reject).
  const duplicate = findDuplicateMember(text);
  if (duplicate !== null) throw tokenError('ERR_TOKEN_MALFORMED', `${what} has duplicate member "${cleanForLog(duplicate, 64)}"`);
  return value as Record<string, unknown>;
}

/**
 * Returns the first member name that occurs twice in one object, at any depth, or null. Expects
 * text that JSON.parse accepted; compares names after unescaping (`"a"` and `"\u0061"` collide).
 */
export function findDuplicateMember(text: string): string | null {
  // One entry per open container: the names seen so far for an object, null for an array.
  const open: Array<Set<string> | null> = [];
  let expectName = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '"') {
      const end = endOfString(text, i);
      const names = open.at(-1);
      if (expectName && names) {
        const name = JSON.parse(text.slice(i, end + 1)) as string;
        if (names.has(name)) return name;
        names.add(name);
        expectName = false;
      }
      i = end;
    } else if (c === '{') {
      open.push(new Set());
      expectName = true;
    } else if (c === '[') {
      open.push(null);
      expectName = false;
    } else if (c === '}' || c === ']') {
      open.pop();
      expectName = false;
    } else if (c === ',') {
      expectName = open.at(-1) instanceof Set;
    }
  }
  return null;
}

/** Index of the closing quote of the string literal opening at `start`. */
function endOfString(text: string, start: number): number {
  for (let i = start + 1; i < text.length; i++) {
    if (text[i] === '\\') i++;
    else if (text[i] === '"') return i;
  }
  return text.length;
}
