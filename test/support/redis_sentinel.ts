/**
 * A private Redis Sentinel for a test: `redis-server <conf> --sentinel` on a free 127.0.0.1 port,
 * monitoring one primary by a name, with a quorum of 1 (one sentinel decides alone) so a test can
 * force a failover with SENTINEL FAILOVER and not wait for a vote. Its own temp dir holds the
 * config file, which Sentinel rewrites as it learns the topology.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';

export interface RedisSentinel {
  readonly port: number;
  /** A client of the sentinel itself (SENTINEL commands). */
  readonly admin: Redis;
  stop(): Promise<void>;
}

const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });

export async function startRedisSentinel(masterName: string, primaryPort: number): Promise<RedisSentinel> {
  const dir = await mkdtemp(join(tmpdir(), 'qm-sentinel-'));
  const port = await freePort();
  const conf = join(dir, 'sentinel.conf');
  await writeFile(
    conf,
    [
      `port ${port}`,
      'bind 127.0.0.1',
      `dir ${dir}`,
      `sentinel monitor ${masterName} 127.0.0.1 ${primaryPort} 1`,
      `sentinel down-after-milliseconds ${masterName} 1000`,
      `sentinel failover-timeout ${masterName} 5000`,
      '',
    ].join('\n'),
  );
  const child = spawn('redis-server', [conf, '--sentinel', '--loglevel', 'warning'], { stdio: 'ignore' });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  // Poll until it answers, each attempt a fresh client that does not reconnect on its own.
  for (let i = 0; ; i += 1) {
    const probe = new Redis({ host: '127.0.0.1', port, lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 });
    probe.on('error', () => undefined);
    try {
      await probe.connect();
      await probe.ping();
      break;
    } catch (err) {
      if (i > 200 || child.exitCode !== null) throw new Error(`redis sentinel did not start: ${String(err)}`, { cause: err });
      await new Promise((resolve) => setTimeout(resolve, 25));
    } finally {
      probe.disconnect();
    }
  }
  const admin = new Redis({ host: '127.0.0.1', port });
  return {
    port,
    admin,
    async stop() {
      admin.disconnect();
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
      await rm(dir, { recursive: true, force: true });
    },
  };
}
