/**
 * Composition root (docs/architecture.md "Layout"): the only place that picks concrete stores and imports
 * providers/index.ts. `startBroker` is also what end-to-end tests run, so they exercise exactly
 * what `npm start` runs.
 */
import type { AddressInfo } from 'node:net';
import { createServer, type Server } from 'node:http';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { builtInProviders } from '../providers/index.js';
import { createApp } from './app.js';
import { answerClientErrors } from './http/client_errors.js';
import { createAuditLog } from './audit/audit_log.js';
import { createBackgroundLanes } from './background_lanes.js';
import { createCatalog, type AnyProviderFactory } from './catalog/catalog.js';
import { defaultConfigPath, loadConfigFile } from './config/load.js';
import type { Config } from './config/schema.js';
import { BrokerError, describeCause } from './errors.js';
import { ensureDevKeys } from './identity/dev_issuer.js';
import { withRefusalCounts } from './identity/refusal_counts.js';
import { createIdentity } from './identity/verifier.js';
import { createLogger, type Logger } from './logging.js';
import { createMetrics } from './metrics.js';
import { createRevocationWorker, type RevocationWorker } from './revocation/worker.js';
import { guardStore } from './store/guarded_store.js';
import { createStoreIntegrity } from './store/integrity.js';
import { openStore } from './store/open_store.js';
import { redisAddress } from './store/redis_connection.js';
import type { Store } from './store/store.js';
import type { StorePersistence } from './store/store_meta.js';

export interface StartOptions {
  readonly logger: Logger;
  readonly now?: () => number;
  /** Overrides config.server.port (PORT, tests use 0). */
  readonly port?: number;
  readonly providers?: readonly AnyProviderFactory[];
  /** Run the revocation worker in this process (default true). */
  readonly runWorker?: boolean;
}

export interface RunningBroker {
  readonly url: string;
  readonly server: Server;
  readonly store: Store;
  readonly worker: RevocationWorker;
  /** Graceful: stop accepting, finish in-flight requests and revocations, close everything. */
  stop(): Promise<void>;
}

/** Node's own limits (docs/operations.md "HTTP limits"): headers must arrive within 10 s, a whole request within 30 s. */
const HEADERS_TIMEOUT_MS = 10_000;
const REQUEST_TIMEOUT_MS = 30_000;
/** Provider calls are bounded; a hung upstream becomes ERR_PROVIDER_UNAVAILABLE. */
const PROVIDER_CALL_TIMEOUT_MS = 10_000;

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
    throw new BrokerError('ERR_CONFIG', 500, `refusing to start: Redis at ${redisAddress(config.store.url)} is not persistent (${persistence.detail}); a restart of it would wipe every grant and close tombstone. ${fix}, or set store.allowVolatile: true to accept that`);
  }
  logger.warn({ persistence: persistence.detail }, `store is not persistent: a Redis restart loses every grant and close tombstone; ${fix}`);
  return persistence;
}

export async function startBroker(config: Config, options: StartOptions): Promise<RunningBroker> {
  const { logger } = options;
  const now = options.now ?? Date.now;
  const devMode = config.mode === 'development';
  if (config.devIssuer) await ensureDevKeys(config.devIssuer.keyDir);

  const backing = await openStore(config, logger.child({ component: 'store' }));
  const cleanup: Array<() => Promise<void>> = [() => backing.close()];
  try {
    await backing.ping();
    const persistence = await checkPersistence(config, backing, logger);
    let store: Store = backing;
    const metrics = createMetrics({ defaultMetrics: true, queueDepth: () => store.revocationQueueDepth() });
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
    const identity = withRefusalCounts(await createIdentity(config.identity, {
      logger: logger.child({ component: 'identity' }),
      now,
      onKeySetRefresh: (keySet, outcome) => metrics.keySetRefreshes.inc({ key_set: keySet, outcome }),
    }), (kind, code) => metrics.tokenRefusals.inc({ kind, code }));
    // Revocation receipts yield to requests in flight (background_lanes.ts).
    const lanes = createBackgroundLanes(config.revocation.receiptLanesWhileServing);
    // Known once the server listens (port 0, PORT); providers read it lazily (sdk.ts publicUrl).
    let listenUrl: string | undefined = undefined;
    const publicUrl = (): string => {
      const url = config.server.publicUrl?.replace(/\/+$/u, '') ?? (devMode ? listenUrl : undefined);
      if (url === undefined) throw new BrokerError('ERR_CONFIG', 500, devMode ? 'the broker URL is not known before the server listens' : 'server.publicUrl is not set');
      return url;
    };
    const catalog = await createCatalog(config, options.providers ?? builtInProviders, { logger, now, devMode, callTimeoutMs: PROVIDER_CALL_TIMEOUT_MS, background: lanes, publicUrl });
    cleanup.unshift(() => catalog.close());
    const audit = createAuditLog(store, logger);
    const base = { config, store, catalog, audit, metrics, logger, now };
    const worker = createRevocationWorker({ ...base, logger: logger.child({ component: 'revocation' }) });
    const runWorker = options.runWorker ?? true;
    const deps = { ...base, identity, storeHealth: { integrity, persistence }, nudgeRevocation: runWorker ? () => worker.nudge() : () => undefined };

    let shuttingDown = false;
    const app = createApp(deps, { isShuttingDown: () => shuttingDown, lanes });
    const server = createServer({ maxHeaderSize: config.server.maxHeaderBytes }, app);
    server.headersTimeout = HEADERS_TIMEOUT_MS;
    server.requestTimeout = REQUEST_TIMEOUT_MS;
    answerClientErrors(server, logger, metrics);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port ?? config.server.port, config.server.host, () => resolve());
    });
    // Before anything else awaits: a request may arrive as soon as the server listens.
    const url = listenAddressUrl(server.address() as AddressInfo);
    listenUrl = url;
    if (runWorker) await worker.start();
    logger.info({ url, mode: config.mode, store: store.kind, providers: catalog.providers().map((p) => p.name) }, 'quartermaster listening');

    let stopped: Promise<void> | null = null;
    const stop = (): Promise<void> => {
      stopped ??= (async () => {
        shuttingDown = true;
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeIdleConnections();
        await closed;
        await worker.stop();
        for (const fn of cleanup) await fn().catch((err: unknown) => logger.warn({ err: describeCause(err) }, 'shutdown step failed'));
        logger.info('quartermaster stopped');
      })();
      return stopped;
    };
    return { url, server, store, worker, stop };
  } catch (err) {
    for (const fn of cleanup) await fn().catch(() => undefined);
    throw err;
  }
}

/** `http://host:port` of the listening socket; a wildcard address becomes loopback, which a local client can reach. */
function listenAddressUrl(address: AddressInfo): string {
  const loopback = address.address === '0.0.0.0' ? '127.0.0.1' : address.address === '::' ? '::1' : address.address;
  const host = address.family === 'IPv6' ? `[${loopback}]` : loopback;
  return `http://${host}:${address.port}`;
}

export interface MainOptions {
  /** The provider factories to build from (default: the built-ins). For test entries only. */
  readonly providers?: readonly AnyProviderFactory[];
}

/**
 * The process entry: arguments, config file, PORT, logger, signals. Exported so a test entry can
 * run this very code with one extra provider (test/support/gated_broker_child.ts).
 */
export async function main(argv: readonly string[], options: MainOptions = {}): Promise<void> {
  const { values } = parseArgs({ args: [...argv], options: { config: { type: 'string', short: 'c' } }, strict: true });
  const file = values.config ?? process.env.QUARTERMASTER_CONFIG ?? defaultConfigPath();
  const config = loadConfigFile(file);
  const portEnv = process.env.PORT;
  const port = portEnv === undefined || portEnv === '' ? undefined : Number.parseInt(portEnv, 10);
  if (port !== undefined && !(Number.isInteger(port) && port >= 0 && port < 65_536)) throw new Error(`PORT must be an integer 0-65535, got ${JSON.stringify(portEnv)}`);

  const logger = createLogger({ level: config.logging.level });
  if (config.mode === 'development') {
    logger.warn({ config: file, store: config.store.kind }, '*** DEVELOPMENT MODE: embedded/dev config, local token issuer enabled; do not use in production ***');
  }
  const broker = await startBroker(config, { logger, ...(port === undefined ? {} : { port }), ...(options.providers ? { providers: options.providers } : {}) });

  let signalled = false;
  // The log destination is asynchronous: flush it before exiting so the last lines are kept.
  const exit = (code: number): void => logger.flush(() => process.exit(code));
  const onSignal = (signal: NodeJS.Signals): void => {
    if (signalled) return;
    signalled = true;
    logger.info({ signal }, 'shutting down');
    const force = setTimeout(() => {
      logger.error('graceful shutdown timed out; exiting');
      exit(1);
    }, config.server.shutdownGraceSeconds * 1000);
    force.unref();
    broker.stop().then(() => exit(0), (err: unknown) => {
      logger.error({ err: describeCause(err) }, 'shutdown failed');
      exit(1);
    });
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
}

const entry = process.argv[1];
if (entry !== undefined && import.meta.url === pathToFileURL(entry).href) {
  main(process.argv.slice(2)).catch((err: unknown) => {
    process.stderr.write(`quartermaster: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
}
