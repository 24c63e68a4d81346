/**
 * Compact JWS structure (RFC 7515 §7.1), checked before anything is trusted (docs/security.md §1
 * "Structure"): a size cap before any parsing, exactly three non-empty canonical base64url
 * parts (JWE has 5, the JSON serialization 1), UTF-8 JSON objects without duplicate members.
 */
import { cleanForLog } from '../logging.js';
import { findDuplicateMember } from '../strict_json.js';
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
  // Before any parsing: jose accepted a 2 MB token. UTF-8 needs at most 3 bytes per UTF-16 code
  // unit, so the exact byte count is needed only for strings near the cap.
  if (token.length > maxBytes || (token.length * 3 > maxBytes && Buffer.byteLength(token, 'utf8') > maxBytes)) {
    throw tokenError('ERR_TOKEN_MALFORMED', `token exceeds identity.maxTokenBytes (${maxBytes})`);
  }
  const first = token.indexOf('.');
  const second = first === -1 ? -1 : token.indexOf('.', first + 1);
  if (second === -1 || token.indexOf('.', second + 1) !== -1) {
    throw tokenError('ERR_TOKEN_MALFORMED', `token has ${token.split('.').length} dot-separated parts; a compact JWS has 3`);
  }
  return {
    header: token.slice(0, first),
    payload: token.slice(first + 1, second),
    signature: token.slice(second + 1),
    signingInput: token.slice(0, second),
  };
}

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/**
 * Unpadded base64url whose unused trailing bits are zero: one encoding per value (RFC 4648 §3.5).
 * Only the last character can carry unused bits: 4 of them when the length is 2 mod 4, 2 when 3.
 */
export function decodeCanonical(part: string, name: 'header' | 'payload' | 'signature'): Buffer {
  const rest = part.length % 4;
  const unusedBits = rest === 2 ? 0b1111 : rest === 3 ? 0b11 : 0;
  if (!BASE64URL.test(part) || rest === 1 || (ALPHABET.indexOf(part.charAt(part.length - 1)) & unusedBits) !== 0) {
    throw tokenError('ERR_TOKEN_MALFORMED', `${name} is empty or not canonical base64url`);
  }
  return Buffer.from(part, 'base64url');
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
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw tokenError('ERR_TOKEN_MALFORMED', `${what} is not a JSON object`);
  // JSON.parse keeps the last of duplicate members, so `{"aud":"x","aud":"qm"}` would read
  // differently to other parsers (RFC 7515 §5.2 step 4, RFC 7519 §4: reject).
  const duplicate = findDuplicateMember(text);
  if (duplicate !== null) throw tokenError('ERR_TOKEN_MALFORMED', `${what} has duplicate member "${cleanForLog(duplicate, 64)}"`);
  return value as Record<string, unknown>;
}
