/**
 * The AWS SDK clients the provider calls through, and what it learns from AWS about itself and
 * its roles. The broker's own credentials come from the SDK's default provider chain (environment,
 * web identity / IRSA, ECS, instance metadata); retries are the SDK's standard strategy (throttling
 * and 5xx retried with backoff, `maxAttempts` in all); every call carries the caller's AbortSignal.
 */
import { GetRoleCommand, IAMClient } from '@aws-sdk/client-iam';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import type { AwsStsConfig } from './config.js';

export interface AwsClients {
  readonly sts: STSClient;
  readonly iam: IAMClient;
  close(): void;
}

export function createAwsClients(config: AwsStsConfig): AwsClients {
  const common = {
    region: config.region,
    maxAttempts: config.maxAttempts,
    retryMode: 'standard',
    requestHandler: { connectionTimeout: Math.min(config.requestTimeoutMs, 3000), requestTimeout: config.requestTimeoutMs },
  } as const;
  const sts = new STSClient({ ...common, ...(config.stsEndpoint ? { endpoint: config.stsEndpoint } : {}) });
  const iam = new IAMClient({ ...common, ...(config.iamEndpoint ? { endpoint: config.iamEndpoint } : {}) });
  return {
    sts,
    iam,
    close() {
      sts.destroy();
      iam.destroy();
    },
  };
}

export interface RoleInfo {
  readonly arn: string;
  readonly name: string;
  /** The role's unique id (AROA…): `aws:userid` of its sessions is `<RoleId>:<session name>`. */
  readonly roleId: string;
  readonly maxSessionSeconds: number;
}

/** A role's name: the last segment of its ARN (`arn:aws:iam::123456789012:role/path/name`). */
export const roleNameOf = (arn: string): string => arn.slice(arn.lastIndexOf('/') + 1);

/**
 * GetRole, cached per role for `ttlMs`; concurrent lookups of one role share one call, bounded by
 * `callBoundMs` rather than by one caller's signal (one caller giving up must not fail the others).
 */
export function createRoleCache(clients: AwsClients, ttlMs: number, callBoundMs: number, now: () => number) {
  const cache = new Map<string, { readonly at: number; readonly info: Promise<RoleInfo> }>();
  return {
    get(arn: string): Promise<RoleInfo> {
      const hit = cache.get(arn);
      if (hit && now() - hit.at < ttlMs) return hit.info;
      const call = clients.iam.send(new GetRoleCommand({ RoleName: roleNameOf(arn) }), { abortSignal: AbortSignal.timeout(callBoundMs) });
      const info = call.then((out) => {
        const role = out.Role;
        if (!role?.RoleId || !role.Arn) throw new Error('GetRole answered without the role');
        if (role.Arn !== arn) throw new Error('GetRole answered another role than the profile names');
        return { arn, name: role.RoleName ?? roleNameOf(arn), roleId: role.RoleId, maxSessionSeconds: role.MaxSessionDuration ?? 3600 };
      });
      cache.set(arn, { at: now(), info });
      info.catch(() => cache.delete(arn));
      return info;
    },
  };
}

export type RoleCache = ReturnType<typeof createRoleCache>;

/**
 * Whether the broker's own credentials are a role session (web identity / IRSA, an instance or
 * task role, an assumed role): then every AssumeRole is role chaining, which AWS caps at one hour.
 * Learned once from GetCallerIdentity.
 */
export function createCallerIdentity(clients: AwsClients, callBoundMs: number) {
  let known: Promise<{ readonly arn: string; readonly chaining: boolean }> | null = null;
  return {
    get() {
      known ??= clients.sts.send(new GetCallerIdentityCommand({}), { abortSignal: AbortSignal.timeout(callBoundMs) }).then((out) => {
        const arn = out.Arn ?? '';
        return { arn, chaining: /^arn:aws[a-z-]*:sts::\d{12}:assumed-role\//u.test(arn) };
      });
      known.catch(() => {
        known = null;
      });
      return known;
    },
  };
}

export type CallerIdentity = ReturnType<typeof createCallerIdentity>;
