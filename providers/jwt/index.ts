/**
 * The broker's own signer: short-lived JWT access tokens (RFC 9068) for downstream tools such as
 * MCP servers and internal APIs. Needs nothing external, so it is the embedded default.
 *
 * Revocation is by ledger (docs/security.md §3): the token itself cannot be recalled, so a revoked
 * grant's token answers inactive at RFC 7662 introspection while it still verifies offline until
 * `exp`. That is why lifetimes are short and capped by `maxTtlSeconds`.
 */
import { sign, verify, type KeyObject } from 'node:crypto';
import {
  BrokerError,
  isLoopbackUrl,
  providerFailed,
  type IssuedCredential,
  type IssueRequest,
  type Provider,
  type ProviderDeps,
  type ProviderFactory,
  type RevocationReceipt,
  type TokenIntrospector,
} from '../../src/sdk.js';
import { jwtConfigSchema, jwtProfileParamsSchema, type JwtConfig, type JwtProfileParams } from './config.js';
import { loadPublishedKey, loadSigningKey, SIGNING_ALG, type PublishedKey, type SigningKey } from './keys.js';

/** RFC 9068 §2.1: access tokens say what they are, so they cannot pass as ID tokens or SVIDs. */
const ACCESS_TOKEN_TYP = 'at+jwt';
/** base64url without padding; an ES256 signature is R || S, 32 bytes each (RFC 7518 §3.4). */
const BASE64URL = /^[A-Za-z0-9_-]+$/u;
const ES256_SIGNATURE_BYTES = 64;
/** The shortest TTL worth signing (see capabilities below). */
const MIN_TTL_SECONDS = 5;
/** Anything bigger is not one of ours; checked before parsing (docs/security.md §1: jose took 2 MB). */
const MAX_TOKEN_CHARS = 8 * 1024;

const base64url = (text: string): string => Buffer.from(text, 'utf8').toString('base64url');

/**
 * RFC 7515 compact JWS, ES256 (RFC 7518 §3.4: the signature is R || S, 64 bytes), signed
 * synchronously with node:crypto: one ECDSA sign per token and no WebCrypto threadpool round trip
 * (docs/performance.md). Tests verify the result with jose and with the published JWKS.
 */
function signCompact(headerSegment: string, claims: Record<string, unknown>, key: SigningKey): string {
  const signingInput = `${headerSegment}.${base64url(JSON.stringify(claims))}`;
  const signature = sign('sha256', Buffer.from(signingInput, 'ascii'), { key: key.signingKey, dsaEncoding: 'ieee-p1363' });
  return `${signingInput}.${signature.toString('base64url')}`;
}

export const jwtProvider = {
  name: 'jwt' as const,
  configSchema: jwtConfigSchema,
  profileParamsSchema: jwtProfileParamsSchema,
  async create(config: JwtConfig, deps: ProviderDeps): Promise<Provider<JwtProfileParams>> {
    const key = await loadSigningKey({
      file: config.signingKeyFile,
      generateIfMissing: config.generateKeyIfMissing,
      devMode: deps.devMode,
      logger: deps.logger,
    });
    const published = await loadPublishedKeys(config, key, deps.devMode);
    const issuer = issuerOf(config, deps);
    // Outside development the issuer must be known at boot, never fall back to a listen address,
    // and be https: downstream tools fetch the keys from it.
    if (!deps.devMode) {
      const iss = issuer();
      if (iss.startsWith('http://') && !isLoopbackUrl(iss)) {
        throw new BrokerError(
          'ERR_CONFIG',
          500,
          `providers.jwt.issuer: ${iss} is plain http; outside development mode the issuer of broker-signed tokens is https`,
        );
      }
    }
    deps.logger.info(
      { kid: key.kid, published: published.map((k) => k.kid), issuer: config.issuer ?? '(the broker URL)' },
      'jwt signing key loaded',
    );
    return createJwtProvider(config, deps, key, published, issuer);
  },
} satisfies ProviderFactory<JwtConfig, JwtProfileParams>;

/** The rotation keys, each a different key from the signing key and from one another. */
async function loadPublishedKeys(config: JwtConfig, key: SigningKey, devMode: boolean): Promise<PublishedKey[]> {
  const published: PublishedKey[] = [];
  const seen = new Set([key.kid]);
  for (const file of config.publishedKeyFiles) {
    const next = await loadPublishedKey(file, devMode);
    if (seen.has(next.kid)) {
      const what = next.kid === key.kid ? 'the signing key' : 'a key listed before it';
      throw new BrokerError(
        'ERR_CONFIG',
        500,
        `providers.jwt.publishedKeyFiles: ${file} holds ${what} (kid ${next.kid}); list each key once`,
      );
    }
    seen.add(next.kid);
    published.push(next);
  }
  return published;
}

/** `iss`: the configured issuer, else the broker's own URL (read per call: it is known once the broker listens). */
function issuerOf(config: JwtConfig, deps: ProviderDeps): () => string {
  if (config.issuer !== undefined) {
    const fixed = config.issuer;
    return () => fixed;
  }
  const { publicUrl } = deps;
  return () => {
    try {
      if (publicUrl) return publicUrl();
    } catch {
      // Said below, the same way whatever the broker's reason.
    }
    throw new BrokerError('ERR_CONFIG', 500, 'providers.jwt.issuer: required unless the broker has a public URL (server.publicUrl)');
  };
}

function createJwtProvider(
  config: JwtConfig,
  deps: ProviderDeps,
  key: SigningKey,
  published: readonly PublishedKey[],
  issuer: () => string,
): Provider<JwtProfileParams> {
  const nowSeconds = (): number => Math.floor(deps.now() / 1000);
  const headerOf = (kid: string): string => base64url(JSON.stringify({ alg: SIGNING_ALG, kid, typ: ACCESS_TOKEN_TYP }));
  const headerSegment = headerOf(key.kid);
  /** The exact header each accepted key signs under → that key: the signing key, then the published ones. */
  const verifyKeyByHeader = new Map<string, KeyObject>([
    [headerSegment, key.verifyKey],
    ...published.map((k): [string, KeyObject] => [headerOf(k.kid), k.verifyKey]),
  ]);
  // Sorted by kid: replicas that hold the same keys in either role (the signing key of one is a
  // published key of the other during a rolling rotation) serve the same document.
  const jwks = [key.publicJwk, ...published.map((k) => k.publicJwk)].sort((a, b) => ((a.kid as string) < (b.kid as string) ? -1 : 1));

  async function issue(req: IssueRequest<JwtProfileParams>): Promise<IssuedCredential> {
    // Signing is local and fast; checking once before is all the abort support it needs.
    req.signal.throwIfAborted();
    const { ttlSeconds } = req;
    // Core clamps the TTL; refusing here too keeps the hard expiry provider-enforced (guarantee 1).
    if (!Number.isInteger(ttlSeconds) || ttlSeconds < 1 || ttlSeconds > config.maxTtlSeconds) {
      throw providerFailed(`ttlSeconds ${ttlSeconds} outside 1..${config.maxTtlSeconds}`);
    }
    const iat = nowSeconds();
    const exp = iat + ttlSeconds;
    // RFC 9068 §2.2 claims, plus the broker's binding of the token to one incident and grant.
    // `purpose` is free text from the agent and stays out: tokens are shown to downstream tools.
    const claims = {
      iss: issuer(),
      sub: req.agent.id,
      aud: req.profile.params.audience,
      // RFC 9068 §2.2 requires client_id; the requesting client is the agent itself.
      client_id: req.agent.id,
      iat,
      exp,
      jti: req.grantId,
      scope: req.profile.params.scope,
      incident: req.incidentId,
      grant: req.grantId,
      profile: req.profile.name,
      // RFC 8693 §4.1: the party acting, for downstream audit trails.
      act: { sub: req.agent.id, iss: req.agent.issuer },
    };
    const accessToken = signCompact(headerSegment, claims, key);
    return {
      credential: {
        access_token: accessToken,
        token_type: 'Bearer',
        expires_in: ttlSeconds,
        expires_at: new Date(exp * 1000).toISOString(),
      },
      secretFields: ['access_token'],
      handle: { jti: req.grantId, kid: key.kid },
      expiresAt: exp * 1000,
    };
  }

  const introspector: TokenIntrospector = {
    // Only tokens this provider signed are ever valid here, so the check is narrow and synchronous
    // (no WebCrypto threadpool hop on the introspection hot path): the header must be byte for
    // byte one we sign with (alg, the kid of the signing key or a published one, typ at+jwt —
    // nothing else to parse or trust), the signature 64 canonical base64url bytes that verify
    // under that kid's key, then the claims.
    async verifyIssued(token) {
      if (typeof token !== 'string' || token.length === 0 || token.length > MAX_TOKEN_CHARS) return null;
      const first = token.indexOf('.');
      const second = token.indexOf('.', first + 1);
      if (first === -1 || second === -1 || token.indexOf('.', second + 1) !== -1) return null;
      const verifyKey = verifyKeyByHeader.get(token.slice(0, first));
      if (verifyKey === undefined) return null;
      const payloadSegment = token.slice(first + 1, second);
      const signatureSegment = token.slice(second + 1);
      if (!BASE64URL.test(payloadSegment) || !BASE64URL.test(signatureSegment)) return null;
      const signature = Buffer.from(signatureSegment, 'base64url');
      if (signature.length !== ES256_SIGNATURE_BYTES || signature.toString('base64url') !== signatureSegment) return null;
      if (!verify('sha256', Buffer.from(token.slice(0, second), 'ascii'), { key: verifyKey, dsaEncoding: 'ieee-p1363' }, signature))
        return null;
      let payload: unknown;
      try {
        payload = JSON.parse(Buffer.from(payloadSegment, 'base64url').toString('utf8'));
      } catch {
        return null;
      }
      if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) return null;
      const claims = payload as Record<string, unknown>;
      if (claims.iss !== issuer()) return null;
      // RFC 7519 §4.1.4: not on or after exp.
      if (typeof claims.exp !== 'number' || !(claims.exp * 1000 > deps.now())) return null;
      // The grant id is what introspection looks up in the ledger; jti and grant must agree.
      if (typeof claims.grant !== 'string' || claims.grant !== claims.jti || typeof claims.incident !== 'string') return null;
      return { grantId: claims.grant, claims };
    },
    publicJwks() {
      return { keys: jwks.map((jwk) => ({ ...jwk })) };
    },
  };

  return {
    name: 'jwt',
    capabilities: {
      grantRevocation: 'ledger',
      incidentRevocation: false,
      // exp is whole seconds, counted from iat rounded down: a token lives between ttl - 1 and
      // ttl seconds. Below this it could arrive already expired.
      minTtlSeconds: MIN_TTL_SECONDS,
      maxTtlSeconds: config.maxTtlSeconds,
    },
    issue,
    // The ledger is the authority: once core marks the grant revoked, introspection answers
    // inactive. Nothing upstream to call, so this is confirmed and trivially idempotent.
    async revokeGrant(req): Promise<RevocationReceipt> {
      return { grantId: req.grantId, outcome: 'revoked', confirmed: true };
    },
    introspector,
    async health() {
      const more = published.length === 0 ? '' : `; ${published.length} more published (${published.map((k) => k.kid).join(', ')})`;
      return { ok: true, detail: `signing key ${key.kid} loaded${more}` };
    },
    async close() {
      // Nothing to release: the key lives in memory only and there are no connections.
    },
  };
}
