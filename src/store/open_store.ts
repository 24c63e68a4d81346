/**
 * Opens the store the config names (the broker, the CLI's store commands and the benches open it
 * the same way). The Redis password comes from its file, read here once.
 */
import type { Config } from '../config/schema.js';
import { readSecretText } from '../secret_files.js';
import { createMemoryStore } from './memory_store.js';
import type { StoreLogger } from './redis_connection.js';
import { createRedisStore } from './redis_store.js';
import type { Store } from './store.js';

export async function openStore(config: Config, logger: StoreLogger): Promise<Store> {
  if (config.store.kind === 'memory') return createMemoryStore();
  const strictPermissions = config.mode !== 'development';
  const { passwordFile, sentinelPasswordFile, sentinels } = config.store;
  const password = passwordFile ? await readSecretText(passwordFile, { setting: 'store.passwordFile', strictPermissions }) : undefined;
  const sentinelPassword = sentinelPasswordFile
    ? await readSecretText(sentinelPasswordFile, { setting: 'store.sentinelPasswordFile', strictPermissions })
    : undefined;
  return createRedisStore({
    url: config.store.url,
    keyPrefix: config.store.keyPrefix,
    logger,
    ...(password ? { password } : {}),
    ...(sentinels ? { sentinels } : {}),
    ...(sentinelPassword ? { sentinelPassword } : {}),
    ...(config.store.cluster ? { cluster: true } : {}),
  });
}
