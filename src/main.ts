/**
 * The HTTP process: the broker composed by compose.ts (the composition root), served on a port,
 * with signals for a graceful stop. `startBroker` is also what end-to-end tests run, so they
 * exercise exactly what `npm start` runs.
 */
import type { AddressInfo } from 'node:net';
import { createServer, type Server } from 'node:http';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { createApp } from './app.js';
import type { AnyProviderFactory } from './catalog/catalog.js';
import { composeBroker } from './compose.js';
import { defaultConfigPath, loadConfigFile } from './config/load.js';
import type { Config } from './config/schema.js';
import { describeCause } from './errors.js';
import { answerClientErrors } from './http/client_errors.js';
import { startMetricsListener } from './http/metrics_listener.js';
import { createLogger, type Logger } from './logging.js';
import type { AuditSealer } from './audit/sealer.js';
import type { RevocationWorker } from './revocation/worker.js';
import type { Detectors } from './deviation/detectors.js';
import type { Store } from './store/store.js';

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
  /** Where /metrics is served when it has its own listener (server.metricsListener). */
  readonly metricsUrl?: string;
  readonly server: Server;
  readonly store: Store;
  readonly worker: RevocationWorker;
  /** The audit chain's sealer (null when audit.chain.enabled is false); it runs beside the worker. */
  readonly sealer: AuditSealer | null;
  /** The deviation detectors (deviation/detectors.ts); `settled()` waits for the counting in flight. */
  readonly detectors: Detectors;
  /** Reloads the policy sets (SIGHUP; a no-op without policy.dir): a set that does not load keeps the old one serving. */
  reloadPolicy(): void;
  /** Graceful: stop accepting, finish in-flight requests and revocations, close everything. */
  stop(): Promise<void>;
}

/** Node's own limits (docs/operations.md "HTTP limits"): headers must arrive within 10 s, a whole request within 30 s. */
const HEADERS_TIMEOUT_MS = 10_000;
const REQUEST_TIMEOUT_MS = 30_000;
/** While stopping: how often connections that went idle after their last answer are closed. */
const IDLE_SWEEP_MS = 50;

export async function startBroker(config: Config, options: StartOptions): Promise<RunningBroker> {
  const { logger } = options;
  const runWorker = options.runWorker ?? true;
  const broker = await composeBroker(config, {
    logger,
    runWorker,
    ...(options.now ? { now: options.now } : {}),
    ...(options.providers ? { providers: options.providers } : {}),
    ...(options.runWorker === undefined ? {} : { runWorker: options.runWorker }),
  });
  const { deps, worker } = broker;
  let listening: Server | undefined;
  try {
    let shuttingDown = false;
    const app = createApp(deps, { isShuttingDown: () => shuttingDown, lanes: broker.lanes });
    const server = createServer({ maxHeaderSize: config.server.maxHeaderBytes }, app);
    server.headersTimeout = HEADERS_TIMEOUT_MS;
    server.requestTimeout = REQUEST_TIMEOUT_MS;
    answerClientErrors(server, logger, deps.metrics);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port ?? config.server.port, config.server.host, () => resolve());
    });
    listening = server;
    // Before anything else awaits: a request may arrive as soon as the server listens.
    const url = listenAddressUrl(server.address() as AddressInfo);
    broker.setListenUrl(url);
    const listener = config.server.metricsListener;
    const metricsListener = listener === undefined ? undefined : await startMetricsListener(deps.metrics, listener.host, listener.port);
    if (runWorker) {
      await worker.start();
      broker.sealer?.start();
    }
    logger.info(
      {
        url,
        ...(metricsListener ? { metricsUrl: metricsListener.url } : {}),
        mode: config.mode,
        store: deps.store.kind,
        providers: deps.catalog.providers().map((p) => p.name),
      },
      'quartermaster listening',
    );

    let stopped: Promise<void> | null = null;
    const stop = (): Promise<void> => {
      stopped ??= (async () => {
        shuttingDown = true;
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        // server.close() leaves open a keep-alive connection that is busy at this moment, and a
        // client that keeps sending on it (the console polls) was served on it until the grace
        // period forced the process down. Every response from now on closes its connection
        // (app.ts), and a connection that has gone idle is closed within a sweep.
        server.closeIdleConnections();
        const sweep = setInterval(() => server.closeIdleConnections(), IDLE_SWEEP_MS);
        try {
          await closed;
        } finally {
          clearInterval(sweep);
        }
        await metricsListener?.close();
        // The worker finishes its batch in flight; then providers, the store watch and the store close.
        await broker.close();
        logger.info('quartermaster stopped');
      })();
      return stopped;
    };
    const reloadPolicy = (): void => {
      broker.policy?.reload();
    };
    return {
      url,
      ...(metricsListener ? { metricsUrl: metricsListener.url } : {}),
      server,
      store: deps.store,
      worker,
      sealer: broker.sealer,
      detectors: deps.detectors as Detectors,
      reloadPolicy,
      stop,
    };
  } catch (err) {
    // Whatever started before the failure stops again: a broker that cannot run answers nothing.
    if (listening) await new Promise<void>((resolve) => listening?.close(() => resolve()));
    await broker.close();
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
  /** Run no revocation worker (nor inbox processing) in this process. For test entries only. */
  readonly runWorker?: boolean;
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
  if (port !== undefined && !(Number.isInteger(port) && port >= 0 && port < 65_536))
    throw new Error(`PORT must be an integer 0-65535, got ${JSON.stringify(portEnv)}`);

  const logger = createLogger({ level: config.logging.level });
  if (config.mode === 'development') {
    logger.warn(
      { config: file, store: config.store.kind },
      '*** DEVELOPMENT MODE: embedded/dev config, local token issuer enabled; do not use in production ***',
    );
  }
  const broker = await startBroker(config, {
    logger,
    ...(port === undefined ? {} : { port }),
    ...(options.providers ? { providers: options.providers } : {}),
    ...(options.runWorker === undefined ? {} : { runWorker: options.runWorker }),
  });

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
    broker.stop().then(
      () => exit(0),
      (err: unknown) => {
        logger.error({ err: describeCause(err) }, 'shutdown failed');
        exit(1);
      },
    );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  // The policy sets reload in place (docs/policy.md "Rolling out a change").
  process.on('SIGHUP', () => {
    logger.info('SIGHUP: reloading the policy sets');
    broker.reloadPolicy();
  });
}

const entry = process.argv[1];
if (entry !== undefined && import.meta.url === pathToFileURL(entry).href) {
  main(process.argv.slice(2)).catch((err: unknown) => {
    process.stderr.write(`quartermaster: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
}
