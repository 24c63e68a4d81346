/**
 * Verifies agent and operator bearer tokens (docs/security.md §1, RFC 8725, SPIFFE JWT-SVID.md). The
 * pipeline reads as a table of small checks, cheapest and least trusting first:
 *
 *   size cap → compact shape → verified-token cache (hit: done)
 *   → canonical base64url, UTF-8 JSON, duplicate members → header allowlist, kid → pick the one
 *   trust entry whose keys may verify (iss / trust domain of sub) → alg allowlist → typ
 *   → key by kid from that entry's set (refetch on unknown kid, cooldown) → alg ↔ key type
 *   → signature (node:crypto) → iss, aud, exp/nbf/iat, lifetime, sub, jti → SPIFFE ID and its
 *   trust domain again → claim constraints → operator rules (client, amr, no service principal)
 *   → identity (frozen) → cache
 *
 * Every token failure is a 401 with a stable code and an RFC 6750 §3 challenge; the reason goes to
 * `detail` for the log; the token itself is never logged or echoed. Keys that cannot be had at all
 * answer 503 ERR_IDENTITY_UNAVAILABLE (token_errors.ts).
 */
import type { IdentityConfig } from '../config/identity_schema.js';
import { BrokerError, describeCause } from '../errors.js';
import { cleanForLog, type Logger } from '../logging.js';
import { readSecretFile } from '../secret_files.js';
import { pickClaims, type ClaimPath } from '../policy/agent_claims.js';
import { checkClaimConstraints } from './claim_constraints.js';
import type { VerificationKey } from './jwk_document.js';
import { decodeCanonical, decodeJsonObject, splitCompact, type CompactParts } from './compact_jws.js';
import { checkOperatorClaims } from './operator_rules.js';
import { keyMismatch, verifySignature } from './signature.js';
import { createTokenCache, type TokenKind } from './token_cache.js';
import { checkRegisteredClaims, ownClaim, type RegisteredClaims } from './token_claims.js';
import { tokenError } from './token_errors.js';
import { checkHeader, isAcceptedTyp, type TokenHeader } from './token_header.js';
import { createTokenNamer, signingInputDigest, tokenIdOf, type TokenNamer } from './token_ids.js';
import { buildTrustTable, routeAgent, routeOperator, type TrustedIssuer, type TrustTable } from './trusted_issuers.js';
import type { AgentIdentity, Identity, OperatorIdentity } from './types.js';

export interface IdentityDeps {
  readonly logger: Logger;
  /** Current time, ms since the epoch. */
  readonly now: () => number;
  /** Told the outcome of every key-set refresh (metrics). */
  readonly onKeySetRefresh?: (keySet: string, outcome: 'ok' | 'failed') => void;
  /** Refuse a fingerprint key file group or others may read (every mode but development). */
  readonly strictSecretFiles?: boolean;
  /** Claims of agent tokens kept for policy (config `policy.agentClaims`): attribute → claim name or path. */
  readonly agentClaims?: Readonly<Record<string, ClaimPath>>;
  /** The agent token claim naming its sponsoring human (config `approvals.sponsorClaim`). */
  readonly sponsorClaim?: string;
}

type Kind = TokenKind;

interface DecodedToken {
  readonly header: TokenHeader;
  readonly payload: Record<string, unknown>;
  readonly signature: Buffer;
  readonly trusted: TrustedIssuer;
  readonly spiffeId: { readonly id: string; readonly trustDomain: string } | undefined;
}

interface Verified {
  readonly trusted: TrustedIssuer;
  readonly claims: Readonly<Record<string, unknown>>;
  readonly registered: RegisteredClaims;
  readonly key: VerificationKey;
}

export async function createIdentity(config: IdentityConfig, deps: IdentityDeps): Promise<Identity> {
  let table: TrustTable;
  let namer: TokenNamer;
  try {
    table = buildTrustTable(config, deps);
    namer = createTokenNamer(
      config.fingerprintKeyFile === undefined
        ? undefined
        : await readSecretFile(config.fingerprintKeyFile, {
            setting: 'identity.fingerprintKeyFile',
            strictPermissions: deps.strictSecretFiles ?? false,
          }),
    );
  } catch (err) {
    throw new BrokerError('ERR_CONFIG', 500, `identity: ${err instanceof Error ? err.message : 'invalid configuration'}`, { cause: err });
  }
  await Promise.all(
    table.all.map((t) =>
      t.keySet.loaded.catch((err: unknown) => {
        // A key file is config: refuse to boot. A remote source may be briefly down: serve the other
        // issuers and answer 503 for this one until a fetch succeeds.
        if (t.fileSource) throw new BrokerError('ERR_CONFIG', 500, `${t.keySet.label}: ${describeCause(err)}`, { cause: err });
        deps.logger.error(
          { keySet: t.keySet.label, err: describeCause(err) },
          'key set unavailable at boot; its tokens answer 503 until a fetch succeeds',
        );
      }),
    ),
  );
  for (const o of table.oidc.values()) {
    // A multi-tenant issuer (GitHub Actions, a shared cluster) vouches for subjects nobody here chose.
    if (o.constraints.length === 0)
      deps.logger.warn(
        { issuer: o.issuer, entry: o.label },
        'OIDC agent issuer has no claim constraints: every subject it vouches for is an agent',
      );
  }
  deps.logger.info(
    {
      trustDomains: [...table.spiffe.keys()],
      oidcIssuers: [...table.oidc.values()].map((t) => t.name),
      operatorIssuer: table.operator.issuer,
    },
    'identity ready',
  );

  const cache = createTokenCache<AgentIdentity | OperatorIdentity>(config.tokenCache.maxEntries);
  const op = config.operators;

  async function authenticate<T extends AgentIdentity | OperatorIdentity>(
    token: string,
    kind: Kind,
    build: (v: Verified, digest: string) => T,
  ): Promise<T> {
    const parts = splitCompact(token, config.maxTokenBytes);
    const now = deps.now();
    // SHA-256 of header.payload, once: the cache key, the tokenId without jti, the fingerprint input.
    const digest = signingInputDigest(parts.signingInput);
    const hit = cache.get(digest, parts.signature, kind, now);
    if (hit) return hit as T;
    const decoded = decodeToken(parts, kind);
    // A known kid in a fresh set is had without waiting: no microtask per token on the warm path.
    const { keySet } = decoded.trusted;
    const key = keySet.peek(decoded.header.kid) ?? (await keySet.keyFor(decoded.header.kid));
    const verified = verifyWithKey(decoded, key, parts, kind);
    const result = build(verified, digest);
    cache.set(digest, parts.signature, {
      kind,
      expiresAt: verified.registered.exp * 1000,
      keySet: verified.trusted.keySet,
      key: verified.key,
      result,
    });
    return result;
  }

  /** Everything checked before a key is needed: structure, header, the one trust entry, alg, typ. */
  function decodeToken(parts: CompactParts, kind: Kind): DecodedToken {
    const header = checkHeader(decodeJsonObject(parts.header, 'header'));
    const payload = decodeJsonObject(parts.payload, 'payload');
    const signature = decodeCanonical(parts.signature, 'signature');
    const { trusted, spiffeId } =
      kind === 'operator' ? { trusted: routeOperator(table, payload), spiffeId: undefined } : routeAgent(table, payload);
    const where = trusted.label;
    // Algorithm from config, never from the token (RFC 8725 §3.1): refuses none, HS*, and confusion.
    if (!trusted.algorithms.has(header.alg))
      throw tokenError('ERR_TOKEN_SIGNATURE', `${where}: alg ${cleanForLog(header.alg, 32)} is not allowed`);
    if (!isAcceptedTyp(header.typ))
      throw tokenError('ERR_TOKEN_CLAIMS', `${where}: typ ${cleanForLog(header.typ ?? '', 64)} is not accepted (absent, JWT or JOSE)`);
    return { header, payload, signature, trusted, spiffeId };
  }

  /** The signature by the key the header's kid named, then the claims (kind: the endpoint's rules). */
  function verifyWithKey(token: DecodedToken, key: VerificationKey | undefined, parts: CompactParts, kind: Kind): Verified {
    const { header, payload, signature, trusted, spiffeId } = token;
    const where = trusted.label;
    if (!key)
      throw tokenError(
        'ERR_TOKEN_SIGNATURE',
        `${where}: no key with kid ${JSON.stringify(cleanForLog(header.kid, 128))} in ${trusted.keySet.label}`,
      );
    const mismatch = keyMismatch(header.alg, key);
    if (mismatch !== null) throw tokenError('ERR_TOKEN_SIGNATURE', `${where}: ${cleanForLog(mismatch, 300)}`);
    if (!verifySignature(header.alg, key.key, parts.signingInput, signature))
      throw tokenError('ERR_TOKEN_SIGNATURE', `${where}: signature does not verify with key ${cleanForLog(key.kid, 128)}`);

    // The clock is read after the key lookup, which may have waited on a fetch. Times are compared
    // exactly (fractional seconds), so "accepted until" below is the very instant the checks stop
    // accepting the token, also for a fractional exp: the single-use record lives exactly as long.
    // Introspection clients are workloads of the agent issuers, told apart by their own audience.
    const rules = kind === 'introspector' ? { ...trusted.rules, audience: config.introspection.audience } : trusted.rules;
    const registered = checkRegisteredClaims(payload, rules, deps.now() / 1000, where);
    if (trusted.kind === 'spiffe') {
      // Re-checked after verification: the key set was chosen by the strictly parsed trust domain
      // of this very sub, and nothing else may have vouched for it.
      if (spiffeId?.id !== registered.subject || spiffeId.trustDomain !== trusted.trustDomain) {
        throw tokenError('ERR_TOKEN_ISSUER_UNTRUSTED', `${where}: "sub" is not a SPIFFE ID in trust domain ${trusted.trustDomain ?? ''}`);
      }
    }
    checkClaimConstraints(trusted.constraints, payload, where);
    return { trusted, claims: payload, registered, key };
  }

  const claimMapping = deps.agentClaims ?? {};
  const agentOf = (v: Verified, digest: string): AgentIdentity => {
    const { trusted, registered } = v;
    const claims = pickClaims(v.claims, claimMapping);
    const sponsor = deps.sponsorClaim === undefined ? undefined : ownClaim(v.claims, deps.sponsorClaim);
    const spiffe = trusted.kind === 'spiffe';
    return Object.freeze({
      kind: 'agent',
      id: spiffe ? registered.subject : `${trusted.issuer}#${registered.subject}`,
      issuer: trusted.issuer,
      issuerName: trusted.name,
      subject: registered.subject,
      ...(spiffe && trusted.trustDomain !== undefined ? { trustDomain: trusted.trustDomain } : {}),
      ...(registered.jti === undefined ? {} : { jti: registered.jti }),
      expiresAt: registered.exp * 1000,
      acceptedUntil: (registered.exp + trusted.rules.clockLeewaySeconds) * 1000,
      fingerprint: namer.fingerprint(digest),
      tokenId: tokenIdOf(trusted.issuer, registered.jti, digest),
      ...(claims === undefined ? {} : { claims }),
      ...(typeof sponsor === 'string' && sponsor !== '' && sponsor.length <= 256 ? { sponsor } : {}),
    });
  };

  const operatorOf = (v: Verified, digest: string): OperatorIdentity => {
    checkOperatorClaims(op, v.claims);
    const roles = rolesOf(ownClaim(v.claims, op.rolesClaim));
    return Object.freeze({
      kind: 'operator',
      subject: v.registered.subject,
      issuer: v.trusted.issuer,
      roles,
      expiresAt: v.registered.exp * 1000,
      fingerprint: namer.fingerprint(digest),
    });
  };

  return {
    authenticateAgent: (token) => authenticate(token, 'agent', agentOf),
    authenticateOperator: (token) => authenticate(token, 'operator', operatorOf),
    authenticateIntrospectionCaller: async (token) =>
      isOperatorIssued(token) ? authenticate(token, 'operator', operatorOf) : authenticate(token, 'introspector', agentOf),
    authenticateAgentOrOperator: async (token) =>
      isOperatorIssued(token) ? authenticate(token, 'operator', operatorOf) : authenticate(token, 'agent', agentOf),
  };

  /** Whether the token names the operator issuer (unverified: it only picks which checks run). */
  function isOperatorIssued(token: string): boolean {
    const payload = decodeJsonObject(splitCompact(token, config.maxTokenBytes).payload, 'payload');
    return ownClaim(payload, 'iss') === op.issuer;
  }
}

/** The roles claim as a string array: a string is one role; anything else is no roles. */
function rolesOf(value: unknown): readonly string[] {
  if (typeof value === 'string') return Object.freeze([value]);
  if (Array.isArray(value) && value.every((r): r is string => typeof r === 'string')) return Object.freeze([...value]);
  return Object.freeze([]);
}
