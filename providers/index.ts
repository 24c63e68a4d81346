/**
 * The explicit list of built-in providers (CONTRIBUTING.md #2, like spire's `BuiltIns()`): adding a
 * provider means adding it here, never registering it as an import side effect. The catalog
 * (src/catalog/) builds the configured ones from this list, refuses a name listed twice and
 * validates their config sections.
 */
import { awsStsProvider } from './aws_sts/index.js';
import { jwtProvider } from './jwt/index.js';
import { vaultProvider } from './vault/index.js';

export const builtInProviders = [jwtProvider, vaultProvider, awsStsProvider] as const;
