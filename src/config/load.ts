/**
 * Loads and validates the config file. Errors name the path of every problem
 * (`profiles.demo.maxTtl: Invalid input…`) and nothing is read from process.env here: main.ts
 * resolves which file to load.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseDocument } from 'yaml';
import type { z } from 'zod';
import { BrokerError } from '../errors.js';
import { configSchema, type Config } from './schema.js';

/** This package's root directory (the one with package.json and config/default.yaml); works from src/ and dist/src/. */
export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'config', 'default.yaml')) && existsSync(join(dir, 'package.json'))) return dir;
    const parent = dirname(dir);
    if (parent === dir) throw new ConfigError(['embedded default config/default.yaml not found'], 'config/default.yaml');
    dir = parent;
  }
}

/** The embedded development default shipped with the broker. */
export function defaultConfigPath(): string {
  return join(packageRoot(), 'config', 'default.yaml');
}

export class ConfigError extends BrokerError {
  constructor(
    readonly problems: readonly string[],
    file: string,
  ) {
    super('ERR_CONFIG', 500, `invalid config ${file}:\n  ${problems.join('\n  ')}`);
  }
}

export function loadConfigFile(file: string): Config {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError([`cannot read file: ${(err as NodeJS.ErrnoException).code ?? 'unknown error'}`], file);
  }
  return parseConfig(text, file);
}

export function parseConfig(text: string, file = '<inline>'): Config {
  const doc = parseDocument(text, { uniqueKeys: true, prettyErrors: false });
  if (doc.errors.length > 0) {
    throw new ConfigError(
      doc.errors.map((e) => `YAML: ${e.code} at line ${e.linePos?.[0]?.line ?? '?'}`),
      file,
    );
  }
  const result = configSchema.safeParse(doc.toJS({ maxAliasCount: 50 }));
  if (!result.success) throw new ConfigError(formatIssues(result.error.issues), file);
  return deepFreeze(result.data);
}

export function formatIssues(issues: readonly z.core.$ZodIssue[], prefix: readonly PropertyKey[] = []): string[] {
  return issues.map((i) => {
    const path = [...prefix, ...i.path].map(String).join('.');
    return `${path || '(root)'}: ${i.message}`;
  });
}

export function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}
