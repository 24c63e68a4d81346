/**
 * Per-incident parent tokens. The first Vault grant of an incident (in this broker process)
 * creates an orphan, non-renewable token for it through the configured token role; every grant of
 * the incident is created beneath it, so revoking that one parent revokes the whole tree and, with
 * each token, its leases (https://developer.hashicorp.com/vault/docs/concepts/tokens#token-hierarchies-and-orphan-tokens).
 *
 * Parent tokens are secrets and live only in this object's memory: the broker never stores
 * secrets. After a restart, or on another replica, the same incident simply gets another parent.
 * Each parent's accessor is recorded in the shared store (deps.records, sdk.ts IncidentRecords)
 * before any child is made under it, so every parent of an incident — whichever replica or
 * process made it, whatever its grants' states — is revoked at close (revoke.ts, parent_sweep.ts).
 */
import { providerFailed, providerUnavailable, type IncidentRecords, type ProviderLogger } from '../../src/sdk.js';
import type { VaultClient } from './client.js';
import { abortable } from './vault_http.js';
import { PARENT_MARGIN_SECONDS, type VaultConfig } from './config.js';
import { VaultCallError } from './errors.js';

export interface ParentToken {
  readonly token: string;
  readonly accessor: string;
  /** When Vault expires it (and with it every child), ms. */
  readonly expiresAt: number;
}

export interface IncidentParents {
  /** A parent for the incident that outlives a child of `ttlSeconds`, creating one if needed. */
  acquire(incidentId: string, ttlSeconds: number, signal: AbortSignal): Promise<ParentToken>;
  /** Forgets a parent Vault no longer honours (revoked or expired), so the next grant makes a new one. */
  discard(incidentId: string, accessor: string): void;
  /** Records that this accessor's tree is revoked; later closes skip it. */
  markRevoked(accessor: string): void;
  isRevoked(accessor: string): boolean;
}

interface Deps {
  readonly client: VaultClient;
  readonly config: Pick<VaultConfig, 'parentTokenRole' | 'parentPolicies' | 'parentExplicitMaxTtlSeconds' | 'requestTimeoutMs'>;
  readonly logger: ProviderLogger;
  readonly now: () => number;
  readonly fingerprint: (accessor: string) => string;
  /** Absent when the provider runs without the broker (tools, some tests): parents are then known to this process only. */
  readonly records?: IncidentRecords;
}

interface CreateAnswer {
  auth?: { client_token?: unknown; accessor?: unknown; lease_duration?: unknown; renewable?: unknown; orphan?: unknown };
}

const PARENT_MARGIN_MS = PARENT_MARGIN_SECONDS * 1000;
/** Requests a parent creation may take: a broker login or renewal, the create, one spare. */
const PARENT_CREATION_REQUESTS = 3;

export function createIncidentParents(deps: Deps): IncidentParents {
  const { client, config, logger } = deps;
  const current = new Map<string, ParentToken>();
  const creating = new Map<string, Promise<ParentToken>>();
  /** accessor → when it would have expired anyway; pruned after that. */
  const revoked = new Map<string, number>();

  const prune = (): void => {
    const now = deps.now();
    for (const [incident, parent] of current) if (parent.expiresAt <= now) current.delete(incident);
    for (const [accessor, until] of revoked) if (until <= now) revoked.delete(accessor);
  };

  const create = async (incidentId: string, ttlSeconds: number, signal: AbortSignal): Promise<ParentToken> => {
    const max = config.parentExplicitMaxTtlSeconds;
    const answer = await client.asBroker<CreateAnswer>({
      op: 'create-incident-parent',
      method: 'POST',
      path: `auth/token/create/${config.parentTokenRole}`,
      body: {
        policies: config.parentPolicies,
        meta: { incident_id: incidentId, created_by: 'quartermaster' },
        display_name: 'quartermaster-incident',
        ttl: `${max}s`,
        explicit_max_ttl: `${max}s`,
        renewable: false,
      },
      signal,
    });
    const auth = answer?.auth;
    const at = deps.now();
    if (typeof auth?.client_token !== 'string' || typeof auth.accessor !== 'string') {
      throw providerFailed(`vault create-incident-parent: answer without a token (token role ${config.parentTokenRole})`);
    }
    const parent = { token: auth.client_token, accessor: auth.accessor, expiresAt: at + Number(auth.lease_duration) * 1000 };
    // The role decides these, not our request: refuse a parent that would break the design.
    const problem =
      auth.orphan !== true
        ? 'is not an orphan (set orphan=true on the token role)'
        : auth.renewable !== false
          ? 'is renewable (set renewable=false on the token role)'
          : !(Number(auth.lease_duration) > 0 && Number(auth.lease_duration) <= max)
            ? `has a TTL outside 1..${max}s (set token_explicit_max_ttl on the token role)`
            : parent.expiresAt - at < ttlSeconds * 1000 + PARENT_MARGIN_MS
              ? `lives ${Number(auth.lease_duration)}s, too short for a ${ttlSeconds}s grant (raise the role's token_explicit_max_ttl)`
              : null;
    if (problem) {
      await revokeQuietly(parent.accessor);
      throw providerFailed(`vault: the parent token made by token role ${config.parentTokenRole} ${problem}`);
    }
    if (deps.records) {
      // Recorded before any child exists under it: a parent nobody recorded is one no close revokes.
      try {
        await deps.records.add(incidentId, parent.accessor);
      } catch (err) {
        await revokeQuietly(parent.accessor);
        throw providerUnavailable('vault: the incident parent token could not be recorded in the store; revoked it', err);
      }
    }
    logger.info(
      { incidentId, parent: deps.fingerprint(parent.accessor), ttlSeconds: Number(auth.lease_duration) },
      'vault: incident parent token created',
    );
    return parent;
  };

  const revokeQuietly = async (accessor: string): Promise<void> => {
    try {
      await client.asBroker({ op: 'revoke-accessor', method: 'POST', path: 'auth/token/revoke-accessor', body: { accessor } });
    } catch (err) {
      // Its explicit max TTL still bounds it; say so without naming it.
      logger.warn(
        { parent: deps.fingerprint(accessor), failure: err instanceof VaultCallError ? err.message : 'unknown' },
        'vault: could not revoke a refused parent token',
      );
    }
  };

  return {
    async acquire(incidentId, ttlSeconds, signal) {
      prune();
      const fits = (p: ParentToken | undefined): p is ParentToken =>
        p !== undefined && !revoked.has(p.accessor) && p.expiresAt - deps.now() >= ttlSeconds * 1000 + PARENT_MARGIN_MS;
      const existing = current.get(incidentId);
      if (fits(existing)) return existing;
      const pending = creating.get(incidentId);
      if (pending) {
        const shared = await abortable(pending, signal, 'create-incident-parent');
        if (fits(shared)) return shared;
      }
      // One creation per incident at a time: a burst of first grants shares one parent. It runs
      // on its own timeout, not the first caller's signal: a caller that gives up must not fail
      // the others waiting on it, nor lose a parent Vault creates after all (it stays current
      // for the incident's next grant). Each request has its own requestTimeoutMs; the whole
      // creation (a broker re-login, then the create) gets a few of them.
      const made = create(incidentId, ttlSeconds, AbortSignal.timeout(PARENT_CREATION_REQUESTS * config.requestTimeoutMs))
        .then((parent) => {
          current.set(incidentId, parent);
          return parent;
        })
        .finally(() => creating.delete(incidentId));
      creating.set(incidentId, made);
      made.catch(() => undefined); // a caller that gave up leaves no unhandled rejection behind
      return abortable(made, signal, 'create-incident-parent');
    },
    discard(incidentId, accessor) {
      if (current.get(incidentId)?.accessor === accessor) current.delete(incidentId);
    },
    markRevoked(accessor) {
      revoked.set(accessor, deps.now() + config.parentExplicitMaxTtlSeconds * 1000);
      for (const [incident, parent] of current) if (parent.accessor === accessor) current.delete(incident);
    },
    isRevoked: (accessor) => revoked.has(accessor),
  };
}
