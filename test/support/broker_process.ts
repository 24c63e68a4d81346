/**
 * A broker as a real child process (src/main.ts's `main` through a test entry, e.g.
 * gated_broker_child.ts or receiver_broker_child.ts), for tests that kill one with SIGKILL:
 * resolves with its URL once it logs `quartermaster listening`, or fails with its stderr.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { mintAgentToken, mintOperatorToken } from '../../src/identity/dev_issuer.js';
import { AGENT_ISSUER, AUDIENCE, OPERATOR_AUDIENCE, OPERATOR_ISSUER } from './test_config.js';

export interface BrokerProcess {
  readonly proc: ChildProcess;
  readonly url: string;
}

export async function spawnBrokerProcess(entry: string, configFile: string): Promise<BrokerProcess> {
  const proc = spawn(process.execPath, ['--import', 'tsx', entry, '--config', configFile], {
    cwd: process.cwd(),
    env: { ...process.env, PORT: '0' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const stderr: string[] = [];
  proc.stderr?.on('data', (d: Buffer) => stderr.push(d.toString()));
  const lines = createInterface({ input: proc.stdout! });
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`broker did not start: ${stderr.join('')}`)), 20_000);
    proc.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`broker exited ${code}: ${stderr.join('')}`));
    });
    lines.on('line', (line) => {
      try {
        const logged = JSON.parse(line) as { msg?: string; url?: string };
        if (logged.msg === 'quartermaster listening' && logged.url) {
          clearTimeout(timer);
          resolve(logged.url);
        }
      } catch {
        /* non-JSON output is ignored */
      }
    });
  });
  return { proc, url };
}

/** An operator (`alice`, the operator role) and an agent (`spiffe://dev.local/agent/triage`) token of the test config's dev issuer in `keyDir`. */
export async function devTokens(keyDir: string): Promise<{ readonly operator: string; readonly agent: string }> {
  const now = Date.now();
  const [operator, agent] = await Promise.all([
    mintOperatorToken({
      keyDir,
      issuer: OPERATOR_ISSUER,
      audience: OPERATOR_AUDIENCE,
      subject: 'alice',
      roles: ['operator'],
      ttlSeconds: 600,
      now,
    }),
    mintAgentToken({ keyDir, issuer: AGENT_ISSUER, audience: AUDIENCE, agentId: 'spiffe://dev.local/agent/triage', ttlSeconds: 600, now }),
  ]);
  return { operator, agent };
}

/** One JSON request to a broker process with a bearer token. */
export async function callBroker(
  url: string,
  method: string,
  path: string,
  token: string,
  body?: unknown,
): Promise<{ status: number; body: any }> {
  const res = await fetch(`${url}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: res.status, body: await res.json() };
}

/** Resolves once the child has exited (at once if it already has). */
export const exited = (proc: ChildProcess): Promise<void> =>
  proc.exitCode !== null || proc.signalCode !== null ? Promise.resolve() : new Promise((resolve) => proc.once('exit', () => resolve()));
