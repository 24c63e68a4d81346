/**
 * Everything but the token store: sys/health, sys/leases/lookup and revoke
 * (https://developer.hashicorp.com/vault/api-docs/system/leases), ACL policies, AppRole and
 * Kubernetes login, and two lease-issuing engines: database/creds/<role> (read) and
 * pki/issue/<role> (write, leased only with generate_lease).
 */
import { randomBytes } from 'node:crypto';
import { authBlock, noContent, ok, type LoginRole, type Route, type RouteContext, type RouteResult } from './state.js';
import { badRequest, base62, iso, permissionDenied, VaultHttpError } from './values.js';

const WRITE = ['POST', 'PUT'];
const UPDATE = ['create', 'update'] as const;

function login(ctx: RouteContext, role: LoginRole, method: string, meta: Record<string, string>): RouteResult {
  const token = ctx.state.tokens.create({
    policies: [...role.policies, 'default'],
    parentId: null,
    meta,
    displayName: method,
    path: ctx.path,
    ttlSeconds: role.ttlSeconds,
    explicitMaxTtlSeconds: role.maxTtlSeconds ?? 0,
  });
  return ok({ auth: authBlock(token) });
}

function leaseId(ctx: RouteContext): string {
  const id = ctx.body.lease_id;
  if (typeof id !== 'string' || id === '') throw badRequest('lease_id must be specified');
  return id;
}

function leasedSecret(ctx: RouteContext, ttlSeconds: number, secret: string, data: Record<string, unknown>): RouteResult {
  if (!ctx.token) throw permissionDenied();
  const lease = ctx.state.leases.create(ctx.path, ctx.token.id, ttlSeconds, secret);
  return ok({ lease_id: lease.id, renewable: true, lease_duration: ttlSeconds, data });
}

const pem = (label: string): string => `-----BEGIN ${label}-----\n${randomBytes(48).toString('base64')}\n-----END ${label}-----`;

export const sysRoutes: readonly Route[] = [
  {
    name: 'sys/health',
    methods: ['GET', 'HEAD'],
    pattern: /^sys\/health$/u,
    capabilities: null,
    handle: (ctx) => ({
      status: 200,
      body: {
        initialized: true,
        sealed: false,
        standby: false,
        performance_standby: false,
        replication_performance_mode: 'disabled',
        replication_dr_mode: 'disabled',
        server_time_utc: Math.floor(ctx.state.now() / 1000),
        version: '1.15.0+fake',
        cluster_name: 'fake',
        cluster_id: 'fake',
      },
    }),
  },
  {
    name: 'sys/leases/lookup',
    methods: WRITE,
    pattern: /^sys\/leases\/lookup$/u,
    capabilities: UPDATE,
    handle: (ctx) => {
      const lease = ctx.state.leases.lookup(leaseId(ctx));
      if (!lease) throw badRequest('invalid lease');
      const ttl = lease.revokePending ? 0 : Math.max(0, Math.floor((lease.expiresAt - ctx.state.now()) / 1000));
      return ok({
        data: {
          id: lease.id,
          issue_time: iso(lease.issuedAt),
          expire_time: iso(lease.revokePending ? ctx.state.now() : lease.expiresAt),
          last_renewal: null,
          renewable: lease.renewable,
          ttl,
        },
      });
    },
  },
  {
    // `sync` is accepted and honoured: the fake always revokes before answering.
    name: 'sys/leases/revoke',
    methods: WRITE,
    pattern: /^sys\/leases\/revoke$/u,
    capabilities: UPDATE,
    handle: (ctx) => {
      ctx.state.leases.revoke(leaseId(ctx));
      return noContent();
    },
  },
  {
    // sys/policy/<name> is the older path for the same thing (hvac 0.11 uses it).
    name: 'sys/policies/acl/:name',
    methods: WRITE,
    pattern: /^sys\/(?:policies\/acl|policy)\/(?<name>[A-Za-z0-9._-]+)$/u,
    capabilities: UPDATE,
    handle: (ctx) => {
      if (typeof ctx.body.policy !== 'string') throw badRequest("'policy' parameter not supplied or empty");
      ctx.state.acl.put(ctx.params.name ?? '', ctx.body.policy);
      return noContent();
    },
  },
  {
    name: 'auth/approle/login',
    methods: WRITE,
    pattern: /^auth\/(?<mount>[A-Za-z0-9._-]+)\/login$/u,
    capabilities: null,
    handle: (ctx) => {
      const approle = ctx.state.options.approle;
      const kubernetes = ctx.state.options.kubernetes;
      const mount = ctx.params.mount;
      if (approle && mount === (approle.mount ?? 'approle')) {
        if (ctx.body.role_id !== approle.roleId || ctx.body.secret_id !== approle.secretId) throw badRequest('invalid role or secret ID');
        return login(ctx, approle, 'approle', { role_name: 'quartermaster' });
      }
      if (kubernetes && mount === (kubernetes.mount ?? 'kubernetes')) {
        if (ctx.body.role !== kubernetes.role) throw badRequest(`invalid role name "${String(ctx.body.role)}"`);
        if (ctx.body.jwt !== kubernetes.jwt) throw permissionDenied();
        return login(ctx, kubernetes, 'kubernetes', { role: kubernetes.role });
      }
      throw new VaultHttpError(400, 'no handler for route');
    },
  },
  {
    name: 'database/creds/:role',
    methods: ['GET'],
    pattern: /^database\/creds\/(?<role>[A-Za-z0-9._-]+)$/u,
    capabilities: ['read'],
    handle: (ctx) => {
      const role = ctx.state.options.databaseRoles?.[ctx.params.role ?? ''];
      if (!role) throw badRequest(`unknown role: ${ctx.params.role ?? ''}`);
      const username = `v-token-${ctx.params.role ?? ''}-${base62(20)}`;
      return leasedSecret(ctx, role.ttlSeconds, username, { username, password: base62(20) });
    },
  },
  {
    name: 'pki/issue/:role',
    methods: WRITE,
    pattern: /^pki\/issue\/(?<role>[A-Za-z0-9._-]+)$/u,
    capabilities: UPDATE,
    handle: (ctx) => {
      const role = ctx.state.options.pkiRoles?.[ctx.params.role ?? ''];
      if (!role) throw badRequest(`unknown role: ${ctx.params.role ?? ''}`);
      if (typeof ctx.body.common_name !== 'string') throw badRequest('the common_name field is required');
      const serial = [...randomBytes(8)].map((b) => b.toString(16).padStart(2, '0')).join(':');
      const ca = pem('CERTIFICATE');
      const data = {
        certificate: pem('CERTIFICATE'),
        issuing_ca: ca,
        ca_chain: [ca],
        private_key: pem('EC PRIVATE KEY'),
        private_key_type: 'ec',
        serial_number: serial,
        expiration: Math.floor(ctx.state.now() / 1000) + role.ttlSeconds,
      };
      if (!role.generateLease) return ok({ data });
      return leasedSecret(ctx, role.ttlSeconds, serial, data);
    },
  },
];
