/**
 * Revocation by Deny (deny_policy.ts): STS sessions cannot be revoked, so the broker adds their
 * incident's tag value, or their `aws:userid`, to its inline policy on the role. The write is a
 * read-modify-write of one IAM document, so it runs under a lock every replica shares (`role:<arn>`,
 * sdk.ts ProviderLocks) and is verified after the write: the document is read back and must hold
 * every entry this change added; if a writer that lost its lock overwrote it meanwhile, the change
 * is made again. Every write also drops the statements whose hour has passed.
 *
 * What a receipt says is honest: `denied`, never `confirmed`; IAM applies it
 * after its propagation delay, usually seconds
 * (https://docs.aws.amazon.com/IAM/latest/UserGuide/troubleshoot_general.html#troubleshoot_general_eventual-consistency).
 */
import { DeleteRolePolicyCommand, GetRolePolicyCommand, PutRolePolicyCommand } from '@aws-sdk/client-iam';
import { providerUnavailable, type GrantRef, type ProviderLocks, type RevocationReceipt } from '../../src/sdk.js';
import { roleNameOf, type AwsClients, type RoleCache } from './clients.js';
import type { AwsStsConfig } from './config.js';
import {
  addEmergency,
  addEntry,
  collectDenyPolicy,
  hasEntry,
  isEmptyDenyPolicy,
  parseDenyPolicy,
  policySize,
  renderDenyPolicy,
  type DenyPolicy,
} from './deny_policy.js';
import { awsErrorCode, policyQuotaExceeded } from './errors.js';
import { tagValue } from './names.js';

/** Room for clocks: AWS's and ours may differ, and a session may be used a moment past its expiry check. */
export const CLOCK_MARGIN_MS = 5 * 60_000;
/** Tries of one change when a lost-lock writer keeps overwriting it, with a jittered pause between. */
const WRITE_TRIES = 6;
const RETRY_PAUSE_MS = 25;

export interface RevokeDeps {
  readonly clients: AwsClients;
  readonly roles: RoleCache;
  readonly config: AwsStsConfig;
  readonly locks: ProviderLocks;
  readonly now: () => number;
  readonly logger: { warn(obj: object, msg?: string): void; info(obj: object, msg?: string): void };
  /** Entries this process wrote and read back (createWrittenEntries): a close's later batches need no IAM call. */
  readonly written: WrittenEntries;
}

/** How long an entry this process verified counts as in place without reading IAM again. */
const WRITTEN_FRESH_MS = 60_000;

/**
 * Deny entries this process wrote and verified, with the hour their statement lasts until. The
 * worker revokes a close of 1000 grants in batches of 64, each its own revokeIncident call: the
 * first writes the incident's entry, the others find it here and answer at once, instead of 16
 * read-modify-writes under the role's lock. Only for a minute: an entry removed behind the
 * broker's back (by hand) is written again by the next close after that.
 */
export function createWrittenEntries(now: () => number) {
  const entries = new Map<string, { readonly until: number; readonly at: number }>();
  const key = (roleArn: string, kind: string, value: string): string => `${roleArn}\n${kind}\n${value}`;
  return {
    covers(roleArn: string, kind: 'incidents' | 'grants', value: string, neededUntil: number): boolean {
      const entry = entries.get(key(roleArn, kind, value));
      return entry !== undefined && now() - entry.at < WRITTEN_FRESH_MS && entry.until >= neededUntil;
    },
    note(roleArn: string, kind: 'incidents' | 'grants', value: string, until: number): void {
      if (entries.size > 10_000) entries.clear();
      entries.set(key(roleArn, kind, value), { until, at: now() });
    },
  };
}

export type WrittenEntries = ReturnType<typeof createWrittenEntries>;

/** What a change adds, to check after the write. */
type Added = ReadonlyArray<{ readonly kind: 'incidents' | 'grants'; readonly value: string }>;

export interface Handle {
  readonly accessKeyId: string;
  readonly sessionName: string;
  readonly roleArn: string;
  readonly roleId: string;
  readonly incidentTag: string;
  readonly expiresAt: number;
}

export function handleOf(ref: GrantRef): Handle {
  const h = ref.handle as Partial<Handle>;
  if (
    typeof h.roleArn !== 'string' ||
    typeof h.roleId !== 'string' ||
    typeof h.sessionName !== 'string' ||
    typeof h.incidentTag !== 'string'
  ) {
    throw new Error(`grant ${ref.grantId}: not an aws_sts handle`);
  }
  return h as Handle;
}

async function readPolicy(deps: RevokeDeps, roleName: string, signal: AbortSignal): Promise<string | null> {
  try {
    const out = await deps.clients.iam.send(
      new GetRolePolicyCommand({ RoleName: roleName, PolicyName: deps.config.revocationPolicyName }),
      {
        abortSignal: signal,
      },
    );
    // IAM returns the document URL-encoded (RFC 3986), the SDK does not decode it.
    return out.PolicyDocument === undefined ? null : decodeURIComponent(out.PolicyDocument);
  } catch (err) {
    if (awsErrorCode(err) === 'NoSuchEntity') return null;
    throw err;
  }
}

/**
 * Applies `change` to the role's Deny policy under the role's lock, drops what expired, writes it
 * (deletes it once empty) and checks the write. Returns the policy as written.
 */
export async function updateDenyPolicy(
  deps: RevokeDeps,
  roleArn: string,
  change: (policy: DenyPolicy) => Added,
  signal: AbortSignal,
): Promise<DenyPolicy> {
  const roleName = roleNameOf(roleArn);
  return deps.locks.withLock(`role:${roleArn}`, async (held) => {
    const both = AbortSignal.any([signal, held.signal]);
    for (let attempt = 1; attempt <= WRITE_TRIES; attempt++) {
      const current = await readPolicy(deps, roleName, both);
      const policy = parseDenyPolicy(current);
      const added = change(policy);
      collectDenyPolicy(policy, deps.now());
      const text = isEmptyDenyPolicy(policy) ? null : renderDenyPolicy(policy);
      if (text === current || (text === null && current === null)) return policy;
      if (text !== null && policySize(text) > deps.config.policySizeLimit) {
        throw policyQuotaExceeded(
          `aws revoke: the ${deps.config.revocationPolicyName} policy of ${roleName} would be ${policySize(text)} characters, past policySizeLimit ${deps.config.policySizeLimit}; ` +
            'revoke the whole role with the emergency deny (POST /v1/providers/aws_sts/emergency-deny, or quartermaster provider emergency-deny)',
        );
      }
      if (text === null) {
        await deps.clients.iam
          .send(new DeleteRolePolicyCommand({ RoleName: roleName, PolicyName: deps.config.revocationPolicyName }), { abortSignal: both })
          .catch((err: unknown) => {
            if (awsErrorCode(err) !== 'NoSuchEntity') throw err;
          });
      } else {
        await deps.clients.iam.send(
          new PutRolePolicyCommand({ RoleName: roleName, PolicyName: deps.config.revocationPolicyName, PolicyDocument: text }),
          { abortSignal: both },
        );
      }
      // Verify after write: a writer whose lease ran out unnoticed may have put an older document back.
      const after = parseDenyPolicy(await readPolicy(deps, roleName, both));
      if (added.every(({ kind, value }) => hasEntry(after, kind, value))) return after;
      deps.logger.warn({ role: roleName, attempt }, 'aws: the revocation policy changed under the broker; writing again');
      // Apart in time from the other writer, or the two keep overwriting each other in step.
      await new Promise((resolve) => setTimeout(resolve, RETRY_PAUSE_MS * attempt * (0.5 + Math.random())));
    }
    throw providerUnavailable(`aws revoke: the ${deps.config.revocationPolicyName} policy of ${roleName} kept changing under the broker`);
  });
}

/** How long a Deny for a session of `roleArn` issued until now must stay: the role's longest session, plus margin. */
async function neededUntilForRole(deps: RevokeDeps, roleArn: string): Promise<number> {
  const role = await deps.roles.get(roleArn);
  return deps.now() + role.maxSessionSeconds * 1000 + CLOCK_MARGIN_MS;
}

const receipt = (grantId: string): RevocationReceipt => ({ grantId, outcome: 'denied', confirmed: false });

/** The end of the statement `value` is in, as written (0 if absent). */
function untilOf(policy: DenyPolicy, kind: 'incidents' | 'grants', value: string): number {
  for (const [bucket, values] of policy.entries[kind]) if (values.has(value)) return bucket;
  return 0;
}

/**
 * A closed incident: its tag value into the incident Deny of every role its grants used, one
 * write per role. The entry stays until the role's longest session could have passed since now
 * (no session of the incident is issued after its close).
 */
export async function revokeIncidentSessions(
  deps: RevokeDeps,
  incidentId: string,
  grants: readonly GrantRef[],
  signal: AbortSignal,
  record: (incidentId: string, roleArn: string) => Promise<void>,
): Promise<RevocationReceipt[]> {
  const byRole = new Map<string, { tag: string; grants: GrantRef[] }>();
  for (const ref of grants) {
    const h = handleOf(ref);
    const entry = byRole.get(h.roleArn) ?? { tag: h.incidentTag, grants: [] };
    entry.grants.push(ref);
    byRole.set(h.roleArn, entry);
  }
  const receipts: RevocationReceipt[] = [];
  for (const [roleArn, { tag, grants: ofRole }] of byRole) {
    // Every session of these grants ends by its expiry: an entry lasting past the latest is enough.
    const latest = Math.max(...ofRole.map((g) => Math.max(g.expiresAt, handleOf(g).expiresAt))) + CLOCK_MARGIN_MS;
    if (!deps.written.covers(roleArn, 'incidents', tag, latest)) {
      // Recorded first: garbage collection of an ended incident visits every role it was denied on.
      await record(incidentId, roleArn);
      await denyIncidentOnRole(deps, roleArn, tag, Math.max(await neededUntilForRole(deps, roleArn), latest), signal);
      deps.logger.info({ role: roleNameOf(roleArn), incidentId, grants: ofRole.length }, 'aws: incident denied on role');
    }
    receipts.push(...ofRole.map((g) => receipt(g.grantId)));
  }
  return receipts;
}

/**
 * The kill at close (sdk.ts killIncident): the incident's tag into the incident Deny of every role
 * recorded for it (issue records each role before its first session, provider.ts), the roles at
 * once, without reading a grant. Each entry lasts until the role's longest session issued by now
 * could have ended, which covers every session of the incident: revokeIncidentSessions follows
 * for the grants, finds the entry written and answers without another write. True when it wrote.
 */
export async function killIncidentSessions(
  deps: RevokeDeps,
  incidentId: string,
  roleArns: readonly string[],
  signal: AbortSignal,
): Promise<boolean> {
  const tag = tagValue(incidentId);
  const wrote = await Promise.all(
    [...new Set(roleArns)].map(async (roleArn) => {
      const until = await neededUntilForRole(deps, roleArn);
      if (deps.written.covers(roleArn, 'incidents', tag, until)) return false;
      await denyIncidentOnRole(deps, roleArn, tag, until, signal);
      deps.logger.info({ role: roleNameOf(roleArn), incidentId }, 'aws: incident denied on role at close');
      return true;
    }),
  );
  return wrote.includes(true);
}

/** The incident's tag into the role's incident Deny until `until`, written and read back (updateDenyPolicy). */
async function denyIncidentOnRole(deps: RevokeDeps, roleArn: string, tag: string, until: number, signal: AbortSignal): Promise<void> {
  const policy = await updateDenyPolicy(
    deps,
    roleArn,
    (p) => {
      addEntry(p, 'incidents', tag, until);
      return [{ kind: 'incidents', value: tag }];
    },
    signal,
  );
  deps.written.note(roleArn, 'incidents', tag, untilOf(policy, 'incidents', tag));
}

/** One grant (released, or revoked alone): its `aws:userid` into the grants Deny, until its own expiry. */
export async function revokeOneSession(
  deps: RevokeDeps,
  ref: GrantRef,
  signal: AbortSignal,
  record: (incidentId: string, roleArn: string) => Promise<void>,
): Promise<RevocationReceipt> {
  const h = handleOf(ref);
  const userId = `${h.roleId}:${h.sessionName}`;
  const until = Math.max(ref.expiresAt, h.expiresAt) + CLOCK_MARGIN_MS;
  if (deps.written.covers(h.roleArn, 'grants', userId, until)) return receipt(ref.grantId);
  await record(ref.incidentId, h.roleArn);
  const policy = await updateDenyPolicy(
    deps,
    h.roleArn,
    (p) => {
      addEntry(p, 'grants', userId, until);
      return [{ kind: 'grants', value: userId }];
    },
    signal,
  );
  deps.written.note(h.roleArn, 'grants', userId, untilOf(policy, 'grants', userId));
  return receipt(ref.grantId);
}

/**
 * The emergency: every session of the role issued before now is denied, whoever made it, until
 * the longest could have ended.
 */
export async function denyRoleSessions(
  deps: RevokeDeps,
  roleArn: string,
  signal: AbortSignal,
): Promise<{ readonly deniedBefore: number; readonly until: number }> {
  const before = deps.now();
  const until = await neededUntilForRole(deps, roleArn);
  const written = await updateDenyPolicy(
    deps,
    roleArn,
    (policy) => {
      addEmergency(policy, before, until);
      // Every session an entry denies was issued before now and ends before `until`: the emergency
      // covers them all, so the entries go, and the deny fits even when the policy was full.
      policy.entries.incidents.clear();
      policy.entries.grants.clear();
      return [];
    },
    signal,
  );
  if (!written.emergency || written.emergency.before < before)
    throw providerUnavailable('aws emergency deny: the policy read back lacks the deny');
  return { deniedBefore: written.emergency.before, until: written.emergency.until };
}
