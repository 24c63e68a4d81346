/**
 * AWS STS: one AssumeRole session per grant, tagged with its incident, grant and agent, ended by
 * Deny statements on the role (README.md beside this file; provider.ts). The AWS SDK is loaded
 * only when a broker configures this provider.
 */
import type { ProviderFactory } from '../../src/sdk.js';
import { awsStsConfigSchema, awsStsProfileParamsSchema, type AwsStsConfig, type AwsStsProfileParams } from './config.js';

export const awsStsProvider = {
  name: 'aws_sts' as const,
  configSchema: awsStsConfigSchema,
  profileParamsSchema: awsStsProfileParamsSchema,
  create: async (config: AwsStsConfig, deps) => (await import('./provider.js')).createAwsStsProvider(config, deps),
} satisfies ProviderFactory<AwsStsConfig, AwsStsProfileParams>;
