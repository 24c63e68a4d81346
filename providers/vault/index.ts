/**
 * HashiCorp Vault: child tokens and dynamic secrets bound to an incident, revoked with the
 * incident in one call per parent token (docs/architecture.md "Providers"; README.md beside this file).
 *
 *  issue        → parents.ts (per-incident orphan parent) + issue.ts (child / dynamic secret)
 *  revokeGrant  → revoke.ts: lease (sync) + child accessor, then lookups as the receipt
 *  revokeIncident → revoke.ts: each distinct parent accessor once (the handles' and the recorded ones), then lookups
 *  killIncident → revoke.ts: at close, the recorded parents only, no lookups (the queue's revokeIncident confirms)
 *  parent_sweep.ts → every parentSweepSeconds: the recorded parents of ended incidents
 * Failures become ERR_PROVIDER_UNAVAILABLE (retry may help) or ERR_PROVIDER_FAILED (errors.ts).
 */
import { createHmac, randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import {
  BrokerError,
  isLoopbackUrl,
  type BackgroundLanes,
  type KillIncidentRequest,
  type Provider,
  type ProviderDeps,
  type ProviderFactory,
} from '../../src/sdk.js';
import { createVaultClient } from './client.js';
import { createVaultHttp } from './vault_http.js';
import { vaultConfigSchema, vaultProfileParamsSchema, type VaultConfig, type VaultProfileParams } from './config.js';
import { toBrokerError, VaultCallError } from './errors.js';
import { issueVaultCredential } from './issue.js';
import { startParentSweep, type ParentSweep } from './parent_sweep.js';
import { createIncidentParents } from './parents.js';
import { killIncidentParents, revokeIncidentGrants, revokeOneGrant } from './revoke.js';
import { createBrokerSession, realScheduler, type Scheduler } from './session.js';

export const vaultProvider = {
  name: 'vault' as const,
  configSchema: vaultConfigSchema,
  profileParamsSchema: vaultProfileParamsSchema,
  create: (config: VaultConfig, deps: ProviderDeps) => createVaultProvider(config, deps),
} satisfies ProviderFactory<VaultConfig, VaultProfileParams>;

export interface VaultProviderOptions {
  /** Timers for the broker token's renewal (default: the broker's, deps.scheduler); tests inject a manual one. */
  readonly scheduler?: Scheduler;
}

/** Without the broker's lanes (tests, tools), background work runs at once. */
const runAtOnce: BackgroundLanes = { run: (work) => work() };

export async function createVaultProvider(
  config: VaultConfig,
  deps: ProviderDeps,
  options: VaultProviderOptions = {},
): Promise<Provider<VaultProfileParams>> {
  // The broker's Vault token crosses this connection on every call: outside development mode only
  // TLS, or a loopback address (a local Vault agent).
  if (!deps.devMode && new URL(config.address).protocol === 'http:' && !isLoopbackUrl(config.address)) {
    throw new BrokerError(
      'ERR_CONFIG',
      500,
      `providers.vault.address: ${config.address} is plain http; outside development mode Vault is reached over https (or a loopback address)`,
    );
  }
  const caPem = config.caFile === undefined ? undefined : await readCa(config.caFile);
  const http = createVaultHttp(config, caPem);
  const session = createBrokerSession({
    http,
    auth: config.auth,
    logger: deps.logger,
    now: deps.now,
    scheduler: options.scheduler ?? deps.scheduler ?? realScheduler,
    strictSecretFiles: !deps.devMode,
  });
  const client = createVaultClient(http, session);
  // Accessors are sensitive (docs/security.md §4): logs name a parent by a keyed, per-process fingerprint.
  const fingerprintKey = randomBytes(32);
  const fingerprint = (accessor: string): string => createHmac('sha256', fingerprintKey).update(accessor).digest('base64url').slice(0, 12);
  const records = deps.incidentRecords;
  const parents = createIncidentParents({
    client,
    config,
    logger: deps.logger,
    now: deps.now,
    fingerprint,
    ...(records ? { records } : {}),
  });
  const revokeDeps = {
    client,
    parents,
    logger: deps.logger,
    fingerprint,
    confirmConcurrency: config.confirmConcurrency,
    namespace: config.namespace ?? '',
    background: deps.background ?? runAtOnce,
    parentRevokes: new Map<string, Promise<'revoked' | 'gone'>>(),
    ...(records ? { records } : {}),
  };

  try {
    await session.token(AbortSignal.timeout(config.requestTimeoutMs));
  } catch (err) {
    const error = toBrokerError(err, 'login');
    if (error.code !== 'ERR_PROVIDER_UNAVAILABLE') {
      session.close();
      http.close();
      if (err instanceof VaultCallError && err.failure.kind === 'tls') {
        throw new BrokerError(
          'ERR_CONFIG',
          500,
          `providers.vault.caFile: Vault's certificate at ${config.address} is not trusted (${error.detail ?? error.code})`,
        );
      }
      throw error.code === 'ERR_CONFIG'
        ? error
        : new BrokerError('ERR_CONFIG', 500, `providers.vault.auth: Vault refused the broker's login (${error.detail ?? error.code})`);
    }
    // Vault down or sealed at boot: start anyway, answer 503 for Vault grants, log in on first use.
    deps.logger.warn({ address: config.address, detail: error.detail }, 'vault: not reachable at start; will log in on first use');
  }

  // Without the broker's store there are no records to sweep: parents are then this process's only.
  const sweep: ParentSweep | null = records
    ? startParentSweep({
        client,
        parents,
        records,
        logger: deps.logger,
        fingerprint,
        scheduler: options.scheduler ?? deps.scheduler ?? realScheduler,
        ...(deps.locks ? { locks: deps.locks } : {}),
        intervalMs: config.parentSweepSeconds * 1000,
      })
    : null;

  const guard = async <T>(op: string, call: () => Promise<T>): Promise<T> => {
    try {
      return await call();
    } catch (err) {
      if (err instanceof VaultCallError && err.failure.kind === 'http') {
        deps.logger.debug({ op: err.op, status: err.failure.status, vaultErrors: err.failure.errors }, 'vault: request refused');
      }
      throw toBrokerError(err, op);
    }
  };

  return {
    name: 'vault',
    capabilities: {
      grantRevocation: 'upstream',
      incidentRevocation: true,
      // Vault tokens are known outside by their accessor (audit devices log it, not the token).
      subjects: { vault_accessor: 'accessor' },
      minTtlSeconds: 1,
      maxTtlSeconds: config.maxTtlSeconds,
    },
    issue: (req) => guard('issue', () => issueVaultCredential({ client, parents, config, logger: deps.logger, now: deps.now }, req)),
    revokeGrant: (req) => guard('revokeGrant', () => revokeOneGrant(revokeDeps, req, req.signal)),
    revokeIncident: (req) => guard('revokeIncident', () => revokeIncidentGrants(revokeDeps, req.incidentId, req.grants, req.signal)),
    // Only with the broker's records: without them no parent of another process is known.
    ...(records
      ? {
          killIncident: (req: KillIncidentRequest) =>
            guard('killIncident', () => killIncidentParents({ ...revokeDeps, records }, req.incidentId, req.signal)),
        }
      : {}),
    async health(signal) {
      try {
        const status = await client.health(signal);
        if (status?.initialized === false) return { ok: false, detail: 'vault is not initialized' };
        if (status?.sealed !== false) return { ok: false, detail: 'vault is sealed' };
        const expiresAt = session.expiresAt();
        if (expiresAt === undefined) return { ok: false, detail: 'broker not logged in to vault' };
        return { ok: true, detail: expiresAt === null ? 'logged in' : `logged in; token expires ${new Date(expiresAt).toISOString()}` };
      } catch (err) {
        return { ok: false, detail: toBrokerError(err, 'health').detail ?? 'unreachable' };
      }
    },
    async close() {
      // Parents are deliberately left alive: grants outlive the process. They are recorded in the
      // store, so another replica (or the next process) revokes them at close.
      sweep?.stop();
      session.close();
      http.close();
    },
  };
}

async function readCa(file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    throw new BrokerError(
      'ERR_CONFIG',
      500,
      `providers.vault.caFile: ${file} cannot be read (${typeof code === 'string' ? code : 'unknown error'})`,
    );
  }
}
