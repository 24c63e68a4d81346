import { startRedisServer } from '../support/redis_server.js';
import { describeLifecycle } from './lifecycle.js';

let redis: Awaited<ReturnType<typeof startRedisServer>> | undefined;

describeLifecycle(
  'redis',
  async () => {
    redis = await startRedisServer();
    return { kind: 'redis', url: redis.url, keyPrefix: 'qm-e2e:' };
  },
  async () => redis?.stop(),
);
