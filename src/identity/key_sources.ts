/**
 * Builds the key set of one configured source: a file, a SPIFFE bundle endpoint, an explicit
 * `jwks_uri`, or OIDC Discovery. Keys come only from these configured places, never from a token
 * (`iss`, `jku`, `x5u`; CONTRIBUTING.md #12). A file is re-read like a remote set is refetched, so a
 * rotated or trimmed file takes effect without a restart.
 */
import { readFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import type { OidcKeySource, SpiffeBundleSource } from '../config/identity_schema.js';
import { fetchBounded, type FetchLimits } from './bounded_fetch.js';
import { parseKeyDocument, type KeyDocument, type KeyDocumentFormat } from './jwk_document.js';
import { createKeySet, type KeySet, type KeySetDeps, type RefreshPolicy } from './key_set.js';
import { discoverJwksUri } from './oidc_discovery.js';

type Source = SpiffeBundleSource | OidcKeySource;

export function createSpiffeBundleKeySet(source: SpiffeBundleSource, label: string, deps: KeySetDeps): KeySet {
  return createKeySet(label, loaderFor(source, 'spiffe-bundle', '', label, deps), policyOf(source), deps);
}

export function createOidcKeySet(source: OidcKeySource, issuer: string, label: string, deps: KeySetDeps): KeySet {
  return createKeySet(label, loaderFor(source, 'jwks', issuer, label, deps), policyOf(source), deps);
}

/** Whether the source is a local file: a file that cannot be read at boot is a config error. */
export function isFileSource(source: Source): boolean {
  return 'file' in source;
}

function policyOf(source: Source): RefreshPolicy {
  return {
    refreshMs: source.refreshSeconds * 1000,
    cooldownMs: source.cooldownSeconds * 1000,
    maxStalenessMs: source.maxStalenessSeconds * 1000,
  };
}

function loaderFor(source: Source, format: KeyDocumentFormat, issuer: string, label: string, deps: KeySetDeps): () => Promise<KeyDocument> {
  if ('file' in source) {
    return async () => {
      let text: string;
      try {
        text = await readFile(source.file, 'utf8');
      } catch (err) {
        throw new Error(`cannot read ${source.file}: ${(err as NodeJS.ErrnoException).code ?? 'unknown error'}`, { cause: err });
      }
      return parseKeyDocument(text, format, `${label} (${source.file})`);
    };
  }
  const limits: FetchLimits = {
    timeoutMs: source.timeoutMs,
    maxBytes: source.maxBytes,
    // Read once at boot, like every other file the config names.
    ...(source.caFile === undefined ? {} : { ca: readFileSync(source.caFile, 'utf8') }),
  };
  if ('endpoint' in source) return async () => parseKeyDocument(await fetchBounded(source.endpoint, limits), format, label);
  if ('jwksUri' in source) return async () => parseKeyDocument(await fetchBounded(source.jwksUri, limits), format, label);
  // Discovery: once at boot, and again only after a key fetch failed (the jwks_uri may have moved).
  let jwksUri: string | null = null;
  return async () => {
    if (jwksUri === null) {
      jwksUri = await discoverJwksUri(issuer, limits);
      deps.logger.info({ keySet: label, jwksUri }, 'discovered jwks_uri');
    }
    try {
      return parseKeyDocument(await fetchBounded(jwksUri, limits), format, label);
    } catch (err) {
      jwksUri = null;
      throw err;
    }
  };
}
