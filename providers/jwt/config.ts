/**
 * Config of the broker's own `jwt` provider (`providers.jwt`) and of its profiles' `params`.
 * Both are `.strict()`: a misspelt key is a boot error, not a silently ignored setting.
 */
import { z } from 'zod';

/**
 * A non-empty list of OAuth scope tokens separated by single spaces
 * (RFC 6749 §3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E )).
 */
const SCOPE = /^[\x21\x23-\x5B\x5D-\x7E]+(?: [\x21\x23-\x5B\x5D-\x7E]+)*$/u;

export const jwtConfigSchema = z
  .object({
    /**
     * `iss` of issued tokens; downstream tools pin it. Default: the broker's public base URL
     * (server.publicUrl; in development mode the address the broker listens on).
     */
    issuer: z.url({ protocol: /^https?$/u }).optional(),
    /** Path to a private EC P-256 JWK (JSON), e.g. a mounted Kubernetes Secret. */
    signingKeyFile: z.string().min(1),
    /**
     * Keys published in the JWKS and accepted at introspection besides the signing key, never
     * used to sign: the previous key (its tokens stay valid until they expire) and the next one
     * (downstream verifiers cache it before it signs). EC P-256 JWK files; a public JWK is enough.
     */
    publishedKeyFiles: z.array(z.string().min(1)).max(4).default([]),
    /** Development only: create the key file on first start. Refused outside development mode. */
    generateKeyIfMissing: z.boolean().default(false),
    /**
     * Hard cap on token lifetime. Offline verifiers cannot learn of a revocation before `exp`,
     * so a day is the most this provider will ever sign for.
     */
    maxTtlSeconds: z.number().int().min(1).max(86_400).default(3600),
  })
  .strict();

export const jwtProfileParamsSchema = z
  .object({
    /** `aud` of the token: the downstream tool that accepts it. */
    audience: z.string().min(1),
    /** Space-separated OAuth scopes, copied into the `scope` claim (RFC 9068 §2.2.3). */
    scope: z.string().regex(SCOPE, 'must be OAuth scope tokens separated by single spaces (RFC 6749 §3.3)'),
  })
  .strict();

export type JwtConfig = z.infer<typeof jwtConfigSchema>;
export type JwtProfileParams = z.infer<typeof jwtProfileParamsSchema>;
