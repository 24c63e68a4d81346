/**
 * The aws_sts provider itself (index.ts loads it, and the AWS SDK with it, only when configured):
 * one AssumeRole session per grant, tagged with its incident, grant and agent, and ended by Deny
 * statements on the role because STS sessions cannot be revoked (README.md beside this file;
 * docs/providers/aws_sts.md).
 *
 *  issue          → issue.ts: AssumeRole with DurationSeconds within [900 s, the role's maximum]
 *  revokeIncident → revoke.ts: the incident's tag value into the role's incident Deny (one write per role)
 *  killIncident   → revoke.ts: the same at close, for the roles issue recorded for the incident
 *  revokeGrant    → revoke.ts: the session's aws:userid into the role's grants Deny
 *  emergencyDeny  → revoke.ts: every session of the role issued before now (aws:TokenIssueTime)
 *  garbage collection, every gcIntervalSeconds on one replica: statements no credential can need
 * Failures become ERR_PROVIDER_UNAVAILABLE (retry may help), ERR_PROVIDER_FAILED or
 * ERR_PROVIDER_QUOTA (errors.ts).
 */
import {
  BrokerError,
  isLoopbackUrl,
  type IncidentRecords,
  type KillIncidentRequest,
  type Provider,
  type ProviderDeps,
  type ProviderLocks,
} from '../../src/sdk.js';
import { createAwsClients, createCallerIdentity, createRoleCache, roleNameOf } from './clients.js';
import { ROLE_ARN, STS_MAX_SECONDS, STS_MIN_SECONDS, type AwsStsConfig, type AwsStsProfileParams } from './config.js';
import { hasEntry } from './deny_policy.js';
import { toBrokerError, classifyAwsError, describeAwsFailure } from './errors.js';
import { issueStsCredential } from './issue.js';
import { tagValue } from './names.js';
import {
  createWrittenEntries,
  denyRoleSessions,
  killIncidentSessions,
  revokeIncidentSessions,
  revokeOneSession,
  updateDenyPolicy,
  type RevokeDeps,
} from './revoke.js';

/** Without the broker's store (tools, tests of the provider alone), locks are this process's only. */
function localLocks(): ProviderLocks {
  const tails = new Map<string, Promise<unknown>>();
  return {
    async withLock(name, work) {
      const previous = tails.get(name) ?? Promise.resolve();
      let release!: () => void;
      const mine = new Promise<void>((resolve) => (release = resolve));
      tails.set(
        name,
        previous.then(() => mine),
      );
      await previous.catch(() => undefined);
      try {
        return await work({ fence: 0, signal: new AbortController().signal });
      } finally {
        release();
      }
    },
  };
}

export async function createAwsStsProvider(config: AwsStsConfig, deps: ProviderDeps): Promise<Provider<AwsStsProfileParams>> {
  for (const [setting, url] of [
    ['stsEndpoint', config.stsEndpoint],
    ['iamEndpoint', config.iamEndpoint],
  ] as const) {
    if (url !== undefined && !deps.devMode && new URL(url).protocol === 'http:' && !isLoopbackUrl(url)) {
      throw new BrokerError(
        'ERR_CONFIG',
        500,
        `providers.aws_sts.${setting}: ${url} is plain http; outside development mode AWS is reached over https`,
      );
    }
  }
  const clients = createAwsClients(config);
  const callBoundMs = config.requestTimeoutMs * config.maxAttempts;
  const roles = createRoleCache(clients, config.roleCacheSeconds * 1000, callBoundMs, deps.now);
  const caller = createCallerIdentity(clients, callBoundMs);
  const records: IncidentRecords | undefined = deps.incidentRecords;
  /** Roles this process issued or revoked for: garbage collection visits them besides the recorded ones. */
  const touched = new Set<string>();
  const revokeDeps: RevokeDeps = {
    clients,
    roles,
    config,
    locks: deps.locks ?? localLocks(),
    now: deps.now,
    logger: deps.logger,
    written: createWrittenEntries(deps.now),
  };
  const record = async (incidentId: string, roleArn: string): Promise<void> => {
    touched.add(roleArn);
    await records?.add(incidentId, roleArn);
  };
  /** (incident, role) pairs this process recorded at issue: one store write per pair, not per session. */
  const recordedAtIssue = new Set<string>();
  const recordRole = async (incidentId: string, roleArn: string): Promise<void> => {
    const key = `${incidentId}\n${roleArn}`;
    if (recordedAtIssue.has(key)) return;
    try {
      await record(incidentId, roleArn);
      if (recordedAtIssue.size >= 10_000) recordedAtIssue.clear();
      recordedAtIssue.add(key);
    } catch (err) {
      // The kill at close will not know this role; the queue's revokeIncident still denies it from the handles.
      deps.logger.warn(
        { role: roleNameOf(roleArn), incidentId, failure: err instanceof Error ? err.message : 'unknown' },
        'aws_sts: role not recorded for the incident',
      );
    }
  };

  try {
    const identity = await caller.get();
    deps.logger.info({ caller: identity.arn, roleChaining: identity.chaining }, 'aws_sts: broker identity');
  } catch (err) {
    // AWS unreachable or no credentials yet at boot: start anyway, answer 503 for these grants, retry on use.
    deps.logger.warn(
      { failure: describeAwsFailure(classifyAwsError(err)) },
      'aws_sts: GetCallerIdentity failed at start; will retry on use',
    );
  }

  const guard = async <T>(op: string, call: () => Promise<T>): Promise<T> => {
    try {
      return await call();
    } catch (err) {
      const error = toBrokerError(err, op);
      deps.logger.debug({ op, code: error.code, detail: error.detail }, 'aws_sts: call failed');
      throw error;
    }
  };

  /** Drops expired statements on every known role; forgets an ended incident's role once its entry is gone. */
  const collect = async (): Promise<void> => {
    const ended = records ? await records.ofEndedIncidents() : [];
    const rolesToVisit = new Set([...touched, ...ended.flatMap((e) => e.values)]);
    const written = new Map<string, Awaited<ReturnType<typeof updateDenyPolicy>>>();
    for (const roleArn of rolesToVisit) {
      try {
        written.set(roleArn, await updateDenyPolicy(revokeDeps, roleArn, () => [], AbortSignal.timeout(callBoundMs * 4)));
      } catch (err) {
        deps.logger.warn(
          { role: roleNameOf(roleArn), failure: toBrokerError(err, 'gc').detail },
          'aws_sts: garbage collection of a role failed; next sweep retries',
        );
      }
    }
    for (const { incidentId, values } of ended) {
      const done = values.filter((roleArn) => {
        const policy = written.get(roleArn);
        return policy !== undefined && !hasEntry(policy, 'incidents', tagValue(incidentId));
      });
      if (done.length > 0) await records?.remove(incidentId, done);
    }
  };
  let gcTimer: unknown = null;
  let stopped = false;
  const gcTick = (): void => {
    const run = deps.locks ? deps.locks.withLock('gc', () => collect(), { waitMs: 0 }) : collect();
    run
      .catch((err: unknown) =>
        deps.logger.debug({ failure: err instanceof Error ? err.message : 'unknown' }, 'aws_sts: garbage collection skipped'),
      )
      .finally(() => {
        if (!stopped && deps.scheduler) gcTimer = deps.scheduler.set(gcTick, config.gcIntervalSeconds * 1000);
      });
  };
  if (deps.scheduler) gcTimer = deps.scheduler.set(gcTick, config.gcIntervalSeconds * 1000);

  const provider: Provider<AwsStsProfileParams> & { collectGarbage(): Promise<void> } = {
    name: 'aws_sts',
    capabilities: {
      grantRevocation: 'upstream',
      incidentRevocation: true,
      minTtlSeconds: STS_MIN_SECONDS,
      maxTtlSeconds: STS_MAX_SECONDS,
      revocationTakesEffect: 'after_propagation',
      // CloudTrail and GuardDuty name a session by its AccessKeyId (userIdentity.accessKeyId).
      subjects: { aws_access_key_id: 'accessKeyId' },
    },
    issue: (req) => guard('issue', () => issueStsCredential({ clients, roles, caller, recordRole }, req)),
    revokeGrant: (req) => guard('revokeGrant', () => revokeOneSession(revokeDeps, req, req.signal, record)),
    revokeIncident: (req) =>
      guard('revokeIncident', () => revokeIncidentSessions(revokeDeps, req.incidentId, req.grants, req.signal, record)),
    // Only with the broker's records: without them the roles of an incident are known from its grants alone.
    ...(records
      ? {
          killIncident: (req: KillIncidentRequest) =>
            guard('killIncident', async () =>
              killIncidentSessions(revokeDeps, req.incidentId, await records.of(req.incidentId), req.signal),
            ),
        }
      : {}),
    async emergencyDeny(req) {
      if (!ROLE_ARN.test(req.target))
        throw new BrokerError('ERR_VALIDATION', 400, 'target must be an IAM role ARN (arn:aws:iam::<account>:role/<name>)');
      touched.add(req.target);
      const denied = await guard('emergencyDeny', () => denyRoleSessions(revokeDeps, req.target, req.signal));
      deps.logger.warn(
        { role: roleNameOf(req.target), deniedBefore: new Date(denied.deniedBefore).toISOString() },
        'aws_sts: emergency deny of every session of the role',
      );
      return { target: req.target, ...denied };
    },
    async health(signal) {
      try {
        const identity = await Promise.race([
          caller.get(),
          new Promise<never>((_, reject) => signal.addEventListener('abort', () => reject(signal.reason as Error), { once: true })),
        ]);
        return { ok: true, detail: `as ${identity.arn}${identity.chaining ? ' (role chaining: sessions of at most 1 h)' : ''}` };
      } catch (err) {
        return { ok: false, detail: toBrokerError(err, 'health').detail ?? 'unreachable' };
      }
    },
    collectGarbage: collect,
    async close() {
      stopped = true;
      if (gcTimer !== null) deps.scheduler?.clear(gcTimer);
      clients.close();
    },
  };
  return provider;
}
