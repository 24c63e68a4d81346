/**
 * The `identity` config section: which workloads and operators the broker believes, and how
 * (docs/security.md §1, CONTRIBUTING.md #12). Trust is an allowlist: SPIFFE trust domains with their bundle,
 * OIDC issuers with their keys, and one operator issuer. Each gets its own key set at boot; keys
 * are never discovered from token content. Everything a token is checked against is pinned here:
 * algorithms, audience, maximum lifetime, clock leeway and anchored claim constraints.
 */
import { ALL_PERMISSIONS, PERMISSIONS } from '../identity/permissions.js';
import { z } from 'zod';
import { isLoopbackHost } from '../urls.js';

const positive = z.number().int().positive();
const filePath = z.string().min(1);

/** `https:`, or `http:` on a loopback host only (local sidecars, tests). */
export function isFetchableUrl(value: string): boolean {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return false;
  }
  if (url.username !== '' || url.password !== '' || url.hash !== '') return false;
  if (url.protocol === 'https:') return true;
  return url.protocol === 'http:' && isLoopbackHost(url.hostname);
}

const fetchUrl = z.string().refine(isFetchableUrl, 'must be an https URL (http only on a loopback host), without userinfo or fragment');

/** How a remote document is fetched: bounded in time and size, never redirected. */
const fetchFields = {
  timeoutMs: positive.max(30_000).default(3000),
  maxBytes: positive.max(4 * 1024 * 1024).default(256 * 1024),
  /** PEM file of extra CA certificates for this endpoint (a cluster CA); Web PKI otherwise. */
  caFile: filePath.optional(),
};

/**
 * How a key set is kept current. A refresh is due every `refreshSeconds` (a shorter
 * `spiffe_refresh_hint` is honoured); an unknown `kid` prompts a refetch at most once per
 * `cooldownSeconds`; the last good keys are kept while refreshes fail, for at most
 * `maxStalenessSeconds` after the last success — then the issuer fails closed (503).
 */
const refreshFields = {
  refreshSeconds: positive.max(86_400).default(300),
  cooldownSeconds: positive.max(3600).default(30),
  maxStalenessSeconds: positive.max(7 * 86_400).default(21_600),
};

/** A SPIFFE bundle (SPIFFE_Trust_Domain_and_Bundle.md §4): a file, or a bundle endpoint (§5). */
export const spiffeBundleSourceSchema = z.union([
  z.object({ file: filePath, ...refreshFields }).strict(),
  z.object({ endpoint: fetchUrl, ...fetchFields, ...refreshFields }).strict(),
]);

/** An OIDC issuer's keys: OIDC Discovery of the issuer itself, an explicit `jwks_uri`, or a file. */
export const oidcKeySourceSchema = z.union([
  z.object({ discovery: z.literal(true), ...fetchFields, ...refreshFields }).strict(),
  z.object({ jwksUri: fetchUrl, ...fetchFields, ...refreshFields }).strict(),
  z.object({ file: filePath, ...refreshFields }).strict(),
]);

/** RFC 6901 JSON Pointer, non-empty: `/repository`, `/kubernetes.io/namespace`. */
const JSON_POINTER = /^(?:\/(?:[^~/]|~[01])*)+$/;

/**
 * One condition on a verified claim, compiled once at boot (identity/claim_constraints.ts). The
 * claim must be present and a string. `equals` compares exactly; `pattern` is a regular
 * expression the broker anchors as `^(?:…)$` (octo-sts style), so `acme/ops` never matches
 * `acme/ops-evil`.
 */
export const claimConstraintSchema = z
  .object({
    claim: z.string().regex(JSON_POINTER, 'must be a JSON Pointer such as /repository or /kubernetes.io/namespace'),
    equals: z.union([z.string(), z.array(z.string()).min(1)]).optional(),
    pattern: z.string().min(1).optional(),
  })
  .strict()
  .superRefine((c, ctx) => {
    if ((c.equals === undefined) === (c.pattern === undefined))
      ctx.addIssue({ code: 'custom', message: 'give exactly one of equals or pattern' });
    if (c.pattern !== undefined) {
      try {
        new RegExp(c.pattern, 'u');
      } catch {
        ctx.addIssue({ code: 'custom', path: ['pattern'], message: 'invalid regular expression' });
      }
    }
  });

/** JWT-SVID.md §2.1: RS/ES/PS 256/384/512 only. Never `none`, never HS*. */
const svidAlg = z.enum(['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512']);
const asymmetricAlg = z.enum([...svidAlg.options, 'EdDSA']);

/** What every issuer's tokens are checked against. */
const checkFields = {
  /** Defaults to identity.audience. Compared exactly and case-sensitively. */
  audience: z.string().min(1).optional(),
  /** JWT-SVID.md §6.2: a token for several audiences can be replayed by any of them. */
  allowMultipleAudiences: z.boolean().default(false),
  maxLifetimeSeconds: positive.max(86_400).default(3600),
  clockLeewaySeconds: z.number().int().min(0).max(60).default(30),
  claims: z.array(claimConstraintSchema).default([]),
};

const issuerName = z.string().regex(/^[a-z0-9][a-z0-9_-]{0,62}$/);

/** A SPIFFE trust domain: its JWT-SVIDs' `sub` is the agent id; keys come from its bundle only. */
export const spiffeTrustDomainSchema = z
  .object({
    trustDomain: z.string().regex(/^[a-z0-9._-]{1,255}$/, 'must be a lower-case trust domain name (SPIFFE-ID.md §2.1)'),
    bundle: spiffeBundleSourceSchema,
    /** When set, `iss` is required and must equal it exactly (SPIRE `jwt_issuer`). */
    issuer: z.string().min(1).optional(),
    algorithms: z.array(svidAlg).min(1),
    ...checkFields,
  })
  .strict();

/** An OIDC issuer (Kubernetes service accounts, CI): agent id `iss#sub`. */
export const oidcIssuerSchema = z
  .object({
    name: issuerName,
    /** Exact `iss`. With `discovery`, also the discovery document's `issuer`. */
    issuer: z.string().min(1),
    keys: oidcKeySourceSchema,
    algorithms: z.array(asymmetricAlg).min(1),
    ...checkFields,
  })
  .strict();

export const operatorIssuerSchema = z
  .object({
    issuer: z.string().min(1),
    keys: oidcKeySourceSchema,
    algorithms: z.array(asymmetricAlg).min(1),
    /** Claim holding the operator's roles or groups (string or array of strings). */
    rolesClaim: z.string().min(1).default('roles'),
    /** A value of the roles claim that grants every permission (identity/permissions.ts). */
    operatorRole: z.string().min(1).default('operator'),
    /**
     * Finer grants: a value of the roles claim → the permissions it grants (`*` for all), e.g.
     * `{ auditor: [audit.read, incidents.read], oncall: [incidents.open, incidents.close] }`.
     */
    permissions: z.record(z.string().min(1), z.array(z.enum([...PERMISSIONS, ALL_PERMISSIONS])).min(1)).default({}),
    /** When set, the token's `azp` (else `client_id`) must be one of these OIDC clients. */
    allowedClients: z.array(z.string().min(1)).min(1).optional(),
    /** When set, the token's `amr` must hold at least one of these (RFC 8176: `mfa`, `hwk`, `otp`, …). */
    amrAnyOf: z.array(z.string().min(1)).min(1).optional(),
    /**
     * Whether tokens the IdP issued to a client for itself (client credentials) pass as operators:
     * Entra's `idtyp: app`, Auth0's `gty: client-credentials`, or a `sub` equal to its own
     * `azp`/`client_id`. Off: operator endpoints answer to humans.
     */
    allowServicePrincipals: z.boolean().default(false),
    ...checkFields,
  })
  .strict();

/**
 * Resource servers that may call POST /oauth2/introspect with their own workload token (a
 * JWT-SVID or OIDC token of an agent issuer, for `audience`), each seeing only the tokens issued
 * for its own audiences.
 */
export const introspectionClientSchema = z
  .object({
    /** Names the client in metrics and logs. */
    name: issuerName,
    /** The workload's id exactly as the broker names agents: a SPIFFE ID, or `issuer#subject`. */
    id: z.string().min(1).max(2048),
    /** The `aud` values of broker-signed tokens it may learn are active; any other token is inactive to it. */
    audiences: z.array(z.string().min(1)).min(1),
  })
  .strict();

const introspectionSchema = z
  .object({
    /** The audience introspection clients' tokens carry; default `<identity.audience>/introspect`. */
    audience: z.string().min(1).optional(),
    clients: z.array(introspectionClientSchema).default([]),
  })
  .strict()
  .prefault({});

export const identitySchema = z
  .object({
    /** The audience every token must carry unless its issuer names another. */
    audience: z.string().min(1),
    /** Token size cap before any parsing (docs/security.md §1). */
    maxTokenBytes: positive.max(64 * 1024).default(8192),
    /** File holding the HMAC key of token fingerprints, shared by replicas; a per-process random key otherwise. */
    fingerprintKeyFile: filePath.optional(),
    /** Verified-token cache (per broker process); 0 disables it. */
    tokenCache: z
      .object({ maxEntries: z.number().int().min(0).max(1_000_000).default(10_000) })
      .strict()
      .prefault({}),
    agents: z
      .object({
        spiffe: z.array(spiffeTrustDomainSchema).default([]),
        oidc: z.array(oidcIssuerSchema).default([]),
      })
      .strict(),
    operators: operatorIssuerSchema,
    introspection: introspectionSchema,
  })
  .strict()
  .superRefine((identity, ctx) => {
    const { spiffe, oidc } = identity.agents;
    if (spiffe.length + oidc.length === 0)
      ctx.addIssue({ code: 'custom', path: ['agents'], message: 'trust at least one SPIFFE trust domain or OIDC issuer' });
    const seen = new Map<string, string>();
    const unique = (kind: string, value: string, path: PropertyKey[]): void => {
      const key = `${kind}\u0000${value}`;
      if (seen.has(key)) ctx.addIssue({ code: 'custom', path, message: `duplicate ${kind} (also at ${seen.get(key)})` });
      else seen.set(key, path.join('.'));
    };
    spiffe.forEach((td, i) => {
      unique('trust domain', td.trustDomain, ['agents', 'spiffe', i, 'trustDomain']);
      if (td.issuer !== undefined) unique('issuer', td.issuer, ['agents', 'spiffe', i, 'issuer']);
      checkRefresh(td.bundle, ['agents', 'spiffe', i, 'bundle'], ctx);
    });
    oidc.forEach((o, i) => {
      unique('name', o.name, ['agents', 'oidc', i, 'name']);
      unique('issuer', o.issuer, ['agents', 'oidc', i, 'issuer']);
      checkOidcKeys(o.issuer, o.keys, ['agents', 'oidc', i], ctx);
    });
    // Token kinds must not overlap: an agent token must never pass as an operator token.
    if (seen.has(`issuer\u0000${identity.operators.issuer}`)) {
      ctx.addIssue({ code: 'custom', path: ['operators', 'issuer'], message: 'operator issuer must differ from every agent issuer' });
    }
    checkOidcKeys(identity.operators.issuer, identity.operators.keys, ['operators'], ctx);
    // Introspection clients come from the agent issuers: only the audience tells their tokens apart.
    const introspectionAudience = identity.introspection.audience ?? defaultIntrospectionAudience(identity.audience);
    const agentAudiences = new Set([
      identity.audience,
      ...[...spiffe, ...oidc].flatMap((i) => (i.audience === undefined ? [] : [i.audience])),
    ]);
    if (agentAudiences.has(introspectionAudience)) {
      ctx.addIssue({
        code: 'custom',
        path: ['introspection', 'audience'],
        message: 'must differ from every audience agent tokens are accepted for, or an agent token would pass as an introspection client',
      });
    }
    identity.introspection.clients.forEach((c, i) => {
      unique('introspection client name', c.name, ['introspection', 'clients', i, 'name']);
      unique('introspection client id', c.id, ['introspection', 'clients', i, 'id']);
    });
  })
  // Operator tokens are for the broker's operator API, not for whatever agents present: unless
  // told otherwise they must name an audience of their own, so a token minted for agents (or
  // for the broker as a resource in general) does not also open and close incidents.
  .transform((identity) => ({
    ...identity,
    operators: { ...identity.operators, audience: identity.operators.audience ?? defaultOperatorAudience(identity.audience) },
    introspection: {
      ...identity.introspection,
      audience: identity.introspection.audience ?? defaultIntrospectionAudience(identity.audience),
    },
  }));

/** `<identity.audience>/introspect`: the introspection clients' audience when identity.introspection.audience is not set. */
export function defaultIntrospectionAudience(audience: string): string {
  return `${audience.replace(/\/+$/u, '')}/introspect`;
}

/** `<identity.audience>/operators`: the operator audience when identity.operators.audience is not set. */
export function defaultOperatorAudience(audience: string): string {
  return `${audience.replace(/\/+$/u, '')}/operators`;
}

type RefreshFields = { refreshSeconds: number; cooldownSeconds: number; maxStalenessSeconds: number };

function checkRefresh(source: RefreshFields, path: PropertyKey[], ctx: z.RefinementCtx): void {
  if (source.cooldownSeconds > source.refreshSeconds)
    ctx.addIssue({ code: 'custom', path: [...path, 'cooldownSeconds'], message: 'must not exceed refreshSeconds' });
  // Several refreshes must fit in the staleness bound, or one failure would lock everyone out.
  if (source.maxStalenessSeconds < 2 * source.refreshSeconds)
    ctx.addIssue({ code: 'custom', path: [...path, 'maxStalenessSeconds'], message: 'must be at least twice refreshSeconds' });
}

function checkOidcKeys(issuer: string, keys: z.infer<typeof oidcKeySourceSchema>, path: PropertyKey[], ctx: z.RefinementCtx): void {
  checkRefresh(keys, [...path, 'keys'], ctx);
  // OIDC Discovery 1.0 §4: the document lives under the issuer URL, so the issuer must be one.
  if ('discovery' in keys && !isFetchableUrl(issuer)) {
    ctx.addIssue({
      code: 'custom',
      path: [...path, 'issuer'],
      message: 'discovery needs an https issuer URL (http only on a loopback host)',
    });
  }
}

export type IdentityConfig = z.infer<typeof identitySchema>;
export type SpiffeTrustDomainConfig = z.infer<typeof spiffeTrustDomainSchema>;
export type OidcIssuerConfig = z.infer<typeof oidcIssuerSchema>;
export type OperatorIssuerConfig = z.infer<typeof operatorIssuerSchema>;
export type SpiffeBundleSource = z.infer<typeof spiffeBundleSourceSchema>;
export type OidcKeySource = z.infer<typeof oidcKeySourceSchema>;
export type ClaimConstraintConfig = z.infer<typeof claimConstraintSchema>;
