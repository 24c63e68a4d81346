/**
 * The explicit list of built-in providers (CONTRIBUTING.md #2, like spire's `BuiltIns()`): adding a
 * provider means adding it here, never registering it as an import side effect. The catalog
 * (src/catalog/) builds the configured ones from this list and validates their config sections.
 */
import { BrokerError, type ProviderFactory } from '../src/sdk.js';
import { jwtProvider } from './jwt/index.js';
import { vaultProvider } from './vault/index.js';

export const builtInProviders = [jwtProvider, vaultProvider] as const;

/** Union of the built-in factories, each with its own config and params types. */
export type BuiltInProvider = (typeof builtInProviders)[number];
export type BuiltInProviderName = BuiltInProvider['name'];

/** Provider names are config keys (`providers.<name>`, `profiles.*.provider`): they must be unique. */
export function assertUniqueProviderNames(list: readonly Pick<ProviderFactory<unknown, unknown>, 'name'>[]): void {
  const seen = new Set<string>();
  for (const { name } of list) {
    if (seen.has(name)) throw new BrokerError('ERR_CONFIG', 500, `built-in provider ${name} is registered twice (providers/index.ts)`);
    seen.add(name);
  }
}

export function providerFactoryByName(name: string): BuiltInProvider | undefined {
  return builtInProviders.find((f) => f.name === name);
}

// Fail at boot, not at the first request that reaches the shadowed provider.
assertUniqueProviderNames(builtInProviders);
