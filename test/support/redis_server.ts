/**
 * Starts a private `redis-server` for a test file: a free 127.0.0.1 port, no persistence (or AOF
 * when asked), its own temp dir. Tests never touch a shared Redis (port 6379 may hold someone's data).
 *
 * `cluster: true` starts a one-node Redis Cluster owning every slot. Redis then refuses any
 * command or script that spans two hash slots (CROSSSLOT), which is how the store's key layout
 * is proven cluster-safe with a plain client.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';

export interface RedisServer {
  readonly url: string;
  readonly port: number;
  /** Kills the server and removes its directory. Idempotent. */
  stop(): Promise<void>;
}

export interface RedisServerOptions {
  /** A one-node cluster owning every slot; 'node' is cluster-enabled and owns none (redis_cluster.ts joins several). */
  readonly cluster?: boolean | 'node';
  /** With cluster: how long a node may be unreachable before the others fail it over (cluster-node-timeout). */
  readonly clusterNodeTimeoutMs?: number;
  /** AOF with appendfsync everysec, as production needs (default: no persistence at all). */
  readonly appendOnly?: boolean;
  /** Renames CONFIG away, as managed Redis services do. */
  readonly withoutConfigCommand?: boolean;
}

const HOST = '127.0.0.1';
const SHARED_PORT = 6379;
const START_ATTEMPTS = 5;
const READY_TIMEOUT_MS = 10_000;
const POLL_MS = 20;

class RedisBinaryMissing extends Error {
  constructor() {
    super('redis-server was not found on PATH; the Redis store tests need it: install it with `apt-get install redis-server`');
  }
}

export async function startRedisServer(options: RedisServerOptions = {}): Promise<RedisServer> {
  let lastError: unknown = null;
  for (let attempt = 0; attempt < START_ATTEMPTS; attempt++) {
    // The port is free when probed but may be taken before redis binds it: then redis exits and
    // we try another one.
    const port = await freePort();
    if (port === SHARED_PORT) continue;
    const dir = await mkdtemp(join(tmpdir(), 'qm-redis-'));
    try {
      return await launch(port, dir, options);
    } catch (err) {
      await rm(dir, { recursive: true, force: true });
      if (err instanceof RedisBinaryMissing) throw err;
      lastError = err;
    }
  }
  throw new Error(`could not start redis-server in ${START_ATTEMPTS} attempts: ${String(lastError)}`);
}

async function launch(port: number, dir: string, options: RedisServerOptions): Promise<RedisServer> {
  const args = [
    '--port',
    String(port),
    '--bind',
    HOST,
    '--protected-mode',
    'yes',
    '--save',
    '',
    '--appendonly',
    options.appendOnly ? 'yes' : 'no',
    '--appendfsync',
    'everysec',
    '--dir',
    dir,
    '--daemonize',
    'no',
    '--loglevel',
    'warning',
    ...(options.cluster ? ['--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf'] : []),
    ...(options.cluster && options.clusterNodeTimeoutMs ? ['--cluster-node-timeout', String(options.clusterNodeTimeoutMs)] : []),
    ...(options.withoutConfigCommand ? ['--rename-command', 'CONFIG', ''] : []),
  ];
  const child = spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const keep = (chunk: Buffer): void => {
    output = (output + chunk.toString()).slice(-4000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let spawnError: Error | null = null;
  child.once('error', (err: NodeJS.ErrnoException) => {
    spawnError = err.code === 'ENOENT' ? new RedisBinaryMissing() : err;
  });

  const stop = async (): Promise<void> => {
    await kill(child, exited);
    await rm(dir, { recursive: true, force: true });
  };
  try {
    await pollUntil(async () => {
      if (spawnError) throw spawnError;
      if (child.exitCode !== null || child.signalCode !== null) throw new Error(`redis-server exited: ${output.trim()}`);
      return answersPing(port);
    }, 'redis-server to answer PING');
    if (options.cluster === true) await ownAllSlots(port);
  } catch (err) {
    await stop();
    throw err;
  }
  return { url: `redis://${HOST}:${port}`, port, stop };
}

async function ownAllSlots(port: number): Promise<void> {
  const admin = new Redis({ host: HOST, port, lazyConnect: true, retryStrategy: () => null });
  try {
    await admin.connect();
    await admin.call('CLUSTER', 'ADDSLOTSRANGE', '0', '16383');
    await pollUntil(async () => String(await admin.call('CLUSTER', 'INFO')).includes('cluster_state:ok'), 'the one-node cluster to be ok');
  } finally {
    admin.disconnect();
  }
}

async function kill(child: ChildProcess, exited: Promise<void>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
  await exited;
  clearTimeout(timer);
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, HOST, () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

function answersPing(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: HOST, port });
    let reply = '';
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1_000, () => done(false));
    socket.once('error', () => done(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.on('data', (chunk) => {
      reply += chunk.toString();
      if (reply.includes('\r\n')) done(reply.startsWith('+PONG'));
    });
  });
}

/** Polls `check` until it returns true; throws its error or a timeout naming `what`. */
export async function pollUntil(check: () => Promise<boolean>, what: string, timeoutMs = READY_TIMEOUT_MS): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}
