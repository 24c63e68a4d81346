/**
 * What every route of the fake Vault sees: the stores, the options tests configure it with, and
 * the response shapes Vault uses (https://developer.hashicorp.com/vault/api-docs).
 */
import type { AclStore, Capability } from './acl.js';
import type { LeaseStore } from './leases.js';
import type { FakeToken, TokenStore } from './token_store.js';
import { iso, newRequestId } from './values.js';

export interface TokenRole {
  readonly name: string;
  readonly allowedPolicies: readonly string[];
  readonly disallowedPolicies: readonly string[];
  readonly orphan: boolean;
  readonly renewable: boolean;
  readonly explicitMaxTtlSeconds: number;
  /** `token_type`: a batch token has no accessor (it cannot be looked up or revoked on its own). */
  readonly tokenType: 'service' | 'batch';
}

export interface LoginRole {
  readonly policies: readonly string[];
  readonly ttlSeconds: number;
  /** Caps renewals, like the auth method's token_max_ttl. 0 = none. */
  readonly maxTtlSeconds?: number;
}

export interface FakeVaultOptions {
  readonly now?: () => number;
  /** The root token's id; random by default. */
  readonly rootToken?: string;
  /** AppRole login at auth/<mount>/login. */
  readonly approle?: LoginRole & { readonly mount?: string; readonly roleId: string; readonly secretId: string };
  /** Kubernetes login at auth/<mount>/login; `jwt` is the one service-account token it accepts. */
  readonly kubernetes?: LoginRole & { readonly mount?: string; readonly role: string; readonly jwt: string };
  /** Dynamic database roles served at database/creds/<role>. */
  readonly databaseRoles?: Readonly<Record<string, { readonly ttlSeconds: number }>>;
  /** PKI roles served at pki/issue/<role> (write); leases only with generateLease, as in Vault. */
  readonly pkiRoles?: Readonly<Record<string, { readonly ttlSeconds: number; readonly generateLease: boolean }>>;
  /** Added before every answer, for benchmarks. */
  readonly latencyMs?: number;
}

export interface FakeVaultState {
  readonly now: () => number;
  readonly tokens: TokenStore;
  readonly leases: LeaseStore;
  readonly acl: AclStore;
  readonly roles: Map<string, TokenRole>;
  readonly options: FakeVaultOptions;
}

export interface RouteContext {
  readonly state: FakeVaultState;
  /** Request path without `/v1/` and query. */
  readonly path: string;
  readonly params: Readonly<Record<string, string>>;
  readonly body: Readonly<Record<string, unknown>>;
  /** The calling token (authenticated routes only). */
  readonly token: FakeToken | undefined;
}

export interface RouteResult {
  readonly status: number;
  readonly body?: unknown;
}

export interface Route {
  /** Stable name used for call counting, e.g. `auth/token/revoke-accessor`. */
  readonly name: string;
  readonly methods: readonly string[];
  readonly pattern: RegExp;
  /** null: unauthenticated (sys/health, logins). Otherwise the capabilities any of which the ACL must grant. */
  readonly capabilities: readonly Capability[] | null;
  handle(ctx: RouteContext): RouteResult;
}

/** Default and maximum TTL of the token mount (Vault's defaults: 768h). */
export const MOUNT_TTL_SECONDS = 768 * 3600;

export function envelope(fields: Record<string, unknown>): Record<string, unknown> {
  return {
    request_id: newRequestId(),
    lease_id: '',
    renewable: false,
    lease_duration: 0,
    data: null,
    wrap_info: null,
    warnings: null,
    auth: null,
    ...fields,
  };
}

export const ok = (fields: Record<string, unknown>): RouteResult => ({ status: 200, body: envelope(fields) });
export const noContent = (): RouteResult => ({ status: 204 });

/** `leaseDuration`: the TTL just granted (Vault reports it exactly, not as time left). */
export function authBlock(token: FakeToken, leaseDuration = token.creationTtlSeconds): Record<string, unknown> {
  return {
    client_token: token.id,
    accessor: token.accessor,
    policies: [...token.policies],
    token_policies: [...token.policies],
    metadata: Object.keys(token.meta).length > 0 ? { ...token.meta } : null,
    lease_duration: token.expiresAt === null ? 0 : leaseDuration,
    renewable: token.renewable && token.expiresAt !== null,
    entity_id: '',
    token_type: 'service',
    orphan: token.orphan,
    num_uses: token.numUses,
  };
}

/** The `data` of auth/token/lookup*, as documented for lookup-self. */
export function lookupData(state: FakeVaultState, token: FakeToken, withId: boolean): Record<string, unknown> {
  return {
    accessor: token.accessor,
    creation_time: Math.floor(token.createdAt / 1000),
    creation_ttl: token.creationTtlSeconds,
    display_name: token.displayName,
    entity_id: '',
    expire_time: token.expiresAt === null ? null : iso(token.expiresAt),
    explicit_max_ttl: token.explicitMaxTtlSeconds,
    id: withId ? token.id : '',
    issue_time: iso(token.createdAt),
    meta: Object.keys(token.meta).length > 0 ? { ...token.meta } : null,
    num_uses: token.numUses,
    orphan: token.orphan,
    path: token.path,
    policies: [...token.policies],
    renewable: token.renewable && token.expiresAt !== null,
    ttl: state.tokens.ttlSeconds(token),
    type: 'service',
  };
}
