/**
 * Starts the real broker (main.ts startBroker) in-process on 127.0.0.1:0 with a captured log, and
 * gives tests tokens from the dev issuer and a small JSON client.
 */
import { createLogger } from '../../src/logging.js';
import { mintAgentToken, mintOperatorToken } from '../../src/identity/dev_issuer.js';
import { startBroker, type RunningBroker, type StartOptions } from '../../src/main.js';
import { createLogCapture, type LogCapture } from './log_capture.js';
import { AGENT_ISSUER, AUDIENCE, OPERATOR_AUDIENCE, OPERATOR_ISSUER, testConfig, type TestConfigOptions } from './test_config.js';

export interface TestBroker {
  readonly url: string;
  readonly broker: RunningBroker;
  readonly logs: LogCapture;
  readonly keyDir: string;
  /** `issuedAt` (ms) lets a test mint a token that is already expired; `claims` adds claims to the token. */
  agentToken(agentId: string, ttlSeconds?: number, issuedAt?: number, claims?: Record<string, unknown>): Promise<string>;
  operatorToken(subject?: string, roles?: string[]): Promise<string>;
  request(
    method: string,
    path: string,
    options?: { token?: string; body?: unknown; form?: Record<string, string>; headers?: Record<string, string> },
  ): Promise<{ status: number; body: any; headers: Headers; text: string }>;
  stop(): Promise<void>;
}

export async function startTestBroker(
  options: TestConfigOptions & { now?: () => number; providerFactories?: StartOptions['providers']; runWorker?: boolean } = {},
): Promise<TestBroker> {
  const { config, keyDir } = testConfig(options);
  const logs = createLogCapture();
  const logger = createLogger({ level: config.logging.level, destination: logs });
  const broker = await startBroker(config, {
    logger,
    port: 0,
    ...(options.now ? { now: options.now } : {}),
    ...(options.providerFactories ? { providers: options.providerFactories } : {}),
    ...(options.runWorker === undefined ? {} : { runWorker: options.runWorker }),
  });
  const now = options.now ?? Date.now;
  return {
    url: broker.url,
    broker,
    logs,
    keyDir,
    agentToken: (agentId, ttlSeconds = 600, issuedAt = now(), claims = {}) =>
      mintAgentToken({ keyDir, issuer: AGENT_ISSUER, audience: AUDIENCE, agentId, ttlSeconds, now: issuedAt, claims }),
    operatorToken: (subject = 'alice@example.com', roles = ['operator']) =>
      mintOperatorToken({ keyDir, issuer: OPERATOR_ISSUER, audience: OPERATOR_AUDIENCE, subject, roles, ttlSeconds: 3600, now: now() }),
    async request(method, path, opts = {}) {
      const headers: Record<string, string> = { ...opts.headers };
      if (opts.token) headers.authorization = `Bearer ${opts.token}`;
      let body: string | undefined;
      if (opts.form) {
        headers['content-type'] = 'application/x-www-form-urlencoded';
        body = new URLSearchParams(opts.form).toString();
      } else if (opts.body !== undefined) {
        headers['content-type'] ??= 'application/json';
        body = typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body);
      }
      const res = await fetch(`${broker.url}${path}`, { method, headers, ...(body === undefined ? {} : { body }) });
      const text = await res.text();
      let parsed: unknown = undefined;
      try {
        parsed = JSON.parse(text);
      } catch {
        /* not JSON: tests read `text` */
      }
      return { status: res.status, body: parsed, headers: res.headers, text };
    },
    stop: () => broker.stop(),
  };
}

export { eventually } from './eventually.js';
