/**
 * A private Redis Cluster for a test: three primaries on free 127.0.0.1 ports, the 16 384 slots
 * split between them, optionally a replica of the first, joined with CLUSTER MEET (what
 * `redis-cli --cluster create` does). Keys then live on different nodes, so a client must follow
 * MOVED redirections and a script that touched a key outside its slot would fail. A short
 * cluster-node-timeout lets a test fail a primary over in a second or two.
 */
import { Redis } from 'ioredis';
import { pollUntil, startRedisServer, type RedisServer } from './redis_server.js';

const SLOTS = 16_384;
const NODE_TIMEOUT_MS = 1_000;

export interface RedisCluster {
  /** `redis://127.0.0.1:<port of the first primary>`: one node to learn the cluster from. */
  readonly url: string;
  readonly primaries: readonly RedisServer[];
  /** The replica of primaries[0], when asked for. */
  readonly replica: RedisServer | undefined;
  /** A plain client of one node (CLUSTER commands, INFO), one per node, closed by stop(). */
  admin(server: RedisServer): Redis;
  stop(): Promise<void>;
}

export async function startRedisCluster(
  options: { readonly appendOnly?: boolean; readonly replica?: boolean } = {},
): Promise<RedisCluster> {
  const start = (): Promise<RedisServer> =>
    startRedisServer({ cluster: 'node', clusterNodeTimeoutMs: NODE_TIMEOUT_MS, appendOnly: options.appendOnly ?? false });
  const servers = await Promise.all([start(), start(), start(), ...(options.replica ? [start()] : [])]);
  const clients = new Map<number, Redis>();
  const admin = (server: RedisServer): Redis => {
    let client = clients.get(server.port);
    if (!client) {
      client = new Redis({ host: '127.0.0.1', port: server.port, maxRetriesPerRequest: 1 });
      client.on('error', () => undefined);
      clients.set(server.port, client);
    }
    return client;
  };
  const stop = async (): Promise<void> => {
    for (const c of clients.values()) c.disconnect();
    await Promise.all(servers.map((s) => s.stop()));
  };
  try {
    const primaries = servers.slice(0, 3);
    const [first] = servers.map(admin);
    await Promise.all(
      primaries.map((server, i) => {
        const from = Math.floor((SLOTS * i) / 3);
        const to = Math.floor((SLOTS * (i + 1)) / 3) - 1;
        return admin(server).call('CLUSTER', 'ADDSLOTSRANGE', String(from), String(to));
      }),
    );
    for (const server of servers.slice(1)) await first!.call('CLUSTER', 'MEET', '127.0.0.1', String(server.port));
    const known = async (server: RedisServer): Promise<boolean> => {
      const info = String(await admin(server).call('CLUSTER', 'INFO'));
      return info.includes('cluster_state:ok') && info.includes(`cluster_known_nodes:${servers.length}`);
    };
    await pollUntil(async () => (await Promise.all(servers.map(known))).every(Boolean), 'the cluster to agree on its nodes', 20_000);
    const replica = options.replica ? servers[3] : undefined;
    if (replica) {
      const primaryId = String(await admin(primaries[0]!).call('CLUSTER', 'MYID'));
      await admin(replica).call('CLUSTER', 'REPLICATE', primaryId);
      await pollUntil(async () => /master_link_status:up/u.test(await admin(replica).info('replication')), 'the replica to sync', 20_000);
    }
    return { url: primaries[0]!.url, primaries, replica, admin, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
