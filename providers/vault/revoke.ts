/**
 * Revocation with receipts.
 *  - One grant: `sys/leases/revoke` with sync=true for its lease (Vault otherwise only queues it,
 *    https://developer.hashicorp.com/vault/api-docs/system/leases#revoke-lease), then
 *    `auth/token/revoke-accessor` for its child token.
 *  - A whole incident: `revoke-accessor` of each distinct parent once — those the grants' handles
 *    name and every parent recorded for the incident in the store (made by any replica, also
 *    those whose grants all ended) — and Vault revokes each tree and every lease in it. Parents
 *    this process already revoked are skipped; revoked ones leave the store's records.
 * Then each credential is looked up: an accessor Vault calls invalid (400) and a lease it calls
 * invalid (400) are confirmed dead. Vault revokes a revoked token's leases lazily, so a lease
 * still present after its parent's revocation is revoked directly (sync) and looked up again.
 * Never revoke-force: it abandons the upstream secret (docs/security.md §3). Failures throw; the
 * queue retries with backoff and escalates past the deadline.
 */
import {
  BrokerError,
  providerFailed,
  type BackgroundLanes,
  type GrantRef,
  type IncidentRecords,
  type ProviderLogger,
  type RevocationReceipt,
} from '../../src/sdk.js';
import type { VaultClient } from './client.js';
import { VaultCallError } from './errors.js';
import type { IncidentParents } from './parents.js';

export interface RevokeDeps {
  readonly client: VaultClient;
  readonly parents: IncidentParents;
  readonly logger: ProviderLogger;
  readonly fingerprint: (accessor: string) => string;
  readonly confirmConcurrency: number;
  /** Receipts after an incident revoke wait here for a lane (sdk.ts BackgroundLanes). */
  readonly background: BackgroundLanes;
  /** The namespace this provider talks to ('' for none); a handle from another cannot be revoked or confirmed here. */
  readonly namespace: string;
  /** The incidents' recorded parents (parents.ts); absent without the broker. */
  readonly records?: IncidentRecords;
  /** Parent revokes in flight in this process, by accessor (revokeParent). */
  readonly parentRevokes: Map<string, Promise<'revoked' | 'gone'>>;
}

interface VaultHandle {
  readonly parentAccessor: string;
  readonly accessor: string;
  readonly leaseId: string | undefined;
}

export function parseHandle(ref: GrantRef, namespace: string): VaultHandle {
  const { parentAccessor, accessor, leaseId } = ref.handle;
  if (typeof parentAccessor !== 'string' || typeof accessor !== 'string' || parentAccessor === '' || accessor === '') {
    throw providerFailed(`vault: grant ${ref.grantId} has no Vault accessors in its handle`);
  }
  const issuedIn = typeof ref.handle.namespace === 'string' ? ref.handle.namespace : '';
  if (issuedIn !== namespace) {
    // Vault would answer "invalid accessor" here, which would read as dead: it lives elsewhere.
    throw providerFailed(
      `vault: grant ${ref.grantId} was issued in namespace "${issuedIn}", not the configured "${namespace}"; revoke it there`,
    );
  }
  return { parentAccessor, accessor, leaseId: typeof leaseId === 'string' && leaseId !== '' ? leaseId : undefined };
}

/** 'revoked' when this call killed it, 'gone' when Vault no longer knew it (400 invalid accessor). */
export async function revokeAccessor(deps: Pick<RevokeDeps, 'client'>, accessor: string, signal: AbortSignal): Promise<'revoked' | 'gone'> {
  try {
    await deps.client.asBroker({ op: 'revoke-accessor', method: 'POST', path: 'auth/token/revoke-accessor', body: { accessor }, signal });
    return 'revoked';
  } catch (err) {
    if (err instanceof VaultCallError && err.is(400)) return 'gone';
    throw err;
  }
}

async function revokeLease(deps: RevokeDeps, leaseId: string, signal: AbortSignal): Promise<void> {
  // Unknown or already revoked leases answer 204 too: idempotent by Vault's design.
  await deps.client.asBroker({
    op: 'revoke-lease',
    method: 'PUT',
    path: 'sys/leases/revoke',
    body: { lease_id: leaseId, sync: true },
    signal,
  });
}

type Liveness = 'dead' | 'alive' | 'unknown';

/** Dead = Vault answers 400 ("invalid accessor" / "invalid lease"); any other failure cannot tell. */
async function lookup(deps: RevokeDeps, op: string, path: string, body: Record<string, string>, signal: AbortSignal): Promise<Liveness> {
  try {
    await deps.client.asBroker({ op, method: 'PUT', path, body, signal });
    return 'alive';
  } catch (err) {
    if (err instanceof VaultCallError && err.is(400)) return 'dead';
    if (err instanceof VaultCallError && err.failure.kind === 'aborted') throw err;
    deps.logger.debug({ op, failure: err instanceof VaultCallError ? err.message : 'unknown' }, 'vault: revocation lookup inconclusive');
    return 'unknown';
  }
}

const tokenLiveness = (deps: RevokeDeps, accessor: string, signal: AbortSignal): Promise<Liveness> =>
  lookup(deps, 'lookup-accessor', 'auth/token/lookup-accessor', { accessor }, signal);
const leaseLiveness = (deps: RevokeDeps, leaseId: string, signal: AbortSignal): Promise<Liveness> =>
  lookup(deps, 'lookup-lease', 'sys/leases/lookup', { lease_id: leaseId }, signal);

/** Looks the grant's credentials up; revokes directly whatever outlived its tree. True when both are confirmed dead. */
async function confirmDead(deps: RevokeDeps, grantId: string, handle: VaultHandle, signal: AbortSignal): Promise<boolean> {
  let token = await tokenLiveness(deps, handle.accessor, signal);
  if (token === 'alive') {
    // Not in the tree we revoked (a stale handle, or an orphan): take it down on its own.
    deps.logger.warn({ grantId }, 'vault: child token outlived its parent revocation; revoking it directly');
    await revokeAccessor(deps, handle.accessor, signal);
    token = await tokenLiveness(deps, handle.accessor, signal);
  }
  if (token === 'alive') throw providerFailed(`vault: grant ${grantId}'s token is still alive after revocation`);
  if (!handle.leaseId) return token === 'dead';
  let lease = await leaseLiveness(deps, handle.leaseId, signal);
  if (lease !== 'dead') {
    // Vault revokes a dead token's leases asynchronously (expiration.go RevokeByToken): finish it
    // now, synchronously — also when the lookup could not tell, rather than trust the lazy path.
    // A failing revoke throws, and the queue retries.
    await revokeLease(deps, handle.leaseId, signal);
    lease = await leaseLiveness(deps, handle.leaseId, signal);
  }
  if (lease === 'alive') throw providerFailed(`vault: lease ${handle.leaseId} is still alive after revocation`);
  return token === 'dead' && lease === 'dead';
}

export async function revokeOneGrant(deps: RevokeDeps, ref: GrantRef, signal: AbortSignal): Promise<RevocationReceipt> {
  const handle = parseHandle(ref, deps.namespace);
  if (handle.leaseId) await revokeLease(deps, handle.leaseId, signal);
  const outcome = await revokeAccessor(deps, handle.accessor, signal);
  const confirmed = await confirmDead(deps, ref.grantId, handle, signal);
  return { grantId: ref.grantId, outcome: outcome === 'revoked' ? 'revoked' : 'already_dead', confirmed };
}

/**
 * The kill at close (sdk.ts killIncident): every parent recorded for the incident, by any replica,
 * revoked once; Vault revokes each tree and its leases. No grant is read and nothing is looked
 * up: revokeIncidentGrants follows for every grant and confirms it. True when a parent was revoked.
 */
export async function killIncidentParents(
  deps: RevokeDeps & { readonly records: IncidentRecords },
  incidentId: string,
  signal: AbortSignal,
): Promise<boolean> {
  const recorded = await deps.records.of(incidentId);
  if (recorded.length === 0) return false;
  const outcomes = await revokeParents(deps, incidentId, recorded, signal);
  await forgetParents(deps, incidentId, recorded);
  return [...outcomes.values()].includes('revoked');
}

/** Each distinct parent once, all at once; see revokeParent. */
async function revokeParents(
  deps: RevokeDeps,
  incidentId: string,
  parents: readonly string[],
  signal: AbortSignal,
): Promise<Map<string, 'revoked' | 'gone'>> {
  const distinct = [...new Set(parents)];
  const outcomes = await Promise.all(distinct.map((parent) => revokeParent(deps, incidentId, parent, signal)));
  return new Map(distinct.map((parent, i) => [parent, outcomes[i] as 'revoked' | 'gone']));
}

/**
 * One parent's revoke-accessor, sent once per process: a parent this process revoked already
 * (an earlier batch, the kill at close) is skipped, and a caller arriving while its revoke is in
 * flight shares that call — the kill and the first batch of a close race for the same parent, and
 * the loser must not read Vault's "invalid accessor" as a credential that was already dead.
 */
function revokeParent(deps: RevokeDeps, incidentId: string, parent: string, signal: AbortSignal): Promise<'revoked' | 'gone'> {
  if (deps.parents.isRevoked(parent)) return Promise.resolve('revoked');
  const pending = deps.parentRevokes.get(parent);
  if (pending) return pending;
  const revoke = revokeAccessor(deps, parent, signal)
    .then((outcome) => {
      deps.parents.markRevoked(parent);
      deps.logger.info({ incidentId, parent: deps.fingerprint(parent), outcome }, 'vault: incident parent token revoked');
      return outcome;
    })
    .finally(() => deps.parentRevokes.delete(parent));
  deps.parentRevokes.set(parent, revoke);
  return revoke;
}

export async function revokeIncidentGrants(
  deps: RevokeDeps,
  incidentId: string,
  grants: readonly GrantRef[],
  signal: AbortSignal,
): Promise<RevocationReceipt[]> {
  // A grant whose handle names no accessors cannot be revoked or confirmed: it gets no receipt
  // (core retries it and escalates it past the deadline) and does not hold up the others.
  const handles: Array<{ ref: GrantRef; handle: VaultHandle }> = [];
  for (const ref of grants) {
    try {
      handles.push({ ref, handle: parseHandle(ref, deps.namespace) });
    } catch (err) {
      deps.logger.error(
        { incidentId, grantId: ref.grantId, problem: err instanceof BrokerError ? err.detail : 'unknown' },
        'vault: grant cannot be revoked here; left for escalation',
      );
    }
  }
  const recorded = deps.records ? await deps.records.of(incidentId) : [];
  const outcomeByParent = await revokeParents(
    deps,
    incidentId,
    [...handles.map(({ handle }) => handle.parentAccessor), ...recorded],
    signal,
  );
  await forgetParents(deps, incidentId, recorded);
  const receipts: RevocationReceipt[] = [];
  let next = 0;
  const lanes = Array.from({ length: Math.min(deps.confirmConcurrency, handles.length) }, async () => {
    while (next < handles.length) {
      const { ref, handle } = handles[next++] as (typeof handles)[number];
      // The parent revoke above already revoked this credential's tree (Vault finishes the leases
      // on its own); this confirms it and backs up whatever outlived it. That can wait a little
      // for requests in flight: background lanes narrow, they never stop.
      const confirmed = await deps.background.run(() => confirmDead(deps, ref.grantId, handle, signal));
      const outcome = outcomeByParent.get(handle.parentAccessor) === 'revoked' ? 'revoked' : 'already_dead';
      receipts.push({ grantId: ref.grantId, outcome, confirmed });
    }
  });
  await Promise.all(lanes);
  return receipts;
}

/** Drops revoked parents from the store's records; a failure only leaves them for the sweep (parent_sweep.ts), which finds them gone. */
export async function forgetParents(
  deps: Pick<RevokeDeps, 'records' | 'logger'>,
  incidentId: string,
  accessors: readonly string[],
): Promise<void> {
  if (!deps.records || accessors.length === 0) return;
  try {
    await deps.records.remove(incidentId, accessors);
  } catch (err) {
    deps.logger.warn(
      { incidentId, failure: err instanceof Error ? err.message : 'unknown' },
      'vault: revoked parents stay recorded; the sweep drops them later',
    );
  }
}
