/**
 * Subject and trust-domain attacks: invalid SPIFFE IDs (SPIFFE-ID.md §2), Unicode look-alikes
 * (jose accepted a Cyrillic homoglyph), trust domains nobody configured, and keys of one trust
 * domain used to vouch for another (SPIFFE_Trust_Domain_and_Bundle.md §3, §6.4).
 */
import { signers } from '../identity_world.js';
import { signedBy, withClaims, without, type TokenSpec } from '../token_factory.js';
import { changed, S, type AttackCase } from './attack_case.js';

const k = signers();
/** Not the pinned issuer of dev.local and not an OIDC issuer: routing falls to the trust domain of sub. */
const DEV_ISSUER_LOOKALIKE = 'https://spire.dev.local/';
const sub =
  (value: unknown) =>
  (s: TokenSpec): TokenSpec =>
    withClaims(s, { sub: value });

export const ATTACKS_SUBJECT_AND_TRUST: readonly AttackCase[] = [
  // Invalid SPIFFE IDs: refused before any key is chosen
  changed('a Cyrillic homoglyph in the path', 'ERR_TOKEN_CLAIMS', S.agent, sub('spiffe://dev.local/agent/tri\u0430ge')),
  changed('a Cyrillic homoglyph in the trust domain', 'ERR_TOKEN_CLAIMS', S.agent, sub('spiffe://dev.l\u043ecal/agent/triage')),
  changed('a fullwidth solidus in the path', 'ERR_TOKEN_CLAIMS', S.agent, sub('spiffe://dev.local/agent\uff0ftriage')),
  changed('a zero-width space in the path', 'ERR_TOKEN_CLAIMS', S.agent, sub('spiffe://dev.local/agent/tri\u200bage')),
  changed('an upper-case trust domain', 'ERR_TOKEN_CLAIMS', S.agent, sub('spiffe://DEV.local/agent/triage')),
  changed('an upper-case scheme', 'ERR_TOKEN_CLAIMS', S.agent, sub('SPIFFE://dev.local/agent/triage')),
  changed('a port in the trust domain', 'ERR_TOKEN_CLAIMS', S.agent, sub('spiffe://dev.local:443/agent/triage')),
  changed('userinfo before the trust domain', 'ERR_TOKEN_CLAIMS', S.agent, sub('spiffe://admin@dev.local/agent/triage')),
  changed('a query', 'ERR_TOKEN_CLAIMS', S.agent, sub('spiffe://dev.local/agent/triage?role=admin')),
  changed('a fragment', 'ERR_TOKEN_CLAIMS', S.agent, sub('spiffe://dev.local/agent/triage#admin')),
  changed('percent-encoding', 'ERR_TOKEN_CLAIMS', S.agent, sub('spiffe://dev.local/agent/tri%61ge')),
  changed('a dot-dot segment', 'ERR_TOKEN_CLAIMS', S.agent, sub('spiffe://dev.local/agent/../admin')),
  changed('a dot segment', 'ERR_TOKEN_CLAIMS', S.agent, sub('spiffe://dev.local/./agent/triage')),
  changed('an empty segment', 'ERR_TOKEN_CLAIMS', S.agent, sub('spiffe://dev.local/agent//triage')),
  changed('a trailing slash', 'ERR_TOKEN_CLAIMS', S.agent, sub('spiffe://dev.local/agent/triage/')),
  changed('a SPIFFE ID longer than 2048 bytes', 'ERR_TOKEN_CLAIMS', S.agent, sub(`spiffe://dev.local/${'a'.repeat(2040)}`)),
  changed('a backslash instead of a slash', 'ERR_TOKEN_CLAIMS', S.agent, sub('spiffe://dev.local\\agent\\triage')),
  changed('a missing authority', 'ERR_TOKEN_CLAIMS', S.agent, sub('spiffe:///agent/triage')),
  changed('a trust domain alone, no workload path', 'ERR_TOKEN_CLAIMS', S.agent, sub('spiffe://dev.local')),
  // Subjects that are no SPIFFE ID, under the issuer a trust domain pins
  changed('a sub that is not a SPIFFE ID', 'ERR_TOKEN_CLAIMS', S.agent, sub('triage-bot')),
  changed('a numeric sub', 'ERR_TOKEN_CLAIMS', S.agent, sub(42)),
  changed('no sub', 'ERR_TOKEN_CLAIMS', S.agent, (s) => without(s, 'payload', 'sub')),
  // Subjects that name no trust entry
  changed('a non-SPIFFE sub from an unknown issuer', 'ERR_TOKEN_ISSUER_UNTRUSTED', S.other, (s) =>
    withClaims(s, { iss: 'https://evil.example', sub: 'triage-bot' }),
  ),
  changed('a non-SPIFFE sub and no iss', 'ERR_TOKEN_ISSUER_UNTRUSTED', S.other, sub('triage-bot')),
  changed('a trust domain nobody configured', 'ERR_TOKEN_ISSUER_UNTRUSTED', S.agent, sub('spiffe://prod.example/agent/triage')),
  changed(
    'a trust domain that only ends like a configured one',
    'ERR_TOKEN_ISSUER_UNTRUSTED',
    S.agent,
    sub('spiffe://evil-dev.local/agent/triage'),
  ),
  // Keys are bound to their trust domain: B is verified only with B's bundle
  changed("a sub in other.example signed with dev.local's key under its kid", 'ERR_TOKEN_SIGNATURE', S.other, (s) => ({
    ...signedBy(s, k.devEs),
    header: { alg: 'ES256', kid: k.devEs.kid },
  })),
  changed("a sub in dev.local signed with other.example's key under its kid", 'ERR_TOKEN_SIGNATURE', S.agent, (s) => signedBy(s, k.other)),
  changed("an OIDC-issued sub in dev.local, signed with the OIDC issuer's key", 'ERR_TOKEN_SIGNATURE', S.agent, (s) =>
    signedBy(withClaims(s, { iss: DEV_ISSUER_LOOKALIKE }), k.ci),
  ),
  // Non-string subjects from an OIDC issuer
  changed('an OIDC token with a numeric sub', 'ERR_TOKEN_CLAIMS', S.ci, sub(7)),
  changed('an OIDC token with a control character in sub', 'ERR_TOKEN_CLAIMS', S.ci, sub('repo:acme/ops\nforged-log-line')),
  changed('an OIDC token with an empty sub', 'ERR_TOKEN_CLAIMS', S.ci, sub('')),
  changed(
    'an OIDC token with a sub of 2049 characters (2048 pass)',
    'ERR_TOKEN_CLAIMS',
    () => sub('r'.repeat(2048))(S.ci()),
    sub('r'.repeat(2049)),
  ),
  changed(
    'an operator token with a sub of 2049 characters (2048 pass)',
    'ERR_TOKEN_CLAIMS',
    () => sub('o'.repeat(2048))(S.operator()),
    sub('o'.repeat(2049)),
    {
      endpoint: 'operator',
    },
  ),
  changed('an OIDC token with a right-to-left override in sub', 'ERR_TOKEN_CLAIMS', S.ci, sub('repo:acme/ops\u202egnp.exe')),
  changed('an OIDC token with a zero-width joiner in sub', 'ERR_TOKEN_CLAIMS', S.ci, sub('repo:acme/o\u200dps')),
];
