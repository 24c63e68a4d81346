/**
 * Runs the fake Vault (test/fakes/vault) in its own process for the Vault benches, so that the
 * broker, the fake and the load generator do not share an event loop. Started with IPC: the
 * parent asks for call counts and resets them over process.send.
 *
 *   child side:  node --import tsx bench/vault_fake_child.ts   (argv[2] = latency ms)
 *   parent side: startFakeVaultChild({ latencyMs })
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { provisionVault } from '../test/fakes/vault/provision.js';
import { startFakeVault } from '../test/fakes/vault/server.js';

export interface FakeVaultChild {
  readonly url: string;
  readonly rootToken: string;
  readonly brokerTokenFile: string;
  counts(): Promise<Record<string, number>>;
  /** Epoch ms when each route was first handled since the last reset (the fake's clock: same host). */
  firstHandledAt(): Promise<Record<string, number>>;
  resetCounts(): Promise<void>;
  stop(): Promise<void>;
}

/** Engines the bench profiles read: leases shorter than every bench grant. */
export const BENCH_DB_ROLE = { readonly: { ttlSeconds: 120 } };

type Reply =
  | { type: 'ready'; url: string; rootToken: string; brokerTokenFile: string }
  | { type: 'counts'; counts: Record<string, number> }
  | { type: 'first'; first: Record<string, number> }
  | { type: 'reset' };

export async function startFakeVaultChild(options: { latencyMs: number }): Promise<FakeVaultChild> {
  const child: ChildProcess = fork(fileURLToPath(import.meta.url), [String(options.latencyMs)], {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
  const next = (type: Reply['type']): Promise<Reply> =>
    new Promise((resolve, reject) => {
      const onMessage = (msg: Reply): void => {
        if (msg.type !== type) return;
        child.off('message', onMessage);
        child.off('exit', onExit);
        resolve(msg);
      };
      const onExit = (code: number | null): void => reject(new Error(`fake vault child exited (${code})`));
      child.on('message', onMessage);
      child.once('exit', onExit);
    });
  const ready = (await next('ready')) as Extract<Reply, { type: 'ready' }>;
  return {
    url: ready.url,
    rootToken: ready.rootToken,
    brokerTokenFile: ready.brokerTokenFile,
    async counts() {
      const reply = next('counts');
      child.send({ cmd: 'counts' });
      return ((await reply) as Extract<Reply, { type: 'counts' }>).counts;
    },
    async firstHandledAt() {
      const reply = next('first');
      child.send({ cmd: 'first' });
      return ((await reply) as Extract<Reply, { type: 'first' }>).first;
    },
    async resetCounts() {
      const reply = next('reset');
      child.send({ cmd: 'reset' });
      await reply;
    },
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

async function childMain(latencyMs: number): Promise<void> {
  const fake = await startFakeVault({ databaseRoles: BENCH_DB_ROLE, latencyMs });
  const { brokerTokenFile } = await provisionVault(fake.url, fake.rootToken, { brokerTtlSeconds: 86_400 });
  process.on('message', (msg: { cmd?: string }) => {
    if (msg.cmd === 'counts') process.send?.({ type: 'counts', counts: fake.counts() });
    if (msg.cmd === 'first') process.send?.({ type: 'first', first: fake.firstHandledAt() });
    if (msg.cmd === 'reset') {
      fake.resetCounts();
      process.send?.({ type: 'reset' });
    }
  });
  process.once('SIGTERM', () => {
    void fake.stop().then(() => process.exit(0));
  });
  process.once('disconnect', () => {
    void fake.stop().then(() => process.exit(0));
  });
  process.send?.({ type: 'ready', url: fake.url, rootToken: fake.rootToken, brokerTokenFile });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  childMain(Number(process.argv[2] ?? '0')).catch((err: unknown) => {
    process.stderr.write(`fake vault child: ${String(err)}\n`);
    process.exit(1);
  });
}
