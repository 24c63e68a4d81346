/**
 * Header attacks: `alg: none` variants, HS/RS key confusion, algorithms the key or the issuer
 * does not allow, key-carrying headers (`jwk`, `jku`, `x5u`, `x5c`), `kid` injection, `crit`,
 * `b64`, nested tokens, and `typ` (RFC 8725 §2.1, §3.1, §3.10–3.11; docs/security.md §1 "Header").
 */
import { signers } from '../identity_world.js';
import { b64, hmacWith, signedBy, withAlg, withHeader, without } from '../token_factory.js';
import { changed, S, tampered, type AttackCase } from './attack_case.js';

const k = signers();
const pem = (): string => k.devEs.publicKey.export({ format: 'pem', type: 'spki' }).toString();
const noneToken =
  (alg: string, signature: string) =>
  (token: string): string => {
    const [, p] = token.split('.');
    return `${b64(JSON.stringify({ alg, kid: k.devEs.kid }))}.${p}.${signature}`;
  };

export const ATTACKS_ALG_AND_HEADER: readonly AttackCase[] = [
  // alg none and its spellings (RFC 8725 §2.1)
  tampered('alg none with an empty signature', 'ERR_TOKEN_MALFORMED', S.agent, noneToken('none', '')),
  tampered('alg none with a copied signature', 'ERR_TOKEN_SIGNATURE', S.agent, (t) => noneToken('none', t.split('.')[2] ?? '')(t)),
  tampered('alg None', 'ERR_TOKEN_SIGNATURE', S.agent, (t) => noneToken('None', t.split('.')[2] ?? '')(t)),
  tampered('alg NONE', 'ERR_TOKEN_SIGNATURE', S.agent, (t) => noneToken('NONE', t.split('.')[2] ?? '')(t)),
  tampered('alg nOnE', 'ERR_TOKEN_SIGNATURE', S.agent, (t) => noneToken('nOnE', t.split('.')[2] ?? '')(t)),
  changed('no alg', 'ERR_TOKEN_MALFORMED', S.agent, (s) => without(s, 'header', 'alg')),
  changed('an empty alg', 'ERR_TOKEN_MALFORMED', S.agent, (s) => withHeader(s, { alg: '' })),
  changed('a numeric alg', 'ERR_TOKEN_MALFORMED', S.agent, (s) => withHeader(s, { alg: 256 })),
  // HS/RS confusion: an HMAC keyed with what the verifier publishes
  changed('HS256 keyed with the public JWK', 'ERR_TOKEN_SIGNATURE', S.agent, (s) => hmacWith(s, 'HS256', JSON.stringify(k.devEs.jwk))),
  changed('HS256 keyed with the public key PEM', 'ERR_TOKEN_SIGNATURE', S.agent, (s) => hmacWith(s, 'HS256', pem())),
  changed('HS512 keyed with the public key PEM', 'ERR_TOKEN_SIGNATURE', S.agent, (s) => hmacWith(s, 'HS512', pem())),
  changed('HS256 keyed with the RSA public key DER', 'ERR_TOKEN_SIGNATURE', S.agent, (s) =>
    hmacWith(withHeader(s, { kid: k.devRsa.kid }), 'HS256', k.devRsa.publicKey.export({ format: 'der', type: 'spki' })),
  ),
  // alg ↔ key: every algorithm here is on the trust domain's allowlist, but not for this key
  changed('RS256 under the kid of an EC key', 'ERR_TOKEN_SIGNATURE', S.agent, (s) => ({
    ...withHeader(s, { alg: 'RS256' }),
    signer: k.devRsa,
  })),
  changed('ES256 under the kid of an RSA key', 'ERR_TOKEN_SIGNATURE', S.agent, (s) => withHeader(s, { kid: k.devRsa.kid })),
  changed('ES384 over a P-256 key', 'ERR_TOKEN_SIGNATURE', S.agent, (s) => withHeader(s, { alg: 'ES384' })),
  changed('a PKCS#1 v1.5 signature labelled PS256', 'ERR_TOKEN_SIGNATURE', S.agent, (s) => ({
    ...signedBy(s, k.devRsa),
    header: { alg: 'PS256', kid: k.devRsa.kid },
  })),
  changed('a PSS signature labelled RS256', 'ERR_TOKEN_SIGNATURE', S.agent, (s) => ({
    ...signedBy(s, k.devPs),
    header: { alg: 'RS256', kid: k.devRsa.kid },
  })),
  // Only the allowlist stands in the way here: the key names no alg and would verify these
  changed('RS512, properly signed, outside the allowlist', 'ERR_TOKEN_SIGNATURE', S.agent, (s) => signedBy(s, withAlg(k.devRsa, 'RS512'))),
  changed('PS384, properly signed, outside the allowlist', 'ERR_TOKEN_SIGNATURE', S.agent, (s) => signedBy(s, withAlg(k.devRsa, 'PS384'))),
  changed('an algorithm outside the allowlist (ES512)', 'ERR_TOKEN_SIGNATURE', S.agent, (s) => withHeader(s, { alg: 'ES512' })),
  changed('EdDSA, which JWT-SVIDs may not use', 'ERR_TOKEN_SIGNATURE', S.agent, (s) => withHeader(s, { alg: 'EdDSA' })),
  changed('PS256 on an OIDC issuer that allows only RS256', 'ERR_TOKEN_SIGNATURE', S.ci, (s) => ({
    ...s,
    header: { ...(s.header as object), alg: 'PS256' },
    signer: withAlg(k.ci, 'PS256'),
  })),
  // Keys come only from configured sets (RFC 8725 §3.10)
  changed('an embedded jwk of the attacker key', 'ERR_TOKEN_MALFORMED', S.agent, (s) =>
    withHeader(signedBy(s, k.stranger), { jwk: k.stranger.jwk }),
  ),
  changed('an embedded jwk under a trusted kid', 'ERR_TOKEN_MALFORMED', S.agent, (s) => ({
    ...withHeader(s, { jwk: k.stranger.jwk }),
    signer: k.stranger,
  })),
  changed('a jku header', 'ERR_TOKEN_MALFORMED', S.agent, (s) => withHeader(s, { jku: 'https://evil.example/jwks.json' })),
  changed('an x5u header', 'ERR_TOKEN_MALFORMED', S.agent, (s) => withHeader(s, { x5u: 'https://evil.example/cert.pem' })),
  changed('an x5c header', 'ERR_TOKEN_MALFORMED', S.agent, (s) => withHeader(s, { x5c: ['MIIBszCCAVmgAwIBAgIU'] })),
  changed('an x5t#S256 header', 'ERR_TOKEN_MALFORMED', S.agent, (s) => withHeader(s, { 'x5t#S256': 'abc' })),
  // kid is an opaque map key: never a path, URL or query
  changed('a path-traversal kid', 'ERR_TOKEN_SIGNATURE', S.agent, (s) => withHeader(s, { kid: '../../../../etc/passwd' })),
  changed('a kid naming a key file in the config dir', 'ERR_TOKEN_SIGNATURE', S.agent, (s) => withHeader(s, { kid: '/dev/null' })),
  changed('a URL kid', 'ERR_TOKEN_SIGNATURE', S.agent, (s) => withHeader(s, { kid: 'https://evil.example/jwks.json#key' })),
  changed('an SQL-injection kid', 'ERR_TOKEN_SIGNATURE', S.agent, (s) => withHeader(s, { kid: "x' OR '1'='1" })),
  changed('a kid with control characters', 'ERR_TOKEN_SIGNATURE', S.agent, (s) => withHeader(s, { kid: 'dev-es\u0000\r\nlog-injection' })),
  changed('a __proto__ kid', 'ERR_TOKEN_SIGNATURE', S.agent, (s) => withHeader(s, { kid: '__proto__' })),
  changed('a constructor kid', 'ERR_TOKEN_SIGNATURE', S.agent, (s) => withHeader(s, { kid: 'constructor' })),
  changed('a kid of 129 characters', 'ERR_TOKEN_MALFORMED', S.agent, (s) => withHeader(s, { kid: 'k'.repeat(129) })),
  changed('a kid of 1000 characters', 'ERR_TOKEN_MALFORMED', S.agent, (s) => withHeader(s, { kid: 'k'.repeat(1000) })),
  changed('no kid', 'ERR_TOKEN_MALFORMED', S.agent, (s) => without(s, 'header', 'kid')),
  changed('an empty kid', 'ERR_TOKEN_MALFORMED', S.agent, (s) => withHeader(s, { kid: '' })),
  changed('a numeric kid', 'ERR_TOKEN_MALFORMED', S.agent, (s) => withHeader(s, { kid: 7 })),
  changed('the kid of an x509-svid bundle key', 'ERR_TOKEN_SIGNATURE', S.agent, (s) => signedBy(s, k.devX509)),
  // Extensions are not understood (RFC 7515 §4.1.11, RFC 7797)
  changed('crit naming a registered claim', 'ERR_TOKEN_MALFORMED', S.agent, (s) => withHeader(s, { crit: ['exp'] })),
  changed('crit naming an unknown extension', 'ERR_TOKEN_MALFORMED', S.agent, (s) => withHeader(s, { crit: ['urn:x'], 'urn:x': true })),
  changed('b64 false', 'ERR_TOKEN_MALFORMED', S.agent, (s) => withHeader(s, { b64: false, crit: ['b64'] })),
  changed('cty JWT (a nested token)', 'ERR_TOKEN_MALFORMED', S.agent, (s) => withHeader(s, { cty: 'JWT' })),
  changed('a private header parameter', 'ERR_TOKEN_MALFORMED', S.agent, (s) => withHeader(s, { 'x-tenant': 'admin' })),
  changed('a __proto__ header member', 'ERR_TOKEN_MALFORMED', S.agent, (s) => ({
    ...s,
    header: `{"alg":"ES256","kid":"${k.devEs.kid}","__proto__":{"alg":"none"}}`,
  })),
  changed('a duplicate alg member', 'ERR_TOKEN_MALFORMED', S.agent, (s) => ({
    ...s,
    header: `{"alg":"none","alg":"ES256","kid":"${k.devEs.kid}"}`,
  })),
  // typ: other token kinds are not identities (RFC 8725 §3.11)
  changed('typ at+jwt (a broker access token)', 'ERR_TOKEN_CLAIMS', S.agent, (s) => withHeader(s, { typ: 'at+jwt' })),
  changed('typ application/at+jwt', 'ERR_TOKEN_CLAIMS', S.agent, (s) => withHeader(s, { typ: 'application/at+jwt' })),
  changed('typ JWE', 'ERR_TOKEN_CLAIMS', S.agent, (s) => withHeader(s, { typ: 'JWE' })),
  changed('a numeric typ', 'ERR_TOKEN_MALFORMED', S.agent, (s) => withHeader(s, { typ: 1 })),
  changed('an operator token with typ at+jwt', 'ERR_TOKEN_CLAIMS', S.operator, (s) => withHeader(s, { typ: 'at+jwt' }), {
    endpoint: 'operator',
  }),
];
