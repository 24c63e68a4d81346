/**
 * A production-mode config for tests that need one: Redis store, no development issuer, the jwt
 * provider with a provisioned key file. Tokens still come from keys in a temp dir (the same files
 * the dev issuer writes), trusted as plain key files, so tests can mint agents and operators.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { exportJWK, generateKeyPair } from 'jose';
import { stringify } from 'yaml';
import { parseConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';
import { generateCheckpointJwk } from '../../src/audit/checkpoints.js';
import { ensureDevKeys } from '../../src/identity/dev_issuer.js';
import { testConfigObject } from './test_config.js';

export interface ProductionConfigOptions {
  readonly keyDir: string;
  readonly redisUrl: string;
  readonly keyPrefix: string;
  /** Extra `store` keys (allowVolatile, integrityCheckSeconds). */
  readonly store?: Record<string, unknown>;
}

export async function productionConfig(options: ProductionConfigOptions): Promise<{ config: Config; yaml: string }> {
  await ensureDevKeys(options.keyDir);
  const signingKeyFile = join(options.keyDir, 'jwt-signing-key.json');
  if (!existsSync(signingKeyFile)) {
    const { privateKey } = await generateKeyPair('ES256', { extractable: true });
    const { kty, crv, x, y, d } = await exportJWK(privateKey);
    writeFileSync(signingKeyFile, JSON.stringify({ kty, crv, x, y, d }), { mode: 0o600, flag: 'wx' });
  }
  const fingerprintKeyFile = join(options.keyDir, 'fingerprint-key');
  if (!existsSync(fingerprintKeyFile)) writeFileSync(fingerprintKeyFile, randomBytes(32), { mode: 0o600, flag: 'wx' });
  const checkpointKeyFile = join(options.keyDir, 'audit-checkpoint.jwk');
  if (!existsSync(checkpointKeyFile)) writeFileSync(checkpointKeyFile, generateCheckpointJwk(), { mode: 0o600, flag: 'wx' });
  const base = testConfigObject({ keyDir: options.keyDir, logLevel: 'info' });
  delete base.devIssuer;
  const obj = {
    ...base,
    mode: 'production',
    identity: { ...(base.identity as object), fingerprintKeyFile },
    store: { kind: 'redis', url: options.redisUrl, keyPrefix: options.keyPrefix, ...options.store },
    providers: { jwt: { issuer: 'https://quartermaster.test', signingKeyFile } },
    audit: { chain: { keyFile: checkpointKeyFile } },
  };
  const yaml = stringify(obj);
  return { config: parseConfig(yaml, 'production-test'), yaml };
}
