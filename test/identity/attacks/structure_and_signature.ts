/**
 * Structure and signature attacks: wrong part counts, the JSON serializations, non-canonical and
 * non-JSON encodings, oversized tokens, duplicate members, forged and malleated ECDSA signatures
 * (r = s = 0, out-of-range values, DER form, high-S twins against the single-use replay record),
 * and signatures made by keys that are trusted for something else (docs/security.md §1).
 */
import { signers } from '../identity_world.js';
import {
  b64,
  build,
  derEncoded,
  highSTwin,
  P256_ORDER_BYTES,
  replaceSignature,
  signedBy,
  without,
  type TokenSpec,
} from '../token_factory.js';
import { changed, S, tampered, type AttackCase } from './attack_case.js';

const k = signers();
const parts = (t: string): [string, string, string] => t.split('.') as [string, string, string];
const BASE64URL_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
/** An ES256 signature (64 bytes, 86 chars) leaves 4 unused bits in its last char: set one. */
const setTrailingBit = (t: string): string => t.slice(0, -1) + BASE64URL_ALPHABET.charAt(BASE64URL_ALPHABET.indexOf(t.at(-1) ?? '') ^ 1);
const withPayloadText =
  (text: string) =>
  (s: TokenSpec): TokenSpec => ({ ...s, payload: text });
const duplicate =
  (member: string) =>
  (s: TokenSpec): TokenSpec => ({ ...s, payload: JSON.stringify(s.payload).replace('{', `{${member},`) });
/** A valid agent token whose payload opens with `before`; the attack adds a second `aud` right after it. */
const audAfter = (name: string, before: string): AttackCase => ({
  name,
  code: 'ERR_TOKEN_MALFORMED',
  valid: () => build(duplicate(before)(S.agent())),
  attack: () => build(duplicate(`${before},"aud":"x"`)(S.agent())),
});

export const ATTACKS_STRUCTURE_AND_SIGNATURE: readonly AttackCase[] = [
  // Compact JWS only (RFC 7515 §7.1)
  tampered('2 parts', 'ERR_TOKEN_MALFORMED', S.agent, (t) => parts(t).slice(0, 2).join('.')),
  tampered('4 parts', 'ERR_TOKEN_MALFORMED', S.agent, (t) => `${t}.${parts(t)[2]}`),
  tampered('5 parts (the JWE shape)', 'ERR_TOKEN_MALFORMED', S.agent, (t) => `${t}.AA.AA`),
  tampered('the flattened JSON serialization', 'ERR_TOKEN_MALFORMED', S.agent, (t) => {
    const [h, p, s] = parts(t);
    return JSON.stringify({ protected: h, payload: p, signature: s });
  }),
  tampered('the general JSON serialization', 'ERR_TOKEN_MALFORMED', S.agent, (t) => {
    const [h, p, s] = parts(t);
    return JSON.stringify({ payload: p, signatures: [{ protected: h, signature: s }] });
  }),
  tampered('an empty payload part', 'ERR_TOKEN_MALFORMED', S.agent, (t) => {
    const [h, , s] = parts(t);
    return `${h}..${s}`;
  }),
  tampered('an empty header part', 'ERR_TOKEN_MALFORMED', S.agent, (t) => {
    const [, p, s] = parts(t);
    return `.${p}.${s}`;
  }),
  tampered('a padded signature', 'ERR_TOKEN_MALFORMED', S.agent, (t) => `${t}==`),
  tampered('standard base64 characters in the payload', 'ERR_TOKEN_MALFORMED', S.agent, (t) => {
    const [h, p, s] = parts(t);
    return `${h}.${p.replaceAll('-', '+').replaceAll('_', '/')}+/.${s}`;
  }),
  tampered('whitespace inside the token', 'ERR_TOKEN_MALFORMED', S.agent, (t) => {
    const [h, p, s] = parts(t);
    return `${h}. ${p}.${s}`;
  }),
  tampered('non-canonical base64url (trailing bits) in the signature', 'ERR_TOKEN_MALFORMED', S.agent, setTrailingBit),
  changed('a header that is not JSON', 'ERR_TOKEN_MALFORMED', S.agent, (s) => ({ ...s, header: 'alg=ES256' })),
  changed('a payload that is not JSON', 'ERR_TOKEN_MALFORMED', S.agent, withPayloadText('sub=spiffe://dev.local/agent/triage')),
  changed('a payload that is a JSON array', 'ERR_TOKEN_MALFORMED', S.agent, withPayloadText('["spiffe://dev.local/agent/triage"]')),
  changed('a payload that is a JSON string', 'ERR_TOKEN_MALFORMED', S.agent, withPayloadText('"spiffe://dev.local/agent/triage"')),
  changed('a payload that is JSON null', 'ERR_TOKEN_MALFORMED', S.agent, withPayloadText('null')),
  tampered('a payload that is not UTF-8', 'ERR_TOKEN_MALFORMED', S.agent, (t) => {
    const [h, , s] = parts(t);
    return `${h}.${b64(Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x3a, 0x31, 0x7d]))}.${s}`;
  }),
  changed('a byte-order mark before the payload', 'ERR_TOKEN_MALFORMED', S.agent, (s) => ({
    ...s,
    payload: `\ufeff${JSON.stringify(s.payload)}`,
  })),
  changed('a token just above maxTokenBytes', 'ERR_TOKEN_MALFORMED', S.agent, (s) => ({
    ...s,
    payload: { ...(s.payload as object), pad: 'x'.repeat(6000) },
  })),
  tampered('a 2 MB token', 'ERR_TOKEN_MALFORMED', S.agent, (t) => {
    const [h, , s] = parts(t);
    return `${h}.${'A'.repeat(2 * 1024 * 1024)}.${s}`;
  }),
  // Duplicate members: JSON.parse keeps the last one, other parsers the first
  changed('a duplicate aud claim', 'ERR_TOKEN_MALFORMED', S.agent, duplicate('"aud":"someone-else"')),
  changed('a duplicate sub claim', 'ERR_TOKEN_MALFORMED', S.agent, duplicate('"sub":"spiffe://dev.local/agent/admin"')),
  changed('a duplicate exp claim', 'ERR_TOKEN_MALFORMED', S.agent, duplicate('"exp":99999999999')),
  changed('a duplicate claim spelled with an escape', 'ERR_TOKEN_MALFORMED', S.agent, duplicate('"\\u0061ud":"x"')),
  changed('a duplicate member inside a nested claim', 'ERR_TOKEN_MALFORMED', S.agent, duplicate('"act":{"sub":"a","sub":"b"}')),
  // …also after values the scanner must step over: an array, a nested object, escapes in a string
  changed('a duplicate aud after an array value', 'ERR_TOKEN_MALFORMED', S.agent, duplicate('"aud":["x"]')),
  changed('a duplicate aud after an array of objects', 'ERR_TOKEN_MALFORMED', S.agent, duplicate('"v":[{"a":1},{"a":2}],"aud":"x"')),
  changed('a duplicate aud after a nested object', 'ERR_TOKEN_MALFORMED', S.agent, duplicate('"act":{"sub":"a"},"aud":"x"')),
  changed('a duplicate aud after a string with an escaped quote', 'ERR_TOKEN_MALFORMED', S.agent, duplicate('"v":"a\\"","aud":"x"')),
  changed(
    'a duplicate aud after a string ending in an escaped backslash',
    'ERR_TOKEN_MALFORMED',
    S.agent,
    duplicate('"v":"a\\\\","aud":"x"'),
  ),
  // The valid counterparts repeat "aud" where it is no duplicate: inside a nested object, an array, a string
  audAfter('a duplicate aud after a nested object that has an aud of its own', '"act":{"aud":"y","sub":"z"}'),
  audAfter('a duplicate aud after an array of objects that have an aud', '"v":[{"aud":"y"},{"aud":"z"}]'),
  audAfter('a duplicate aud after nested arrays and objects', '"v":[[{"aud":["y",{"aud":"z"}]}],{}]'),
  audAfter('a duplicate aud after a string that spells an aud member', '"v":"\\",\\"aud\\":\\"y"'),
  audAfter('a duplicate aud after a string of escaped backslashes', '"v":"\\\\\\\\","w":"\\\\"'),
  changed(
    'a duplicate aud after a string ending in an escaped backslash and an escaped quote',
    'ERR_TOKEN_MALFORMED',
    S.agent,
    duplicate('"v":"a\\\\\\"","aud":"x"'),
  ),
  // Signatures
  tampered('a payload changed after signing', 'ERR_TOKEN_SIGNATURE', S.agent, (t) => {
    const [h, , s] = parts(t);
    return `${h}.${b64(JSON.stringify({ ...(S.agent().payload as object), sub: 'spiffe://dev.local/agent/admin' }))}.${s}`;
  }),
  tampered('a header changed after signing', 'ERR_TOKEN_SIGNATURE', S.agent, (t) => {
    const [, p, s] = parts(t);
    return `${b64(JSON.stringify({ alg: 'ES256', kid: k.devEs.kid, typ: 'JOSE' }))}.${p}.${s}`;
  }),
  tampered('the signature of another token', 'ERR_TOKEN_SIGNATURE', S.agent, (t) =>
    replaceSignature(t, Buffer.from(parts(build(S.other()))[2], 'base64url')),
  ),
  tampered('an ECDSA signature with r = s = 0', 'ERR_TOKEN_SIGNATURE', S.agent, (t) => replaceSignature(t, Buffer.alloc(64))),
  tampered('an ECDSA signature with r = 0', 'ERR_TOKEN_SIGNATURE', S.agent, (t) =>
    replaceSignature(t, Buffer.concat([Buffer.alloc(32), Buffer.from(parts(t)[2], 'base64url').subarray(32)])),
  ),
  tampered('an ECDSA signature with r = s = n (the group order)', 'ERR_TOKEN_SIGNATURE', S.agent, (t) =>
    replaceSignature(t, Buffer.concat([P256_ORDER_BYTES, P256_ORDER_BYTES])),
  ),
  tampered('an ECDSA signature in DER form', 'ERR_TOKEN_SIGNATURE', S.agent, derEncoded),
  tampered('a truncated signature', 'ERR_TOKEN_SIGNATURE', S.agent, (t) =>
    replaceSignature(t, Buffer.from(parts(t)[2], 'base64url').subarray(0, 63)),
  ),
  tampered('a signature padded with a zero byte', 'ERR_TOKEN_SIGNATURE', S.agent, (t) =>
    replaceSignature(t, Buffer.concat([Buffer.from(parts(t)[2], 'base64url'), Buffer.alloc(1)])),
  ),
  changed('a signature by a key in no key set', 'ERR_TOKEN_SIGNATURE', S.agent, (s) => ({ ...s, signer: k.stranger })),
  changed("the operator issuer's key under the agent kid", 'ERR_TOKEN_SIGNATURE', S.agent, (s) => ({ ...s, signer: k.operator })),
  changed('an OIDC token signed by a SPIFFE bundle key under its kid', 'ERR_TOKEN_SIGNATURE', S.ci, (s) => signedBy(s, k.devRsa)),
  changed('an operator token signed with an agent bundle key', 'ERR_TOKEN_SIGNATURE', S.operator, (s) => signedBy(s, k.devEs), {
    endpoint: 'operator',
  }),
  // Malleability vs the replay record: the same token is the same token however it is encoded
  tampered('the same token twice on a single-use profile', 'ERR_TOKEN_REPLAYED', S.agent, (t) => t, { flow: 'single-use' }),
  tampered('a high-S twin of a spent token', 'ERR_TOKEN_REPLAYED', S.agent, highSTwin, { flow: 'single-use' }),
  tampered('a high-S twin of a spent token without jti', 'ERR_TOKEN_REPLAYED', () => without(S.agent(), 'payload', 'jti'), highSTwin, {
    flow: 'single-use',
  }),
  changed(
    'the same jti again in a re-encoded, re-signed payload',
    'ERR_TOKEN_REPLAYED',
    S.agent,
    (s) => ({ ...s, payload: JSON.stringify(s.payload, null, 1) }),
    { flow: 'single-use' },
  ),
];
