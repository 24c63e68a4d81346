/**
 * Runs the STS + IAM fake (test/fakes/aws) in its own process for the AWS benches, so the fake's
 * CPU is neither the broker's nor the bench's. The fake has no latency option, so with
 * `latencyMs` > 0 the child puts a small HTTP proxy in front of it that holds every request that
 * long before forwarding it, headers untouched (SigV4 signs the Host header, and the fake checks
 * it); `url` is then the proxy's. At 0 ms there is no proxy and `url` is the fake's own. Started
 * with IPC: the parent asks for call counts (and when the fake accepted each policy write), resets
 * them, and reads a role's inline policies.
 *
 *   child side:  node --import tsx bench/aws_fake_child.ts '{"latencyMs":20,"roles":[…]}'
 *   parent side: startFakeAwsChild({ latencyMs, roles })
 */
import { fork, type ChildProcess } from 'node:child_process';
import { Agent, createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { startAwsFake } from '../test/fakes/aws/server.js';

export interface FakeRoleSpec {
  readonly name: string;
  readonly maxSessionDuration?: number;
}

/**
 * Calls the fake answered since the last reset, by action (`GetRolePolicy`; `GetRolePolicy NoSuchEntity`
 * when it answered an error): `broker` those made with the admin keys (the broker's own credentials,
 * also the direct baselines'), `sessions` those made with issued session credentials (the probes).
 * `writesAt`: when each PutRolePolicy the fake accepted (admin keys) was answered, epoch ms
 * (performance.timeOrigin + performance.now(), comparable across processes of this machine) to
 * within ~1 ms: the fake applies a policy as it answers, so this is when the Deny took effect there.
 */
export interface AwsCallCounts {
  readonly broker: Record<string, number>;
  readonly sessions: Record<string, number>;
  readonly writesAt: readonly number[];
}

/** Epoch ms with sub-millisecond precision, comparable between the bench and the fake child. */
export const epochMs = (): number => performance.timeOrigin + performance.now();

export interface FakeAwsChild {
  /** What SDK clients get as `endpoint`: the delaying proxy when latencyMs > 0, else the fake itself. */
  readonly url: string;
  readonly latencyMs: number;
  readonly accountId: string;
  readonly adminCredentials: { readonly accessKeyId: string; readonly secretAccessKey: string };
  /** Role name → ARN, for the roles created at start. */
  readonly roleArns: Readonly<Record<string, string>>;
  counts(): Promise<AwsCallCounts>;
  resetCounts(): Promise<void>;
  /** The role's inline policies, name → parsed document (the fake's rolePolicies). */
  rolePolicies(roleName: string): Promise<Record<string, unknown>>;
  /** What the fake did not understand so far; the benches fail unless it stays empty. */
  unexpected(): Promise<string[]>;
  stop(): Promise<void>;
}

interface ChildOptions {
  readonly latencyMs: number;
  readonly roles: readonly FakeRoleSpec[];
}

type Request = { cmd: 'counts' } | { cmd: 'reset' } | { cmd: 'policies'; role: string } | { cmd: 'unexpected' };
type Command = Request & { readonly id: number };

interface Ready {
  readonly type: 'ready';
  readonly url: string;
  readonly accountId: string;
  readonly adminCredentials: { accessKeyId: string; secretAccessKey: string };
  readonly roleArns: Record<string, string>;
}

interface Answer {
  readonly type: 'answer';
  readonly id: number;
  readonly value?: unknown;
  readonly error?: string;
}

export async function startFakeAwsChild(options: ChildOptions): Promise<FakeAwsChild> {
  const child: ChildProcess = fork(fileURLToPath(import.meta.url), [JSON.stringify(options)], {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
  const ready = await new Promise<Ready>((resolve, reject) => {
    const onExit = (code: number | null): void => reject(new Error(`fake aws child exited (${code}) before it was ready`));
    child.once('exit', onExit);
    child.once('message', (msg: Ready) => {
      child.off('exit', onExit);
      resolve(msg);
    });
  });
  let nextId = 0;
  const ask = <T>(command: Request): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      const id = (nextId += 1);
      const onMessage = (msg: Answer): void => {
        if (msg.type !== 'answer' || msg.id !== id) return;
        child.off('message', onMessage);
        child.off('exit', onExit);
        if (msg.error !== undefined) reject(new Error(`fake aws child: ${msg.error}`));
        else resolve(msg.value as T);
      };
      const onExit = (code: number | null): void => reject(new Error(`fake aws child exited (${code})`));
      child.on('message', onMessage);
      child.once('exit', onExit);
      child.send({ ...command, id });
    });
  return {
    url: ready.url,
    latencyMs: options.latencyMs,
    accountId: ready.accountId,
    adminCredentials: ready.adminCredentials,
    roleArns: ready.roleArns,
    counts: () => ask<AwsCallCounts>({ cmd: 'counts' }),
    resetCounts: () => ask<void>({ cmd: 'reset' }),
    rolePolicies: (role) => ask<Record<string, unknown>>({ cmd: 'policies', role }),
    unexpected: () => ask<string[]>({ cmd: 'unexpected' }),
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

/**
 * Holds each request `latencyMs` once its body has arrived, then forwards it unchanged (method, path,
 * headers, body) over a keep-alive agent and streams the answer back.
 */
async function startDelayProxy(target: string, latencyMs: number): Promise<{ url: string; stop(): Promise<void> }> {
  const { hostname, port } = new URL(target);
  const agent = new Agent({ keepAlive: true });
  const forward = (req: IncomingMessage, res: ServerResponse, body: Buffer): void => {
    const upstream = request({ host: hostname, port, method: req.method, path: req.url, headers: req.headers, agent }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    upstream.on('error', () => {
      if (res.headersSent) res.destroy();
      else res.writeHead(502).end();
    });
    upstream.end(body);
  };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => setTimeout(() => forward(req, res, Buffer.concat(chunks)), latencyMs));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    stop: async () => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      agent.destroy();
      await closed;
    },
  };
}

async function childMain(options: ChildOptions): Promise<void> {
  const fake = await startAwsFake();
  const roleArns: Record<string, string> = {};
  for (const role of options.roles) {
    roleArns[role.name] = fake.createRole(
      role.name,
      role.maxSessionDuration === undefined ? {} : { maxSessionDuration: role.maxSessionDuration },
    ).arn;
  }
  const proxy = options.latencyMs > 0 ? await startDelayProxy(fake.url, options.latencyMs) : null;
  // fake.calls carries no time: from a reset on, a 1 ms timer stamps each call as it appears.
  let countedFrom = 0;
  const stamps: number[] = [];
  let stamper: NodeJS.Timeout | null = null;
  const stamp = (): void => {
    const now = epochMs();
    while (countedFrom + stamps.length < fake.calls.length) stamps.push(now);
  };
  const counts = (): AwsCallCounts => {
    stamp();
    if (stamper) clearInterval(stamper);
    stamper = null;
    const broker: Record<string, number> = {};
    const sessions: Record<string, number> = {};
    const writesAt: number[] = [];
    fake.calls.slice(countedFrom).forEach((call, i) => {
      const admin = call.accessKeyId === fake.adminCredentials.accessKeyId;
      const into = admin ? broker : sessions;
      const key = call.outcome === 'ok' ? call.action : `${call.action} ${call.outcome}`;
      into[key] = (into[key] ?? 0) + 1;
      if (admin && call.action === 'PutRolePolicy' && call.outcome === 'ok') writesAt.push(stamps[i] as number);
    });
    return { broker, sessions, writesAt };
  };
  process.on('message', (msg: Command) => {
    const answer = (value: unknown): void => void process.send?.({ type: 'answer', id: msg.id, value });
    try {
      if (msg.cmd === 'counts') answer(counts());
      else if (msg.cmd === 'reset') {
        countedFrom = fake.calls.length;
        stamps.length = 0;
        if (stamper) clearInterval(stamper);
        stamper = setInterval(stamp, 1);
        answer(null);
      } else if (msg.cmd === 'policies') answer(fake.rolePolicies(msg.role));
      else if (msg.cmd === 'unexpected') answer([...fake.unexpected]);
    } catch (err) {
      process.send?.({ type: 'answer', id: msg.id, error: String(err) });
    }
  });
  const stop = (): void => {
    void Promise.all([proxy?.stop(), fake.stop()]).then(() => process.exit(0));
  };
  process.once('SIGTERM', stop);
  process.once('disconnect', stop);
  const ready: Ready = {
    type: 'ready',
    url: proxy?.url ?? fake.url,
    accountId: fake.accountId,
    adminCredentials: { ...fake.adminCredentials },
    roleArns,
  };
  process.send?.(ready);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  childMain(JSON.parse(process.argv[2] ?? '{"latencyMs":0,"roles":[]}') as ChildOptions).catch((err: unknown) => {
    process.stderr.write(`fake aws child: ${String(err)}\n`);
    process.exit(1);
  });
}
