/**
 * Config of the `vault` provider (`providers.vault`) and of its profiles' `params`. Every object is
 * `.strict()`; the broker's own Vault credentials come as file paths (CONTRIBUTING.md #10).
 */
import { z } from 'zod';

/** Vault policy, token role and mount names: one path segment. */
const NAME = /^[A-Za-z0-9._-]+$/u;
const name = (what: string) => z.string().regex(NAME, `must be a ${what} name (letters, digits, . _ -)`);
const policy = name('policy').refine((p) => p !== 'root', 'the root policy is never handed out');
const seconds = z.number().int().min(1);
const filePath = z.string().min(1);

/** Metadata keys the provider sets itself on every child token. */
/** A child issued now must end before its parent with this much room (clock skew, request time). */
export const PARENT_MARGIN_SECONDS = 30;

export const RESERVED_META_KEYS = ['incident_id', 'grant_id', 'agent', 'profile'] as const;

const authSchema = z.discriminatedUnion('method', [
  z
    .object({
      method: z.literal('token'),
      /** A file holding a Vault token (mounted Secret, or written by Vault Agent). Re-read on every login. */
      tokenFile: filePath,
    })
    .strict(),
  z
    .object({
      method: z.literal('approle'),
      roleId: z.string().min(1),
      /** File holding the AppRole secret_id. */
      secretIdFile: filePath,
      mount: name('mount').default('approle'),
    })
    .strict(),
  z
    .object({
      method: z.literal('kubernetes'),
      role: z.string().min(1),
      /** The pod's service-account token (projected volume); re-read on every login because kubelet rotates it. */
      jwtFile: filePath.default('/var/run/secrets/kubernetes.io/serviceaccount/token'),
      mount: name('mount').default('kubernetes'),
    })
    .strict(),
]);

export const vaultConfigSchema = z
  .object({
    /** Vault's API address, e.g. https://vault.example.com:8200. */
    address: z.url({ protocol: /^https?$/u }),
    /** Vault Enterprise / HCP namespace, sent as X-Vault-Namespace on every request. */
    namespace: z
      .string()
      .min(1)
      .regex(/^[A-Za-z0-9._/-]+$/u)
      .optional(),
    /** PEM bundle of CAs trusted for Vault's TLS certificate (instead of the system store). */
    caFile: filePath.optional(),
    auth: authSchema,
    /**
     * Token role used to create each incident's parent token. It must set `orphan=true`,
     * `renewable=false`, `token_explicit_max_ttl` and `allowed_policies` ⊇ parentPolicies
     * (see providers/vault/README.md).
     */
    parentTokenRole: name('token role'),
    /**
     * Policies of every per-incident parent token: one allowing `auth/token/create`, plus every
     * policy any child may get (children's policies must be a subset of their parent's).
     */
    parentPolicies: z.array(policy).min(1),
    /**
     * Hard cap on a parent token's life; a new parent is made when the current one cannot outlive
     * a new child. Default: twice maxTtlSeconds (at least maxTtlSeconds + the margin) — the
     * backstop for a parent whose revocation at close fails, so no longer than children need.
     */
    parentExplicitMaxTtlSeconds: seconds.max(31 * 86_400).optional(),
    /** Hard cap on any credential's lifetime, enforced here as well as by core. */
    maxTtlSeconds: seconds.max(7 * 86_400).default(3600),
    /** Upper bound of one HTTP request to Vault. */
    requestTimeoutMs: z.number().int().min(100).max(120_000).default(5000),
    /**
     * How often a replica revokes the recorded parents of incidents that closed (every parent is
     * recorded in the store before use; a close with live grants revokes them at once, this sweep
     * also those of incidents whose grants had all ended, or whose revocation failed).
     */
    parentSweepSeconds: z.number().int().min(1).max(3600).default(30),
    /** Lookups in flight while confirming a revocation (the receipts of a whole incident). */
    confirmConcurrency: z.number().int().min(1).max(64).default(16),
  })
  .strict()
  .superRefine((cfg, ctx) => {
    if (cfg.parentExplicitMaxTtlSeconds !== undefined && cfg.parentExplicitMaxTtlSeconds < cfg.maxTtlSeconds + PARENT_MARGIN_SECONDS) {
      // A child dies with its parent: a new parent must outlive the longest child, with room.
      ctx.addIssue({
        code: 'custom',
        path: ['parentExplicitMaxTtlSeconds'],
        message: `must be at least maxTtlSeconds + ${PARENT_MARGIN_SECONDS}`,
      });
    }
    const url = new URL(cfg.address);
    if (url.username !== '' || url.password !== '') {
      // The address is logged and handed to agents as vault_addr: no credentials in it.
      ctx.addIssue({ code: 'custom', path: ['address'], message: 'must not carry a user or password' });
    }
  })
  .transform((cfg) => ({
    ...cfg,
    parentExplicitMaxTtlSeconds:
      cfg.parentExplicitMaxTtlSeconds ?? Math.max(2 * cfg.maxTtlSeconds, cfg.maxTtlSeconds + PARENT_MARGIN_SECONDS),
  }));

const metaSchema = z
  .record(z.string().regex(NAME), z.string().max(512))
  .refine((meta) => RESERVED_META_KEYS.every((k) => !(k in meta)), `must not set ${RESERVED_META_KEYS.join(', ')}: the provider sets them`);

/** A Vault API path below /v1/, relative, no `..`, not a sys/ or auth/ endpoint. */
const secretPath = z
  .string()
  .regex(/^[A-Za-z0-9._-]+(?:\/[A-Za-z0-9._-]+)+$/u, 'must be a Vault path such as database/creds/readonly')
  .refine((p) => !p.split('/').some((s) => s === '.' || s === '..'), 'must not contain . or .. segments')
  .refine((p) => !/^(?:sys|auth|identity|cubbyhole)\//u.test(p), 'must be a secrets engine path, not sys/, auth/, identity/ or cubbyhole/');

export const vaultProfileParamsSchema = z.discriminatedUnion('kind', [
  z
    .object({
      /** A child token with these policies, handed to the agent. */
      kind: z.literal('vault_token'),
      policies: z.array(policy).min(1),
      /** 0 = unlimited; otherwise the token dies after this many requests. */
      numUses: z.number().int().min(0).default(0),
      /** Optional token role for the child (it must not be an orphan role). */
      role: name('token role').optional(),
      meta: metaSchema.optional(),
    })
    .strict(),
  z
    .object({
      /** A dynamic secret read with a broker-held child token, so the lease dies with that token. */
      kind: z.literal('vault_dynamic'),
      path: secretPath,
      /** Policies of the child token that reads `path`: they must allow read (or update for `write`). */
      childPolicies: z.array(policy).min(1),
      /** `read` (GET, e.g. database/creds/<role>) or `write` (POST with `data`, e.g. pki/issue/<role>). */
      method: z.enum(['read', 'write']).default('read'),
      data: z.record(z.string(), z.string()).optional(),
      /**
       * Fields of the secret's `data` that are secret (kept out of every log and sink). Default:
       * all of them. List them when some are public, e.g. `[private_key]` for pki/issue.
       */
      secretFields: z.array(z.string().min(1)).min(1).optional(),
    })
    .strict()
    .refine((p) => p.method === 'write' || p.data === undefined, { path: ['data'], message: 'only for method write' }),
]);

export type VaultConfig = z.infer<typeof vaultConfigSchema>;
export type VaultAuthConfig = VaultConfig['auth'];
export type VaultProfileParams = z.infer<typeof vaultProfileParamsSchema>;
export type VaultTokenParams = Extract<VaultProfileParams, { kind: 'vault_token' }>;
export type VaultDynamicParams = Extract<VaultProfileParams, { kind: 'vault_dynamic' }>;
