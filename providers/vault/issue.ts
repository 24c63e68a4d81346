/**
 * Issuing: a child token beneath the incident's parent (`vault_token`), or a dynamic secret read
 * with such a child so that its lease belongs to the child and dies with it (`vault_dynamic`).
 *
 * Children are created with the PARENT's token on auth/token/create (so they are its children,
 * https://developer.hashicorp.com/vault/api-docs/auth/token#create-token), non-renewable, with
 * ttl = explicit_max_ttl = the TTL core granted: Vault itself enforces the hard expiry
 * (guarantee 1). Anything created before a refusal is revoked again before the error is thrown.
 */
import { providerFailed, type IssuedCredential, type IssueRequest, type ProviderLogger } from '../../src/sdk.js';
import type { VaultClient } from './client.js';
import type { VaultConfig, VaultDynamicParams, VaultProfileParams, VaultTokenParams } from './config.js';
import { VaultCallError } from './errors.js';
import type { IncidentParents, ParentToken } from './parents.js';

export interface IssueDeps {
  readonly client: VaultClient;
  readonly parents: IncidentParents;
  readonly config: Pick<VaultConfig, 'address' | 'namespace' | 'maxTtlSeconds'>;
  readonly logger: ProviderLogger;
  readonly now: () => number;
}

interface TokenAnswer {
  auth?: { client_token?: unknown; accessor?: unknown; lease_duration?: unknown; orphan?: unknown; token_type?: unknown };
}
interface SecretAnswer {
  lease_id?: unknown;
  lease_duration?: unknown;
  data?: unknown;
}
interface Child {
  readonly token: string;
  readonly accessor: string;
  readonly ttlSeconds: number;
}

export async function issueVaultCredential(deps: IssueDeps, req: IssueRequest<VaultProfileParams>): Promise<IssuedCredential> {
  req.signal.throwIfAborted();
  const { ttlSeconds } = req;
  // Core clamps the TTL; refusing here too keeps the cap provider-enforced.
  if (!Number.isInteger(ttlSeconds) || ttlSeconds < 1 || ttlSeconds > deps.config.maxTtlSeconds) {
    throw providerFailed(`ttlSeconds ${ttlSeconds} outside 1..${deps.config.maxTtlSeconds}`);
  }
  const params = req.profile.params;
  return params.kind === 'vault_token' ? issueToken(deps, req, params) : issueDynamic(deps, req, params);
}

async function issueToken(deps: IssueDeps, req: IssueRequest<VaultProfileParams>, params: VaultTokenParams): Promise<IssuedCredential> {
  const { parent, child } = await createChild(deps, req, {
    policies: params.policies,
    numUses: params.numUses,
    role: params.role,
    meta: params.meta,
  });
  const expiresAt = deps.now() + child.ttlSeconds * 1000;
  return {
    credential: {
      vault_token: child.token,
      vault_addr: deps.config.address,
      ...(deps.config.namespace ? { vault_namespace: deps.config.namespace } : {}),
      policies: params.policies.join(','),
      num_uses: params.numUses,
      expires_in: child.ttlSeconds,
      expires_at: new Date(expiresAt).toISOString(),
    },
    secretFields: ['vault_token'],
    handle: { kind: 'vault_token', parentAccessor: parent.accessor, accessor: child.accessor, ...namespaceOf(deps) },
    expiresAt,
  };
}

async function issueDynamic(deps: IssueDeps, req: IssueRequest<VaultProfileParams>, params: VaultDynamicParams): Promise<IssuedCredential> {
  const { parent, child } = await createChild(deps, req, { policies: params.childPolicies, numUses: 0, role: undefined, meta: undefined });
  let answer: SecretAnswer | undefined;
  try {
    answer = await deps.client.withToken<SecretAnswer>(child.token, {
      op: `${params.method} ${params.path}`,
      method: params.method === 'read' ? 'GET' : 'POST',
      path: params.path,
      ...(params.method === 'write' ? { body: params.data ?? {} } : {}),
      signal: req.signal,
    });
  } catch (err) {
    await revokeQuietly(deps, child.accessor, undefined);
    throw err;
  }
  const leaseId = answer?.lease_id;
  const leaseSeconds = Number(answer?.lease_duration);
  const data = answer?.data;
  const refuse = async (why: string): Promise<never> => {
    await revokeQuietly(deps, child.accessor, typeof leaseId === 'string' && leaseId !== '' ? leaseId : undefined);
    throw providerFailed(`vault ${params.path}: ${why}`);
  };
  if (typeof leaseId !== 'string' || leaseId === '')
    return refuse('answered without a lease; only leased dynamic secrets can be revoked (for pki set generate_lease=true)');
  if (!(Number.isInteger(leaseSeconds) && leaseSeconds > 0)) return refuse('answered without a lease_duration');
  if (leaseSeconds > req.ttlSeconds) {
    // The lease would outlive the grant: the secrets engine role's TTL must not exceed what agents get.
    return refuse(
      `lease_duration ${leaseSeconds}s exceeds the grant's ${req.ttlSeconds}s TTL; set the role's default_ttl/max_ttl at most the profile's smallest TTL`,
    );
  }
  if (typeof data !== 'object' || data === null || Array.isArray(data)) return refuse('answered without data');
  const secret = flatten(data as Record<string, unknown>);
  const secretFields = params.secretFields ?? Object.keys(secret);
  const missing = secretFields.filter((f) => secret[f] === undefined || secret[f] === '');
  if (missing.length > 0) return refuse(`answered without the secret field(s) ${missing.join(', ')}`);
  const expiresAt = deps.now() + Math.min(leaseSeconds, child.ttlSeconds) * 1000;
  deps.logger.debug({ grantId: req.grantId, leaseId, leaseSeconds }, 'vault: dynamic secret issued');
  return {
    // No lease_id: the lease belongs to a broker-held child, and an agent has no use for its id
    // but to ask for a renewal the grant never allows (its TTL is the grant's).
    credential: { ...secret, lease_duration: leaseSeconds, expires_at: new Date(expiresAt).toISOString() },
    secretFields,
    handle: { kind: 'vault_dynamic', parentAccessor: parent.accessor, accessor: child.accessor, leaseId, ...namespaceOf(deps) },
    expiresAt,
  };
}

interface ChildSpec {
  readonly policies: readonly string[];
  readonly numUses: number;
  readonly role: string | undefined;
  readonly meta: Readonly<Record<string, string>> | undefined;
}

/**
 * Creates a child beneath the incident's parent; once more with a fresh parent if the parent is
 * gone. A 403 alone does not say which: the parent may be dead, or alive and refused this request
 * (a child token role it may not use, a policy it does not hold). The parent is looked up first,
 * so a healthy parent is never dropped (each drop would leave a live, unreferenced parent behind).
 */
async function createChild(
  deps: IssueDeps,
  req: IssueRequest<VaultProfileParams>,
  spec: ChildSpec,
): Promise<{ parent: ParentToken; child: Child }> {
  let parent = await deps.parents.acquire(req.incidentId, req.ttlSeconds, req.signal);
  try {
    return { parent, child: await createChildWith(deps, req, spec, parent) };
  } catch (err) {
    if (!(err instanceof VaultCallError && err.is(403))) throw err;
    if (!(await parentIsGone(deps, parent, req.signal))) {
      throw providerFailed(
        `vault create-child-token: the incident parent may not create this child (check the child token role ${spec.role ?? '(none)'} and that parentPolicies cover ${spec.policies.join(', ')})`,
      );
    }
    deps.parents.discard(req.incidentId, parent.accessor);
    parent = await deps.parents.acquire(req.incidentId, req.ttlSeconds, req.signal);
    return { parent, child: await createChildWith(deps, req, spec, parent) };
  }
}

/** True when Vault no longer knows the parent's accessor (400 invalid accessor); an inconclusive lookup rethrows. */
async function parentIsGone(deps: IssueDeps, parent: ParentToken, signal: AbortSignal): Promise<boolean> {
  try {
    await deps.client.asBroker({
      op: 'lookup-parent',
      method: 'POST',
      path: 'auth/token/lookup-accessor',
      body: { accessor: parent.accessor },
      signal,
    });
    return false;
  } catch (err) {
    if (err instanceof VaultCallError && err.is(400)) return true;
    throw err;
  }
}

async function createChildWith(
  deps: IssueDeps,
  req: IssueRequest<VaultProfileParams>,
  spec: ChildSpec,
  parent: ParentToken,
): Promise<Child> {
  const ttl = `${req.ttlSeconds}s`;
  const answer = await deps.client.withToken<TokenAnswer>(parent.token, {
    op: 'create-child-token',
    method: 'POST',
    path: spec.role ? `auth/token/create/${spec.role}` : 'auth/token/create',
    body: {
      policies: spec.policies,
      // Ours last: a profile cannot relabel a token as another incident's.
      meta: { ...spec.meta, incident_id: req.incidentId, grant_id: req.grantId, agent: req.agent.id, profile: req.profile.name },
      display_name: 'quartermaster-grant',
      ttl,
      explicit_max_ttl: ttl,
      num_uses: spec.numUses,
      renewable: false,
      no_parent: false,
      // Only what the profile lists: Vault's `default` policy would let an agent's token look
      // itself up, revoke itself and use its cubbyhole, none of which a profile asked for.
      no_default_policy: true,
    },
    signal: req.signal,
  });
  const auth = answer?.auth;
  if (typeof auth?.client_token !== 'string' || auth.client_token === '')
    throw providerFailed('vault create-child-token: answer without a token');
  if (typeof auth.accessor !== 'string' || auth.accessor === '' || (auth.token_type !== undefined && auth.token_type !== 'service')) {
    // A batch token (a token role with token_type=batch) has no accessor: it can be neither
    // revoked on its own nor confirmed dead. Its TTL, capped at the grant's, bounds it.
    deps.logger.warn(
      { grantId: req.grantId, role: spec.role ?? null },
      'vault: child token is not a service token with an accessor; refused, its TTL bounds it',
    );
    throw providerFailed(
      `vault: token role ${spec.role ?? '(none)'} made a ${typeof auth.token_type === 'string' ? auth.token_type : 'accessor-less'} token; grants need service tokens`,
    );
  }
  const child = { token: auth.client_token, accessor: auth.accessor, ttlSeconds: Number(auth.lease_duration) };
  if (auth.orphan !== false) {
    // An orphan would survive the incident's close: a token role with orphan=true cannot be used for grants.
    await revokeQuietly(deps, child.accessor, undefined);
    throw providerFailed(`vault: token role ${spec.role ?? '(none)'} made an orphan child; grants must be children of the incident parent`);
  }
  if (!(Number.isInteger(child.ttlSeconds) && child.ttlSeconds > 0 && child.ttlSeconds <= req.ttlSeconds)) {
    await revokeQuietly(deps, child.accessor, undefined);
    throw providerFailed(`vault create-child-token: TTL ${String(auth.lease_duration)} outside 1..${req.ttlSeconds}s`);
  }
  return child;
}

/** Accessors and leases exist only in their namespace: the handle says which, so revocation can tell. */
const namespaceOf = (deps: IssueDeps): { namespace?: string } => (deps.config.namespace ? { namespace: deps.config.namespace } : {});

/** Best effort: a refused credential is revoked at once; its own TTL still bounds it if this fails. */
async function revokeQuietly(deps: IssueDeps, accessor: string, leaseId: string | undefined): Promise<void> {
  const attempt = async (call: Parameters<VaultClient['asBroker']>[0]): Promise<void> => {
    try {
      await deps.client.asBroker(call);
    } catch (err) {
      deps.logger.warn(
        { leaseId, op: call.op, failure: err instanceof VaultCallError ? err.message : 'unknown' },
        'vault: could not revoke a refused credential; its TTL bounds it',
      );
    }
  };
  // Each on its own: a failed lease revoke must not keep the child (and the lease with it) alive.
  if (leaseId) await attempt({ op: 'revoke-lease', method: 'PUT', path: 'sys/leases/revoke', body: { lease_id: leaseId, sync: true } });
  await attempt({ op: 'revoke-accessor', method: 'POST', path: 'auth/token/revoke-accessor', body: { accessor } });
}

/** Credential values are strings or numbers: lists (e.g. pki ca_chain) become lines, objects JSON. */
function flatten(data: Record<string, unknown>): Record<string, string | number> {
  const out: Record<string, string | number> = {};
  for (const [key, value] of Object.entries(data)) {
    if (key === '__proto__') continue;
    if (typeof value === 'string' || typeof value === 'number') out[key] = value;
    else if (typeof value === 'boolean') out[key] = String(value);
    else if (Array.isArray(value) && value.every((v) => typeof v === 'string')) out[key] = value.join('\n');
    else if (value !== null && value !== undefined) out[key] = JSON.stringify(value);
  }
  return out;
}
