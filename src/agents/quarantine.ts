/**
 * The kill switch for one agent (docs/incidents.md "Kill switches"): a named operator quarantines
 * an agent with a reason; every live grant of the agent, in every incident, is revoked, and the
 * agent gets nothing new (403 ERR_AGENT_QUARANTINED) until a named operator lifts the quarantine
 * with a reason. The quarantine lives in a store register (`quarantine:<agent id>`), so every
 * replica sees it at once.
 *
 * No grant slips between the two: the grant flow checks the register after its intent is
 * recorded and before the provider is called (issue_credential.ts), and the quarantine writes the
 * register before it lists the agent's grants. Either the check sees the quarantine (the intent
 * fails, nothing is created upstream), or the intent existed when the list was read (and is
 * revoked; a commit after that keeps it revoking and withholds the credential).
 */
import type { DomainDeps } from '../domain.js';
import { BrokerError } from '../errors.js';
import { actorOf, isLive, provenanceOf, type ActorRef, type Grant } from '../model.js';
import type { Store } from '../store/store.js';

export interface QuarantineRecord {
  readonly state: 'quarantined' | 'lifted';
  readonly agent: string;
  /** When it was quarantined (or lifted), ms. */
  readonly at: number;
  readonly by: string;
  readonly reason: string;
  /** For a lifted record: when the quarantine it ended began. */
  readonly since?: number;
}

/** The register holding an agent's quarantine record. */
export const quarantineKey = (agentId: string): string => `quarantine:${agentId}`;

/** A quarantine record from its register's text (null: never quarantined). */
export const parseQuarantine = (raw: string | null): QuarantineRecord | null =>
  raw === null ? null : (JSON.parse(raw) as QuarantineRecord);

/** The refusal of a quarantined agent; `decidedBy`, the policies that refused it, when a policy did. */
export const agentQuarantined = (decidedBy?: readonly string[]): BrokerError =>
  new BrokerError(
    'ERR_AGENT_QUARANTINED',
    403,
    'this agent is quarantined: it gets no credentials until an operator lifts the quarantine',
    {
      ...(decidedBy === undefined ? {} : { publicFields: { decided_by: decidedBy } }),
    },
  );

export async function quarantineOf(store: Pick<Store, 'getRegister'>, agentId: string): Promise<QuarantineRecord | null> {
  return parseQuarantine(await store.getRegister(quarantineKey(agentId)));
}

export const isQuarantined = (record: QuarantineRecord | null): boolean => record?.state === 'quarantined';

/** Writes `next` over whatever the register holds (compare-and-set, retried on a concurrent change). */
async function writeRecord(
  store: Pick<Store, 'getRegister' | 'compareAndSetRegister'>,
  agentId: string,
  next: (current: QuarantineRecord | null) => QuarantineRecord | null,
): Promise<QuarantineRecord | null> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const raw = await store.getRegister(quarantineKey(agentId));
    const current = raw === null ? null : (JSON.parse(raw) as QuarantineRecord);
    const value = next(current);
    if (value === null) return current;
    if (await store.compareAndSetRegister(quarantineKey(agentId), raw, JSON.stringify(value))) return value;
  }
  throw new BrokerError('ERR_STORE_UNAVAILABLE', 503, 'the quarantine kept changing; try again');
}

/** An agent as operators see it: its quarantine, and its grants in every incident. */
export async function readAgent(
  deps: Pick<DomainDeps, 'store'>,
  agentId: string,
): Promise<{ readonly quarantine: QuarantineRecord | null; readonly grants: Grant[] }> {
  const [quarantine, grants] = await Promise.all([quarantineOf(deps.store, agentId), deps.store.listGrantsByAgent(agentId)]);
  return { quarantine, grants };
}

export interface QuarantineOutcome {
  readonly quarantine: QuarantineRecord;
  /** True when this call quarantined the agent (false: it already was). */
  readonly quarantinedNow: boolean;
  /** Ids of the agent's grants queued for revocation by this call. */
  readonly revoking: readonly string[];
}

export async function quarantineAgent(deps: DomainDeps, agentId: string, reason: string, by: ActorRef): Promise<QuarantineOutcome> {
  const actor = actorOf(by);
  const at = deps.now();
  let quarantinedNow = false;
  const record = (await writeRecord(deps.store, agentId, (current) => {
    if (isQuarantined(current)) return null;
    quarantinedNow = true;
    return { state: 'quarantined', agent: agentId, at, by: actor.id, reason };
  })) as QuarantineRecord;
  // After the register: a grant whose intent is not listed here will see the quarantine itself.
  const revoking: string[] = [];
  for (const grant of await deps.store.listGrantsByAgent(agentId)) {
    if (!isLive(grant) && grant.state !== 'revoking') continue;
    const after = await deps.store.requestRevocation(grant.id, 'quarantined', at);
    if (after?.state === 'revoking') revoking.push(grant.id);
  }
  if (revoking.length > 0) deps.nudgeRevocation();
  await deps.audit.record({
    at,
    type: 'agent.quarantined',
    actor: actor.id,
    data: { agent: agentId, reason, grantsToRevoke: revoking.length, alreadyQuarantined: !quarantinedNow, ...provenanceOf(actor) },
  });
  return { quarantine: record, quarantinedNow, revoking };
}

export async function liftQuarantine(deps: DomainDeps, agentId: string, reason: string, by: ActorRef): Promise<QuarantineRecord> {
  const actor = actorOf(by);
  const at = deps.now();
  let lifted = false;
  const record = await writeRecord(deps.store, agentId, (current) => {
    if (!isQuarantined(current)) return null;
    lifted = true;
    return { state: 'lifted', agent: agentId, at, by: actor.id, reason, since: current?.at ?? at };
  });
  if (!lifted || record === null) throw new BrokerError('ERR_NOT_QUARANTINED', 409, 'this agent is not quarantined');
  await deps.audit.record({
    at,
    type: 'agent.quarantine_lifted',
    actor: actor.id,
    data: { agent: agentId, reason, quarantinedSince: record.since ?? at, ...provenanceOf(actor) },
  });
  return record;
}
