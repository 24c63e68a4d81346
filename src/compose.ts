/**
 * Composition root: the one place that picks the concrete store and imports providers/index.ts,
 * and assembles every dependency a flow needs — without listening. The HTTP server (main.ts), the
 * CLI and tests build the very same broker with it, so each front end calls flows wired exactly
 * as production wires them.
 */
import { builtInProviders } from '../providers/index.js';
import { createAuditLog } from './audit/audit_log.js';
import { createApprovalNotifier } from './approvals/notify.js';
import { createAuditChain } from './audit/audit_chain.js';
import { createRevocationEvents } from './events/revocation_events.js';
import type { AuditSealer } from './audit/sealer.js';
import { createBackgroundLanes, type ForegroundLanes } from './background_lanes.js';
import { createCatalog, type AnyProviderFactory } from './catalog/catalog.js';
import type { Config } from './config/schema.js';
import { BrokerError, describeCause } from './errors.js';
import type { HttpDeps } from './http/deps.js';
import { ensureDevKeys } from './identity/dev_issuer.js';
import { withRefusalCounts } from './identity/refusal_counts.js';
import { createIdentity } from './identity/verifier.js';
import { createIncidentRecords } from './incident_records.js';
import { createLocks } from './locks.js';
import type { Logger } from './logging.js';
import { createMetrics } from './metrics.js';
import { createWebhookReceivers } from './webhooks/receive.js';
import { createSourceChecks } from './webhooks/source_checks.js';
import { createPolicyEngine, type PolicyEngine } from './policy/policy_engine.js';
import { createDetectors } from './deviation/detectors.js';
import { createSignalSources } from './deviation/signal_sources.js';
import { createIncidentKill } from './revocation/incident_kill.js';
import { createOverdueNotice } from './revocation/overdue_notice.js';
import { createRevocationWorker, type RevocationWorker } from './revocation/worker.js';
import { guardStore } from './store/guarded_store.js';
import { createStoreIntegrity } from './store/integrity.js';
import { openStore } from './store/open_store.js';
import { redisAddress } from './store/redis_connection.js';
import type { Store } from './store/store.js';
import type { StorePersistence } from './store/store_meta.js';

/** Provider calls are bounded; a hung upstream becomes ERR_PROVIDER_UNAVAILABLE. */
const PROVIDER_CALL_TIMEOUT_MS = 10_000;

export interface ComposeOptions {
  readonly logger: Logger;
  readonly now?: () => number;
  readonly providers?: readonly AnyProviderFactory[];
  /** Whether this process runs the revocation worker (its nudge wakes it); default true. */
  readonly runWorker?: boolean;
  /** Process metrics (CPU, heap, event loop) in the registry; default true. */
  readonly processMetrics?: boolean;
}

export interface ComposedBroker {
  /** What every flow and front end works with. */
  readonly deps: HttpDeps;
  readonly worker: RevocationWorker;
  /** Requests in flight narrow background work (background_lanes.ts); HTTP marks them. */
  readonly lanes: ForegroundLanes;
  /** The address the broker listens on, once it does (the development default of publicUrl). */
  setListenUrl(url: string): void;
  /** The policy engine, when `policy.dir` is configured: main.ts reloads it on SIGHUP. */
  readonly policy: PolicyEngine | null;
  /** The audit chain's sealer, when `audit.chain.enabled`: main.ts starts it beside the worker. */
  readonly sealer: AuditSealer | null;
  /** Stops the worker (finishing its batch) and closes providers, the integrity watch and the store. */
  close(): Promise<void>;
}

export async function composeBroker(config: Config, options: ComposeOptions): Promise<ComposedBroker> {
  const { logger } = options;
  const now = options.now ?? Date.now;
  const devMode = config.mode === 'development';
  if (config.devIssuer) await ensureDevKeys(config.devIssuer.keyDir);

  const backing = await openStore(config, logger.child({ component: 'store' }));
  const cleanup: Array<() => Promise<void>> = [() => backing.close()];
  const closeAll = async (onError: (err: unknown) => void): Promise<void> => {
    for (const fn of cleanup) await fn().catch(onError);
  };
  try {
    await backing.ping();
    const persistence = await checkPersistence(config, backing, logger);
    let store: Store = backing;
    const metrics = createMetrics({ defaultMetrics: options.processMetrics ?? true, queueDepth: () => store.revocationQueueDepth() });
    if (persistence) metrics.storePersistent.set(persistence.durable ? 1 : 0);
    const integrity = createStoreIntegrity(backing.meta, {
      logger: logger.child({ component: 'store' }),
      now,
      intervalMs: (config.store.kind === 'redis' ? config.store.integrityCheckSeconds : 60) * 1000,
      onStateChange: (state) => metrics.storeDataLost.set(state === 'lost' ? 1 : 0),
    });
    await integrity.start();
    cleanup.unshift(async () => integrity.stop());
    store = guardStore(backing, integrity);
    const identity = withRefusalCounts(
      await createIdentity(config.identity, {
        logger: logger.child({ component: 'identity' }),
        now,
        onKeySetRefresh: (keySet, outcome) => metrics.keySetRefreshes.inc({ key_set: keySet, outcome }),
        strictSecretFiles: !devMode,
        agentClaims: config.policy?.agentClaims ?? {},
        ...(config.approvals.sponsorClaim === undefined ? {} : { sponsorClaim: config.approvals.sponsorClaim }),
      }),
      (kind, code) => metrics.tokenRefusals.inc({ kind, code }),
    );
    // Revocation receipts yield to requests in flight (background_lanes.ts).
    const lanes = createBackgroundLanes(config.revocation.receiptLanesWhileServing);
    // Known once the server listens (port 0, PORT); providers read it lazily (sdk.ts publicUrl).
    let listenUrl: string | undefined = undefined;
    const publicUrl = (): string => {
      const url = config.server.publicUrl?.replace(/\/+$/u, '') ?? (devMode ? listenUrl : undefined);
      if (url === undefined)
        throw new BrokerError(
          'ERR_CONFIG',
          500,
          devMode ? 'the broker URL is not known before the server listens' : 'server.publicUrl is not set',
        );
      return url;
    };
    const locks = createLocks({ store, now, logger: logger.child({ component: 'locks' }) });
    const catalog = await createCatalog(config, options.providers ?? builtInProviders, {
      logger,
      now,
      devMode,
      callTimeoutMs: PROVIDER_CALL_TIMEOUT_MS,
      background: lanes,
      publicUrl,
      locks,
      incidentRecords: (provider) => createIncidentRecords(store, provider),
    });
    cleanup.unshift(() => catalog.close());
    const audit = createAuditLog(store, logger, {
      dedupeSeconds: config.retention.auditDedupeSeconds,
      repeatWindowSeconds: config.retention.repeatWindowSeconds,
    });
    const sourceChecks = await createSourceChecks(config, { store, logger: logger.child({ component: 'webhooks' }), now });
    // A policy set that does not load refuses the start, naming file, line and reason.
    const policy = config.policy
      ? createPolicyEngine({
          dir: config.policy.dir,
          ...(config.policy.shadowDir ? { shadowDir: config.policy.shadowDir } : {}),
          watchFiles: config.policy.watch,
          agentClaims: Object.keys(config.policy.agentClaims),
          logger: logger.child({ component: 'policy' }),
          metrics,
        })
      : null;
    if (policy) {
      cleanup.unshift(async () => policy.close());
      logger.info({ dir: config.policy?.dir, policies: Object.keys(policy.current().source.policies).length }, 'policy set loaded');
    }
    const auditChain = await createAuditChain(config, { store, metrics, logger: logger.child({ component: 'audit' }), now });
    if (auditChain) cleanup.unshift(() => auditChain.sealer.stop());
    const approvalNotifier = await createApprovalNotifier(config, { logger: logger.child({ component: 'approvals' }), now });
    const revocationEvents = await createRevocationEvents(config, {
      store,
      audit,
      metrics,
      logger: logger.child({ component: 'events' }),
      now,
      publicUrl,
    });
    // Settled before the catalog closes its providers (cleanup runs last-registered first).
    const incidentKill = createIncidentKill({ catalog, metrics, now, logger: logger.child({ component: 'revocation' }) });
    cleanup.unshift(() => incidentKill.settled());
    const base = {
      config,
      store,
      catalog,
      audit,
      metrics,
      logger,
      now,
      sourceChecks,
      policy,
      approvalNotifier,
      revocationEvents,
      incidentKill,
    };
    const overdueNotice = await createOverdueNotice(config, { store, logger: logger.child({ component: 'revocation' }), now });
    const worker = createRevocationWorker({ ...base, overdueNotice, lanes, logger: logger.child({ component: 'revocation' }) });
    cleanup.unshift(() => worker.stop());
    const runWorker = options.runWorker ?? true;
    const webhooks = await createWebhookReceivers(config, { store, now });
    const nudgeRevocation = runWorker ? () => worker.nudge() : () => undefined;
    const detectors = createDetectors({ ...base, nudgeRevocation, logger: logger.child({ component: 'deviation' }) });
    cleanup.unshift(() => detectors.settled());
    const deps: HttpDeps = {
      ...base,
      identity,
      webhooks,
      storeHealth: { integrity, persistence },
      auditChain,
      detectors,
      signalSources: await createSignalSources(config),
      nudgeRevocation,
    };
    let closed: Promise<void> | null = null;
    return {
      deps,
      worker,
      lanes,
      policy,
      sealer: auditChain?.sealer ?? null,
      setListenUrl: (url) => {
        listenUrl = url;
      },
      close: () => {
        closed ??= closeAll((err) => logger.warn({ err: describeCause(err) }, 'shutdown step failed'));
        return closed;
      },
    };
  } catch (err) {
    await closeAll(() => undefined);
    throw err;
  }
}

/**
 * A Redis that keeps nothing across a restart loses every grant and close tombstone with it; a
 * closed incident could then be reopened and issued for. Production refuses to start on one unless
 * the config accepts it (store.allowVolatile), and then readiness and a metric say so.
 */
async function checkPersistence(config: Config, store: Store, logger: Logger): Promise<StorePersistence | null> {
  if (config.store.kind !== 'redis') return null;
  const persistence = await store.meta.persistence();
  if (persistence.durable) {
    logger.info({ persistence: persistence.detail }, 'store persistence');
    return persistence;
  }
  const fix = 'enable AOF (appendonly yes, appendfsync everysec or always; docs/operations.md "Redis")';
  if (config.mode === 'production' && !config.store.allowVolatile) {
    throw new BrokerError(
      'ERR_CONFIG',
      500,
      `refusing to start: Redis at ${redisAddress(config.store.url, config.store.sentinels, config.store.cluster)} is not persistent (${persistence.detail}); a restart of it would wipe every grant and close tombstone. ${fix}, or set store.allowVolatile: true to accept that`,
    );
  }
  logger.warn(
    { persistence: persistence.detail },
    `store is not persistent: a Redis restart loses every grant and close tombstone; ${fix}`,
  );
  return persistence;
}
