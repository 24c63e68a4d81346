/**
 * What the Vault benches share: the broker child configured with the `vault` provider against a
 * fake Vault child, and the same provider created in the bench process for direct baselines.
 */
import { setMaxListeners } from 'node:events';
import { Agent } from 'node:http';
import { vaultConfigSchema, vaultProfileParamsSchema, type VaultConfig } from '../providers/vault/config.js';
import { createVaultProvider } from '../providers/vault/index.js';
import type { Provider } from '../src/sdk.js';
import type { VaultProfileParams } from '../providers/vault/config.js';
import { PARENT_POLICIES, PARENT_ROLE } from '../test/fakes/vault/provision.js';
import { benchTokens, httpCall, startBrokerChild, type BrokerChild, type LogLevel } from './broker_child.js';
import { startFakeVaultChild, type FakeVaultChild } from './vault_fake_child.js';

export const AGENT_ID = 'spiffe://dev.local/agent/triage';
const agents = ['spiffe://dev\\.local/agent/[A-Za-z0-9._-]+'];

export const VAULT_BENCH_PROFILES = {
  'vault-read': {
    provider: 'vault',
    maxTtl: 900,
    defaultTtl: 300,
    tier: 'read',
    agents,
    params: { kind: 'vault_token', policies: ['qm-agent-read'] },
  },
  'db-read': {
    provider: 'vault',
    maxTtl: 900,
    defaultTtl: 300,
    tier: 'read',
    agents,
    params: { kind: 'vault_dynamic', path: 'database/creds/readonly', childPolicies: ['qm-db-readonly'] },
  },
} as const;
export type VaultBenchProfile = keyof typeof VAULT_BENCH_PROFILES;

/** `confirmConcurrency` unset: the provider's default. */
export function vaultSection(fake: FakeVaultChild, confirmConcurrency?: number): Record<string, unknown> {
  return {
    address: fake.url,
    auth: { method: 'token', tokenFile: fake.brokerTokenFile },
    parentTokenRole: PARENT_ROLE,
    parentPolicies: PARENT_POLICIES,
    maxTtlSeconds: 900,
    ...(confirmConcurrency === undefined ? {} : { confirmConcurrency }),
  };
}

export function startVaultBrokerChild(
  fake: FakeVaultChild,
  logLevel: LogLevel,
  cpuProfDir?: string,
  confirmConcurrency?: number,
  receiptLanes?: number,
  store?: { kind: 'redis'; url: string; keyPrefix: string },
): Promise<BrokerChild> {
  return startBrokerChild({
    logLevel,
    ...(store ? { store } : {}),
    ...(cpuProfDir ? { cpuProfDir } : {}),
    configure: (config) => ({
      ...config,
      ...(receiptLanes === undefined
        ? {}
        : { revocation: { ...(config.revocation as Record<string, unknown>), receiptLanesWhileServing: receiptLanes } }),
      providers: { ...(config.providers as Record<string, unknown>), vault: vaultSection(fake, confirmConcurrency) },
      profiles: VAULT_BENCH_PROFILES,
    }),
  });
}

/** A never-firing signal for direct provider calls; like core's, shared by the provider's concurrent requests. */
export function directSignal(): AbortSignal {
  const { signal } = new AbortController();
  setMaxListeners(256, signal);
  return signal;
}

const noopLogger = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };

/** The provider as the catalog creates it, in this process: the direct baseline. */
export function directVaultProvider(fake: FakeVaultChild, confirmConcurrency?: number): Promise<Provider<VaultProfileParams>> {
  const config: VaultConfig = vaultConfigSchema.parse(vaultSection(fake, confirmConcurrency));
  return createVaultProvider(config, { logger: noopLogger, now: Date.now, devMode: true });
}

export const profileParams = (name: VaultBenchProfile): VaultProfileParams =>
  vaultProfileParamsSchema.parse(VAULT_BENCH_PROFILES[name].params);

/** One bench run's world: the fake Vault child, the broker child, the direct provider, tokens and one open incident. */
export interface VaultBench {
  readonly fake: FakeVaultChild;
  readonly broker: BrokerChild;
  readonly provider: Provider<VaultProfileParams>;
  readonly http: Agent;
  readonly operatorHeaders: Record<string, string>;
  readonly agentHeaders: Record<string, string>;
  readonly incidentId: string;
  stop(): Promise<void>;
}

export async function startVaultBench(options: {
  latencyMs: number;
  logLevel: LogLevel;
  maxSockets: number;
  incidentId: string;
  cpuProfDir?: string;
  confirmConcurrency?: number;
  receiptLanes?: number;
  /** The broker on this Redis instead of the memory store. */
  store?: { kind: 'redis'; url: string; keyPrefix: string };
}): Promise<VaultBench> {
  const fake = await startFakeVaultChild({ latencyMs: options.latencyMs });
  const broker = await startVaultBrokerChild(
    fake,
    options.logLevel,
    options.cpuProfDir,
    options.confirmConcurrency,
    options.receiptLanes,
    options.store,
  ).catch(async (err: unknown) => {
    await fake.stop();
    throw err;
  });
  const http = new Agent({ keepAlive: true, maxSockets: options.maxSockets });
  const provider = await directVaultProvider(fake, options.confirmConcurrency);
  const stop = async (): Promise<void> => {
    http.destroy();
    await provider.close();
    await broker.stop();
    await fake.stop();
  };
  try {
    const { operator, agent: agentToken } = await benchTokens(broker.keyDir, AGENT_ID);
    const operatorHeaders = { authorization: `Bearer ${operator}`, 'content-type': 'application/json' };
    const opened = await httpCall(
      http,
      `${broker.url}/v1/incidents`,
      'POST',
      operatorHeaders,
      JSON.stringify({ id: options.incidentId, title: 'bench', severity: 'sev3' }),
    );
    if (opened.status !== 201) throw new Error(`open incident answered ${opened.status}`);
    return {
      fake,
      broker,
      provider,
      http,
      operatorHeaders,
      agentHeaders: { authorization: `Bearer ${agentToken}`, 'content-type': 'application/json' },
      incidentId: options.incidentId,
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
