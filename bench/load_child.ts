/**
 * The open-loop, fixed-rate load generator of S2 (s2_capacity.ts), in its own process so it never
 * shares an event loop with what it measures. Open loop: request i is due at start + i / rate
 * whether or not earlier ones have answered, and its latency is counted from when it was due, not
 * from when it went out (no coordinated omission: a stalled server shows as latency, not as a
 * politely slower generator). It can also serve: a node:http hello-world that answers every POST
 * with a small JSON body, the HTTP-hop part of S2's CPU floor.
 *
 *   parent side: startLoadChild(); run({ url, rate, durationMs, tokens, body }); serve(); stop()
 */
import { fork, type ChildProcess } from 'node:child_process';
import { Agent, createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';

export interface LoadSpec {
  readonly url: string;
  /** Requests per second, offered on schedule. */
  readonly rate: number;
  readonly durationMs: number;
  /** One bearer token per request, used in order (each request its own token; fewer: cycled). */
  readonly tokens: readonly string[];
  readonly body: string;
  /** Status every request should answer with. */
  readonly expect: number;
}

export interface LoadResult {
  readonly offered: number;
  readonly ok: number;
  /** Other statuses, by status. */
  readonly statuses: Record<string, number>;
  /** Connection errors and timeouts. */
  readonly errors: number;
  /** Due → last byte, ms, of the requests answered with `expect`. */
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
  /** First due → last answer, ms. */
  readonly elapsedMs: number;
  /** How late, at most, a request went out after it was due (the generator's own lag), ms. */
  readonly maxSendLagMs: number;
}

type Command = { cmd: 'run'; spec: LoadSpec } | { cmd: 'serve' };
type Reply = { type: 'result'; result: LoadResult } | { type: 'serving'; url: string } | { type: 'error'; message: string };

export interface LoadChild {
  readonly pid: number;
  run(spec: LoadSpec): Promise<LoadResult>;
  /** Starts the hello-world server in the child; resolves to its URL. */
  serve(): Promise<string>;
  stop(): Promise<void>;
}

export function startLoadChild(): LoadChild {
  const child: ChildProcess = fork(fileURLToPath(import.meta.url), ['child'], {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
  const ask = (command: Command): Promise<Reply> =>
    new Promise((resolve, reject) => {
      const onMessage = (msg: Reply): void => {
        child.off('exit', onExit);
        child.off('message', onMessage);
        if (msg.type === 'error') reject(new Error(`load child: ${msg.message}`));
        else resolve(msg);
      };
      const onExit = (code: number | null): void => reject(new Error(`load child exited (${code})`));
      child.on('message', onMessage);
      child.once('exit', onExit);
      child.send(command);
    });
  return {
    pid: child.pid ?? 0,
    run: async (spec) => ((await ask({ cmd: 'run', spec })) as Extract<Reply, { type: 'result' }>).result,
    serve: async () => ((await ask({ cmd: 'serve' })) as Extract<Reply, { type: 'serving' }>).url,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

const nowMs = (): number => performance.now();

function nearestRank(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length))) - 1]!;
}

/** Answers after the last request's response (or its 10 s timeout). */
async function runLoad(spec: LoadSpec): Promise<LoadResult> {
  const agent = new Agent({ keepAlive: true, maxSockets: 1024 });
  const target = new URL(spec.url);
  const offered = Math.max(1, Math.round((spec.rate * spec.durationMs) / 1000));
  const latencies: number[] = [];
  const statuses: Record<string, number> = {};
  let ok = 0;
  let errors = 0;
  let done = 0;
  let maxSendLag = 0;
  const bodyLength = String(Buffer.byteLength(spec.body));
  const start = nowMs() + 20;
  let lastAnswer = start;
  const send = (i: number, due: number): void => {
    const req = request(
      {
        host: target.hostname,
        port: target.port,
        path: target.pathname,
        method: 'POST',
        agent,
        headers: {
          authorization: `Bearer ${spec.tokens[i % spec.tokens.length]}`,
          'content-type': 'application/json',
          'content-length': bodyLength,
        },
      },
      (res) => {
        res.resume();
        res.on('end', () => {
          const at = nowMs();
          lastAnswer = Math.max(lastAnswer, at);
          if (res.statusCode === spec.expect) {
            ok += 1;
            latencies.push(at - due);
          } else {
            const key = String(res.statusCode);
            statuses[key] = (statuses[key] ?? 0) + 1;
          }
          finish();
        });
      },
    );
    req.setTimeout(10_000, () => req.destroy(new Error('timeout')));
    req.on('error', () => {
      errors += 1;
      finish();
    });
    req.end(spec.body);
  };
  let resolveAll: () => void = () => undefined;
  const all = new Promise<void>((resolve) => (resolveAll = resolve));
  const finish = (): void => {
    done += 1;
    if (done === offered) resolveAll();
  };
  let next = 0;
  const interval = 1000 / spec.rate;
  await new Promise<void>((resolve) => {
    const tick = (): void => {
      const now = nowMs();
      while (next < offered && start + next * interval <= now) {
        const due = start + next * interval;
        maxSendLag = Math.max(maxSendLag, now - due);
        send(next, due);
        next += 1;
      }
      if (next >= offered) return resolve();
      const wait = start + next * interval - nowMs();
      // setTimeout's floor is ~1 ms; below that, yield to I/O and look again.
      if (wait > 1.5) setTimeout(tick, wait - 1);
      else setImmediate(tick);
    };
    tick();
  });
  await all;
  agent.destroy();
  latencies.sort((a, b) => a - b);
  return {
    offered,
    ok,
    statuses,
    errors,
    p50Ms: nearestRank(latencies, 50),
    p99Ms: nearestRank(latencies, 99),
    maxMs: latencies.at(-1) ?? NaN,
    elapsedMs: lastAnswer - start,
    maxSendLagMs: maxSendLag,
  };
}

async function serveHello(): Promise<string> {
  const reply = JSON.stringify({ grant_id: 'grt_hello', status: 'issued' });
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(201, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(reply) });
      res.end(reply);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/grants`;
}

if (process.argv[1] === fileURLToPath(import.meta.url) && process.argv[2] === 'child') {
  process.on('message', (msg: Command) => {
    const answer =
      msg.cmd === 'run'
        ? runLoad(msg.spec).then((result) => ({ type: 'result', result }) as const)
        : serveHello().then((url) => ({ type: 'serving', url }) as const);
    answer.then(
      (reply) => process.send?.(reply),
      (err: unknown) => process.send?.({ type: 'error', message: err instanceof Error ? err.message : String(err) }),
    );
  });
  process.once('disconnect', () => process.exit(0));
  process.once('SIGTERM', () => process.exit(0));
}
