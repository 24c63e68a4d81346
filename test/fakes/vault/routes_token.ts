/**
 * The token auth method (https://developer.hashicorp.com/vault/api-docs/auth/token): create
 * (child, orphan, against a role), lookup, lookup-self, lookup-accessor, renew-self, revoke,
 * revoke-self, revoke-accessor and token roles. Errors follow vault/token_store.go: an unknown
 * accessor is 400 "invalid accessor"; a bad token is 403.
 */
import {
  authBlock,
  lookupData,
  MOUNT_TTL_SECONDS,
  noContent,
  ok,
  type Route,
  type RouteContext,
  type RouteResult,
  type TokenRole,
} from './state.js';
import type { FakeToken } from './token_store.js';
import { badRequest, parseDurationSeconds, permissionDenied, stringList, stringMap, VaultHttpError } from './values.js';

const caller = (ctx: RouteContext): FakeToken => {
  if (!ctx.token) throw permissionDenied();
  return ctx.token;
};
const minPositive = (a: number, b: number): number => (a > 0 && b > 0 ? Math.min(a, b) : Math.max(a, b));
const withoutDefault = (policies: readonly string[]): string[] => policies.filter((p) => p !== 'default');

function createToken(ctx: RouteContext, mode: 'child' | 'orphan' | 'role'): RouteResult {
  const parent = caller(ctx);
  const b = ctx.body;
  const isRoot = parent.policies.includes('root');
  let role: TokenRole | undefined;
  if (mode === 'role') {
    role = ctx.state.roles.get(ctx.params.role ?? '');
    if (!role) throw badRequest(`unknown role ${ctx.params.role ?? ''}`);
  }
  let policies = stringList(b.policies, 'policies');
  if (role && role.allowedPolicies.length > 0) {
    // A role's allowed_policies replace the "subset of the parent" rule.
    policies ??= [...role.allowedPolicies];
    const extra = withoutDefault(policies).filter((p) => !role.allowedPolicies.includes(p));
    if (extra.length > 0) throw badRequest(`token policies (${extra.join(', ')}) must be subset of the role's allowed policies`);
  } else {
    policies ??= [...parent.policies];
    const extra = withoutDefault(policies).filter((p) => !parent.policies.includes(p));
    if (!isRoot && extra.length > 0) throw badRequest('child policies must be subset of parent');
  }
  if (role && policies.some((p) => role.disallowedPolicies.includes(p))) throw badRequest('token policies include a disallowed policy');
  if (b.no_default_policy !== true && !policies.includes('default') && !policies.includes('root')) policies.push('default');

  const orphan = mode === 'orphan' || (role?.orphan ?? false) || (b.no_parent === true && isRoot);
  // vault/token_store.go: "restricted use token cannot generate child tokens".
  if (!orphan && parent.numUses > 0) throw badRequest('restricted use token cannot generate child tokens');
  const numUses = b.num_uses === undefined ? 0 : Number(b.num_uses);
  if (!Number.isInteger(numUses) || numUses < 0) throw badRequest('number of uses cannot be negative');
  let ttl = parseDurationSeconds(b.ttl, 'ttl');
  if (ttl === 0 && !policies.includes('root')) ttl = MOUNT_TTL_SECONDS;
  ttl = Math.min(ttl, MOUNT_TTL_SECONDS);
  const explicitMax = minPositive(parseDurationSeconds(b.explicit_max_ttl, 'explicit_max_ttl'), role?.explicitMaxTtlSeconds ?? 0);
  const path =
    mode === 'role' ? `auth/token/create/${role?.name ?? ''}` : mode === 'orphan' ? 'auth/token/create-orphan' : 'auth/token/create';
  const token = ctx.state.tokens.create({
    policies,
    parentId: orphan ? null : parent.id,
    meta: stringMap(b.meta ?? b.metadata, 'meta'),
    displayName: typeof b.display_name === 'string' ? `token-${b.display_name}` : 'token',
    path,
    ttlSeconds: ttl,
    explicitMaxTtlSeconds: explicitMax,
    numUses,
    renewable: b.renewable !== false && (role?.renewable ?? true),
  });
  // Vault answers a batch token without an accessor, never renewable. (The fake keeps it in its
  // token store so it still dies with its parent; nothing can reach it by accessor.)
  if (role?.tokenType === 'batch') return ok({ auth: { ...authBlock(token), accessor: '', token_type: 'batch', renewable: false } });
  return ok({ auth: authBlock(token) });
}

function accessorTarget(ctx: RouteContext): FakeToken {
  const accessor = ctx.body.accessor;
  if (typeof accessor !== 'string' || accessor === '') throw badRequest('missing accessor');
  const token = ctx.state.tokens.byAccessor(accessor);
  if (!token) throw badRequest('invalid accessor');
  return token;
}

function tokenTarget(ctx: RouteContext): FakeToken {
  const id = ctx.body.token;
  if (typeof id !== 'string' || id === '') throw badRequest('missing token');
  const token = ctx.state.tokens.byId(id);
  if (!token) throw new VaultHttpError(403, 'bad token');
  return token;
}

function writeRole(ctx: RouteContext): RouteResult {
  const b = ctx.body;
  const name = ctx.params.role ?? '';
  ctx.state.roles.set(name, {
    name,
    allowedPolicies: stringList(b.allowed_policies, 'allowed_policies') ?? [],
    disallowedPolicies: stringList(b.disallowed_policies, 'disallowed_policies') ?? [],
    orphan: b.orphan === true,
    renewable: b.renewable !== false,
    explicitMaxTtlSeconds: parseDurationSeconds(b.token_explicit_max_ttl ?? b.explicit_max_ttl, 'token_explicit_max_ttl'),
    tokenType: b.token_type === 'batch' || b.token_type === 'default-batch' ? 'batch' : 'service',
  });
  return noContent();
}

function readRole(ctx: RouteContext): RouteResult {
  const role = ctx.state.roles.get(ctx.params.role ?? '');
  if (!role) return { status: 404, body: { errors: [] } };
  return ok({
    data: {
      name: role.name,
      allowed_policies: role.allowedPolicies,
      disallowed_policies: role.disallowedPolicies,
      orphan: role.orphan,
      renewable: role.renewable,
      token_explicit_max_ttl: role.explicitMaxTtlSeconds,
      explicit_max_ttl: role.explicitMaxTtlSeconds,
      token_type: role.tokenType === 'batch' ? 'batch' : 'default-service',
      path_suffix: '',
      period: 0,
    },
  });
}

const ROLE = '(?<role>[A-Za-z0-9._-]+)';
const WRITE = ['POST', 'PUT'];
const UPDATE = ['create', 'update'] as const;

export const tokenRoutes: readonly Route[] = [
  {
    name: 'auth/token/create',
    methods: WRITE,
    pattern: /^auth\/token\/create$/u,
    capabilities: UPDATE,
    handle: (ctx) => createToken(ctx, 'child'),
  },
  {
    name: 'auth/token/create-orphan',
    methods: WRITE,
    pattern: /^auth\/token\/create-orphan$/u,
    capabilities: UPDATE,
    handle: (ctx) => createToken(ctx, 'orphan'),
  },
  {
    name: 'auth/token/create/:role',
    methods: WRITE,
    pattern: new RegExp(`^auth/token/create/${ROLE}$`, 'u'),
    capabilities: UPDATE,
    handle: (ctx) => createToken(ctx, 'role'),
  },
  {
    name: 'auth/token/lookup',
    methods: WRITE,
    pattern: /^auth\/token\/lookup$/u,
    capabilities: UPDATE,
    handle: (ctx) => ok({ data: lookupData(ctx.state, tokenTarget(ctx), true) }),
  },
  {
    name: 'auth/token/lookup-self',
    methods: ['GET', ...WRITE],
    pattern: /^auth\/token\/lookup-self$/u,
    capabilities: ['read', 'update'],
    handle: (ctx) => ok({ data: lookupData(ctx.state, caller(ctx), true) }),
  },
  {
    name: 'auth/token/lookup-accessor',
    methods: WRITE,
    pattern: /^auth\/token\/lookup-accessor$/u,
    capabilities: UPDATE,
    handle: (ctx) => ok({ data: lookupData(ctx.state, accessorTarget(ctx), false) }),
  },
  {
    name: 'auth/token/renew-self',
    methods: WRITE,
    pattern: /^auth\/token\/renew-self$/u,
    capabilities: UPDATE,
    handle: (ctx) => {
      const token = caller(ctx);
      if (!token.renewable || token.expiresAt === null) throw badRequest('lease is not renewable');
      const ttl = ctx.state.tokens.renew(token, parseDurationSeconds(ctx.body.increment, 'increment'));
      return ok({ auth: authBlock(token, ttl) });
    },
  },
  {
    name: 'auth/token/revoke',
    methods: WRITE,
    pattern: /^auth\/token\/revoke$/u,
    capabilities: UPDATE,
    handle: (ctx) => {
      ctx.state.tokens.revokeTree(tokenTarget(ctx).id);
      return noContent();
    },
  },
  {
    name: 'auth/token/revoke-self',
    methods: WRITE,
    pattern: /^auth\/token\/revoke-self$/u,
    capabilities: UPDATE,
    handle: (ctx) => {
      ctx.state.tokens.revokeTree(caller(ctx).id);
      return noContent();
    },
  },
  {
    name: 'auth/token/revoke-accessor',
    methods: WRITE,
    pattern: /^auth\/token\/revoke-accessor$/u,
    capabilities: UPDATE,
    handle: (ctx) => {
      ctx.state.tokens.revokeTree(accessorTarget(ctx).id);
      return noContent();
    },
  },
  {
    name: 'auth/token/roles/:role',
    methods: WRITE,
    pattern: new RegExp(`^auth/token/roles/${ROLE}$`, 'u'),
    capabilities: UPDATE,
    handle: writeRole,
  },
  {
    name: 'auth/token/roles/:role',
    methods: ['GET'],
    pattern: new RegExp(`^auth/token/roles/${ROLE}$`, 'u'),
    capabilities: ['read'],
    handle: readRole,
  },
  {
    name: 'auth/token/roles/:role',
    methods: ['DELETE'],
    pattern: new RegExp(`^auth/token/roles/${ROLE}$`, 'u'),
    capabilities: ['delete'],
    handle: (ctx) => {
      ctx.state.roles.delete(ctx.params.role ?? '');
      return noContent();
    },
  },
  {
    name: 'auth/token/roles',
    methods: ['LIST'],
    pattern: /^auth\/token\/roles\/?$/u,
    capabilities: ['list'],
    handle: (ctx) => ok({ data: { keys: [...ctx.state.roles.keys()] } }),
  },
];
