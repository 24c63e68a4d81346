/**
 * Runs the broker as a separate process the way production does — the compiled build,
 * `node dist/src/main.js --config FILE` (buildBroker() compiles it first) — and talks to it over
 * loopback with a keep-alive `node:http` Agent (global fetch costs ~236 µs per call; docs/performance.md).
 *
 * The broker logs its URL only at level info, and info also writes one access-log line per
 * request, which would be part of what we measure. So by default the bench picks a free loopback
 * port itself, passes it as PORT, and waits for /healthz to answer. If another process grabs the
 * port in between, the child exits with EADDRINUSE and we retry with a new port.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { mintAgentToken, mintOperatorToken } from '../src/identity/dev_issuer.js';
import { AGENT_ISSUER, AUDIENCE, OPERATOR_AUDIENCE, OPERATOR_ISSUER, testConfigObject } from '../test/support/test_config.js';

export type LogLevel = 'warn' | 'info';

export interface BrokerChildOptions {
  readonly logLevel: LogLevel;
  /** When set, the child runs with --cpu-prof and writes its profile here on graceful exit. */
  readonly cpuProfDir?: string;
  /** The store the child runs on; memory by default. */
  readonly store?: { kind: 'memory' } | { kind: 'redis'; url: string; keyPrefix: string };
  /** Changes the config before the child starts (e.g. the Vault benches add providers and profiles). */
  readonly configure?: (config: Record<string, unknown>) => Record<string, unknown>;
}

export interface BrokerChild {
  readonly url: string;
  /** The broker process's pid (S2 reads its CPU time from /proc). */
  readonly pid: number;
  readonly keyDir: string;
  /** The yaml config object the child runs (the jwt provider section is reused by baselines). */
  readonly config: Record<string, unknown>;
  /** SIGTERM, then SIGKILL after 5 s; then removes the temp dir (config, keys). Safe to call more than once. */
  stop(): Promise<void>;
}

const START_TIMEOUT_MS = 20_000;
const BROKER_ENTRY = 'dist/src/main.js';

/** `npm run build` (incremental tsc into dist/), so the child runs the code under test, compiled. */
export function buildBroker(): void {
  const result = spawnSync('npm', ['run', '-s', 'build'], { cwd: process.cwd(), stdio: ['ignore', 2, 2] });
  if (result.status !== 0) throw new Error(`npm run build failed (${result.status ?? result.signal}); the bench runs the compiled broker`);
}
const START_ATTEMPTS = 3;

async function freeLoopbackPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** The development config of the e2e tests, with production revocation defaults (no test tuning). */
function benchConfig(
  dir: string,
  logLevel: LogLevel,
  store: NonNullable<BrokerChildOptions['store']>,
): { config: Record<string, unknown>; keyDir: string } {
  const keyDir = join(dir, 'keys');
  const config = { ...testConfigObject({ keyDir, store, logLevel }), revocation: {} };
  return { config, keyDir };
}

export async function startBrokerChild(options: BrokerChildOptions): Promise<BrokerChild> {
  const dir = mkdtempSync(join(tmpdir(), 'qm-bench-'));
  const base = benchConfig(dir, options.logLevel, options.store ?? { kind: 'memory' });
  const config = options.configure ? options.configure(base.config) : base.config;
  const { keyDir } = base;
  const configFile = join(dir, 'quartermaster.yaml');
  writeFileSync(configFile, stringify(config));

  let lastError: unknown;
  for (let attempt = 1; attempt <= START_ATTEMPTS; attempt += 1) {
    const port = await freeLoopbackPort();
    const nodeArgs = options.cpuProfDir ? ['--cpu-prof', '--cpu-prof-dir', options.cpuProfDir] : [];
    const proc = spawn(process.execPath, [...nodeArgs, BROKER_ENTRY, '--config', configFile], {
      cwd: process.cwd(),
      env: { ...process.env, PORT: String(port) },
      // stdout carries the log; drained and discarded so the pipe never blocks the broker.
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    proc.stdout?.resume();
    const stderr: string[] = [];
    proc.stderr?.on('data', (d: Buffer) => stderr.push(d.toString()));
    const url = `http://127.0.0.1:${port}`;
    try {
      await waitHealthy(proc, url, stderr);
      const stopChild = stopper(proc);
      return {
        url,
        pid: proc.pid ?? 0,
        keyDir,
        config,
        stop: () => stopChild().then(() => rmSync(dir, { recursive: true, force: true })),
      };
    } catch (err) {
      lastError = err;
      await stopper(proc)();
    }
  }
  rmSync(dir, { recursive: true, force: true });
  throw lastError instanceof Error ? lastError : new Error(String(lastError));
}

async function waitHealthy(proc: ChildProcess, url: string, stderr: string[]): Promise<void> {
  const deadline = Date.now() + START_TIMEOUT_MS;
  const agent = new Agent({ keepAlive: false });
  try {
    while (Date.now() < deadline) {
      if (proc.exitCode !== null || proc.signalCode !== null) {
        throw new Error(`broker exited (${proc.exitCode ?? proc.signalCode}): ${stderr.join('')}`);
      }
      const ok = await httpCall(agent, `${url}/healthz`, 'GET', {}).then(
        (r) => r.status === 200,
        () => false,
      );
      if (ok) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`broker did not answer /healthz within ${START_TIMEOUT_MS} ms: ${stderr.join('')}`);
  } finally {
    agent.destroy();
  }
}

function stopper(proc: ChildProcess): () => Promise<void> {
  let stopping: Promise<void> | null = null;
  return () => {
    stopping ??= new Promise<void>((resolve) => {
      if (proc.exitCode !== null || proc.signalCode !== null) return resolve();
      const force = setTimeout(() => proc.kill('SIGKILL'), 5_000);
      proc.once('exit', () => {
        clearTimeout(force);
        resolve();
      });
      proc.kill('SIGTERM');
    });
    return stopping;
  };
}

export interface HttpResult {
  readonly status: number;
  readonly body: string;
}

/** One request over `agent`; resolves after the whole response body has arrived. */
export function httpCall(agent: Agent, url: string, method: string, headers: Record<string, string>, body?: string): Promise<HttpResult> {
  return new Promise<HttpResult>((resolve, reject) => {
    const req = request(
      url,
      { method, agent, headers: body === undefined ? headers : { ...headers, 'content-length': String(Buffer.byteLength(body)) } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.setTimeout(10_000, () => req.destroy(new Error(`${method} ${url} timed out`)));
    req.on('error', reject);
    req.end(body);
  });
}

/** An operator token and an agent token from the broker child's dev issuer, each good for an hour. */
export async function benchTokens(keyDir: string, agentId: string): Promise<{ operator: string; agent: string }> {
  const now = Date.now();
  const operator = await mintOperatorToken({
    keyDir,
    issuer: OPERATOR_ISSUER,
    audience: OPERATOR_AUDIENCE,
    subject: 'bench@example.com',
    roles: ['operator'],
    ttlSeconds: 3600,
    now,
  });
  const agent = await mintAgentToken({ keyDir, issuer: AGENT_ISSUER, audience: AUDIENCE, agentId, ttlSeconds: 3600, now });
  return { operator, agent };
}
