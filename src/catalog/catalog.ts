/**
 * The provider registry facade: builds the configured providers from the explicit built-in list,
 * validates each provider's config section and each profile's params with the provider's own
 * schema, and stands between core and providers at run time — applying timeouts, checking what
 * providers return, and prefixing their errors with `provider(<name>):` (CONTRIBUTING.md #4).
 */
import { setMaxListeners } from 'node:events';
import type { Config, ProfileConfig } from '../config/schema.js';
import { ConfigError, formatIssues } from '../config/load.js';
import type { Logger } from '../logging.js';
import { anchoredPattern } from '../patterns.js';
import { createScheduler, type ClosableScheduler } from '../scheduler.js';
import type { BackgroundLanes, IncidentRecords, Provider, ProviderFactory, ProviderLocks } from '../sdk.js';
import { checkIssued, isProviderSubjectFormat, subjectsOf, wrapProviderError } from './provider_boundary.js';
import type {
  EmergencyDenyResult,
  IssuedCredential,
  IssueRequest,
  KillIncidentRequest,
  RevocationReceipt,
  RevokeGrantRequest,
  RevokeIncidentRequest,
} from '../sdk.js';
import { BrokerError } from '../errors.js';

export interface ProfileEntry {
  readonly name: string;
  readonly config: ProfileConfig;
  /** Validated by the provider's profileParamsSchema. */
  readonly params: unknown;
  readonly provider: Provider;
  /** Anchored (`^(?:…)$`) agent-id matchers, compiled once. */
  readonly agentMatchers: readonly RegExp[];
}

export interface Catalog {
  profile(name: string): ProfileEntry | undefined;
  profiles(): readonly ProfileEntry[];
  provider(name: string): Provider | undefined;
  providers(): readonly Provider[];
  /** The provider's credential, checked at the boundary, with its subjects (provider_boundary.ts subjectsOf). */
  issue(
    profile: ProfileEntry,
    req: Omit<IssueRequest<unknown>, 'signal' | 'profile'>,
  ): Promise<IssuedCredential & { readonly subjects: readonly string[] }>;
  revokeGrant(provider: Provider, req: Omit<RevokeGrantRequest, 'signal'>): Promise<RevocationReceipt>;
  revokeIncident(provider: Provider, req: Omit<RevokeIncidentRequest, 'signal'>): Promise<readonly RevocationReceipt[]>;
  /** The provider's kill of a closing incident (sdk.ts Provider.killIncident), under the call deadline. */
  killIncident(provider: Provider, req: Omit<KillIncidentRequest, 'signal'>): Promise<boolean>;
  /** The provider's emergency deny (sdk.ts Provider.emergencyDeny), under the call deadline. */
  emergencyDeny(provider: Provider, target: string): Promise<EmergencyDenyResult>;
  close(): Promise<void>;
}

export interface CatalogDeps {
  readonly logger: Logger;
  readonly now: () => number;
  readonly devMode: boolean;
  /** Upper bound on one provider call. */
  readonly callTimeoutMs: number;
  /** Passed to every provider (sdk.ts BackgroundLanes). */
  readonly background?: BackgroundLanes;
  /** Passed to every provider (sdk.ts ProviderDeps.publicUrl). */
  readonly publicUrl?: () => string;
  /** Store-backed locks; each provider gets them under its own name (sdk.ts ProviderLocks). */
  readonly locks?: ProviderLocks & { within(namespace: string): ProviderLocks };
  /** Store-backed incident records, one namespace per provider (sdk.ts IncidentRecords). */
  readonly incidentRecords?: (provider: string) => IncidentRecords;
}

// Each factory has its own config/param types; the catalog only passes validated values through.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyProviderFactory = ProviderFactory<any, any>;

export async function createCatalog(config: Config, factories: readonly AnyProviderFactory[], deps: CatalogDeps): Promise<Catalog> {
  const byName = new Map<string, AnyProviderFactory>();
  for (const f of factories) {
    if (byName.has(f.name)) throw new ConfigError([`built-in provider ${f.name} is registered twice`], 'providers/index.ts');
    byName.set(f.name, f);
  }

  const problems: string[] = [];
  const configured = new Map<string, { factory: AnyProviderFactory; config: unknown }>();
  for (const [name, section] of Object.entries(config.providers)) {
    const factory = byName.get(name);
    if (!factory) {
      problems.push(`providers.${name}: unknown provider (known: ${[...byName.keys()].join(', ')})`);
      continue;
    }
    const parsed = factory.configSchema.safeParse(section ?? {});
    if (!parsed.success) problems.push(...formatIssues(parsed.error.issues, ['providers', name]));
    else configured.set(name, { factory, config: parsed.data });
  }

  const profileParams = new Map<string, unknown>();
  for (const [name, profile] of Object.entries(config.profiles)) {
    const entry = configured.get(profile.provider);
    if (!entry) {
      problems.push(`profiles.${name}.provider: provider "${profile.provider}" is not configured under providers`);
      continue;
    }
    const parsed = entry.factory.profileParamsSchema.safeParse(profile.params);
    if (!parsed.success) problems.push(...formatIssues(parsed.error.issues, ['profiles', name, 'params']));
    else profileParams.set(name, parsed.data);
  }
  if (problems.length > 0) throw new ConfigError(problems, 'config');

  const providers = new Map<string, Provider>();
  // One scheduler per provider: whatever it left pending is cancelled once it has closed.
  const schedulers: ClosableScheduler[] = [];
  const closeProviders = async (): Promise<void> => {
    await Promise.allSettled([...providers.values()].map((p) => p.close()));
    for (const scheduler of schedulers) scheduler.close();
  };
  try {
    for (const [name, { factory, config: providerConfig }] of configured) {
      const logger = deps.logger.child({ provider: name });
      const scheduler = createScheduler();
      schedulers.push(scheduler);
      providers.set(
        name,
        await factory.create(providerConfig, {
          logger,
          now: deps.now,
          devMode: deps.devMode,
          scheduler,
          ...(deps.background ? { background: deps.background } : {}),
          ...(deps.publicUrl ? { publicUrl: deps.publicUrl } : {}),
          ...(deps.locks ? { locks: deps.locks.within(`provider:${name}`) } : {}),
          ...(deps.incidentRecords ? { incidentRecords: deps.incidentRecords(name) } : {}),
        }),
      );
    }
  } catch (err) {
    await closeProviders();
    throw err;
  }

  const profiles = new Map<string, ProfileEntry>();
  for (const [name, profile] of Object.entries(config.profiles)) {
    const provider = providers.get(profile.provider);
    if (!provider) continue; // unreachable: checked above
    if (provider.capabilities.incidentRevocation && !provider.revokeIncident) {
      problems.push(`providers.${provider.name}: declares incidentRevocation but has no revokeIncident (a provider bug)`);
    }
    if (provider.killIncident && !provider.capabilities.incidentRevocation) {
      problems.push(`providers.${provider.name}: has killIncident but does not declare incidentRevocation (a provider bug)`);
    }
    for (const format of Object.keys(provider.capabilities.subjects ?? {}).filter((f) => !isProviderSubjectFormat(f))) {
      problems.push(
        `providers.${provider.name}: declares subject format ${JSON.stringify(format)}, which is not [a-z][a-z0-9_]* or is core's own (a provider bug)`,
      );
    }
    if (profile.maxTtl < provider.capabilities.minTtlSeconds) {
      problems.push(`profiles.${name}.maxTtl: below provider ${provider.name}'s minimum of ${provider.capabilities.minTtlSeconds}s`);
    }
    profiles.set(
      name,
      Object.freeze({
        name,
        config: profile,
        params: profileParams.get(name),
        provider,
        agentMatchers: profile.agents.map(anchoredPattern),
      }),
    );
  }
  if (problems.length > 0) {
    await closeProviders();
    throw new ConfigError(problems, 'config');
  }

  const PROVIDER_SIGNAL_LISTENERS = 256;
  const withTimeout = async <T>(provider: Provider, op: string, call: (signal: AbortSignal) => Promise<T>): Promise<T> => {
    // A timer cleared when the call ends, not AbortSignal.timeout(): that one's timer lives on
    // for the full timeout after every call, thousands of them under load.
    const controller = new AbortController();
    const { signal } = controller;
    const timer = setTimeout(() => controller.abort(new DOMException('provider call timed out', 'TimeoutError')), deps.callTimeoutMs);
    // One call's signal is shared by the provider's own concurrent requests (Vault confirms
    // receipts 16 at a time); each removes its listener when done, so this is not a leak.
    setMaxListeners(PROVIDER_SIGNAL_LISTENERS, signal);
    // Raced against the deadline too, so a provider that ignores its signal cannot hold a request
    // (or a revocation batch) forever; whatever it still creates is bounded by its hard TTL.
    const deadline = new Promise<never>((_resolve, reject) => {
      signal.addEventListener('abort', () => reject(signal.reason), { once: true });
    });
    try {
      return await Promise.race([call(signal), deadline]);
    } catch (err) {
      throw wrapProviderError(provider.name, op, err, signal.aborted);
    } finally {
      clearTimeout(timer);
    }
  };

  return {
    profile: (name) => profiles.get(name),
    profiles: () => [...profiles.values()],
    provider: (name) => providers.get(name),
    providers: () => [...providers.values()],
    async issue(profile, req) {
      const issued = await withTimeout(profile.provider, 'issue', (signal) =>
        profile.provider.issue({ ...req, profile: { name: profile.name, params: profile.params }, signal }),
      );
      checkIssued(profile.provider.name, issued, req.ttlSeconds, deps.now());
      return { ...issued, subjects: subjectsOf(profile.provider.name, profile.provider.capabilities.subjects, issued.handle) };
    },
    revokeGrant: (provider, req) => withTimeout(provider, 'revokeGrant', (signal) => provider.revokeGrant({ ...req, signal })),
    async revokeIncident(provider, req) {
      const revokeIncident = provider.revokeIncident?.bind(provider);
      if (!revokeIncident) throw wrapProviderError(provider.name, 'revokeIncident', new Error('not supported'), false);
      return withTimeout(provider, 'revokeIncident', (signal) => revokeIncident({ ...req, signal }));
    },
    async killIncident(provider, req) {
      const killIncident = provider.killIncident?.bind(provider);
      if (!killIncident) throw wrapProviderError(provider.name, 'killIncident', new Error('not supported'), false);
      return withTimeout(provider, 'killIncident', (signal) => killIncident({ ...req, signal }));
    },
    async emergencyDeny(provider, target) {
      const emergencyDeny = provider.emergencyDeny?.bind(provider);
      if (!emergencyDeny)
        throw new BrokerError(
          'ERR_VALIDATION',
          400,
          `provider ${provider.name} has no emergency deny (its credentials are revoked one by one)`,
        );
      return withTimeout(provider, 'emergencyDeny', (signal) => emergencyDeny({ target, signal }));
    },
    close: closeProviders,
  };
}
