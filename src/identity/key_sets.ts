/**
 * One verification key set per configured issuer (SECURITY.md §1 "Keys", STYLE.md #12): keys come
 * only from the configured file or URL, never from a token (`jku`, `x5u`, `jwk`), and a token is
 * verified only with its own issuer's set, never with the union of all keys.
 *
 * - `{ file }`: read at boot; an unknown `kid` re-reads the file at most once per cooldown, so a
 *   rotated file is picked up without a restart, and a bad rewrite keeps the last good set.
 * - `{ url }`: jose's remote set (refetch on unknown `kid` after a cooldown, no redirects:
 *   jose fetches with `redirect: 'manual'` and wants a 200) with a timeout and a size cap.
 *
 * Private and symmetric keys are refused: a JWKS that carries them is a leaked secret, and an
 * `oct` key would let anyone holding the "public" set mint tokens (RFC 8725 §3.1, alg confusion).
 */
import { readFile } from 'node:fs/promises';
import {
  createLocalJWKSet,
  createRemoteJWKSet,
  customFetch,
  type FetchImplementation,
  type FlattenedJWSInput,
  type JSONWebKeySet,
  type JWSHeaderParameters,
  type CryptoKey,
} from 'jose';
import type { JwksSource } from '../config/schema.js';
import { describeCause } from '../errors.js';
import type { Logger } from '../logging.js';

/** Minimum time between two re-reads of a key file prompted by unknown `kid`s (jose's remote default). */
export const FILE_RELOAD_COOLDOWN_MS = 30_000;

/** JWK members that only private or symmetric keys carry (RFC 7518 §6.2.2, §6.3.2, §6.4; AKP `priv`). */
const SECRET_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k', 'priv'] as const;

export interface KeySet {
  /** jose key resolver: picks the key by the header's `alg` and `kid`. */
  resolve(header: JWSHeaderParameters, token: FlattenedJWSInput): Promise<CryptoKey>;
  /** Where the keys come from, for logs. */
  readonly source: string;
}

export interface KeySetDeps {
  readonly logger: Logger;
  readonly now: () => number;
  /** Config path of the source, for boot errors and logs (`identity.agents[dev].jwks`). */
  readonly label: string;
}

export class KeySetError extends Error {
  override readonly name = 'KeySetError';
}

export async function createKeySet(source: JwksSource, deps: KeySetDeps): Promise<KeySet> {
  return 'file' in source ? createFileKeySet(source.file, deps) : createUrlKeySet(source, deps);
}

/** Checks a parsed JWKS document: an object with a `keys` array of public, asymmetric keys. */
export function checkPublicJwks(value: unknown, where: string): JSONWebKeySet {
  if (!isPlainObject(value) || !Array.isArray(value.keys)) {
    throw new KeySetError(`${where}: not a JSON Web Key Set (an object with a "keys" array)`);
  }
  value.keys.forEach((key: unknown, i: number) => {
    if (!isPlainObject(key) || typeof key.kty !== 'string') throw new KeySetError(`${where}: keys[${i}] is not a JWK`);
    if (key.kty === 'oct') throw new KeySetError(`${where}: keys[${i}] is a symmetric (kty "oct") key; only public keys are accepted`);
    const secret = SECRET_MEMBERS.find((m) => Object.hasOwn(key, m));
    if (secret !== undefined) throw new KeySetError(`${where}: keys[${i}] is a private key (member "${secret}"); publish only public keys`);
  });
  return value as unknown as JSONWebKeySet;
}

async function readJwksFile(file: string, where: string): Promise<JSONWebKeySet> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new KeySetError(`${where}: cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? 'unknown error'}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new KeySetError(`${where}: ${file} is not valid JSON`);
  }
  return checkPublicJwks(parsed, `${where} (${file})`);
}

async function createFileKeySet(file: string, deps: KeySetDeps): Promise<KeySet> {
  // Read at boot: a missing or bad file is a config error now, not a 401 storm later.
  let local = createLocalJWKSet(await readJwksFile(file, deps.label));
  let lastReadAt = deps.now();
  let pending: Promise<void> | null = null;

  /** Re-reads the file unless one read is in flight or the cooldown has not passed. */
  const reload = async (): Promise<boolean> => {
    if (pending) {
      await pending;
      return true;
    }
    if (deps.now() - lastReadAt < FILE_RELOAD_COOLDOWN_MS) return false;
    lastReadAt = deps.now();
    const current = (async () => {
      try {
        local = createLocalJWKSet(await readJwksFile(file, deps.label));
        deps.logger.info({ jwks: deps.label }, 'key file re-read after an unknown kid');
      } catch (err) {
        // Keep the last good set: a half-written or broken rotation must not lock everyone out.
        deps.logger.warn({ jwks: deps.label, err: describeCause(err) }, 'key file re-read failed; keeping the previous keys');
      }
    })();
    pending = current;
    try {
      await current;
    } finally {
      if (pending === current) pending = null;
    }
    return true;
  };

  return {
    source: `file:${file}`,
    async resolve(header, token) {
      try {
        return await local(header, token);
      } catch (err) {
        if (!isNoMatchingKey(err) || !(await reload())) throw err;
        return local(header, token);
      }
    },
  };
}

function createUrlKeySet(source: Extract<JwksSource, { url: string }>, deps: KeySetDeps): KeySet {
  const remote = createRemoteJWKSet(new URL(source.url), {
    timeoutDuration: source.timeoutMs,
    cooldownDuration: source.cooldownSeconds * 1000,
    [customFetch]: boundedFetch(source.maxBytes, deps.label),
  });
  return {
    source: `url:${source.url}`,
    resolve: (header, token) => remote(header, token),
  };
}

/**
 * A fetch for jose's remote set that caps the body size (jose reads any size) and refuses
 * private or symmetric keys before jose sees the set. jose calls it only with the configured
 * URL and `redirect: 'manual'`; the abort signal (timeout) also covers reading the body.
 */
function boundedFetch(maxBytes: number, where: string): FetchImplementation {
  return async (url, init) => {
    const response = await fetch(url, init);
    if (response.status !== 200) {
      await response.body?.cancel();
      // jose turns any non-200 into "Expected 200 OK"; keep the status for its error path.
      return new Response(null, { status: response.status });
    }
    const declared = Number(response.headers.get('content-length') ?? '0');
    if (declared > maxBytes) {
      await response.body?.cancel();
      throw new KeySetError(`${where}: JWKS response of ${declared} bytes exceeds maxBytes ${maxBytes}`);
    }
    const text = await readCapped(response, maxBytes, where);
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      throw new KeySetError(`${where}: JWKS response is not valid JSON`);
    }
    checkPublicJwks(parsed, where);
    return new Response(text, { status: 200, headers: { 'content-type': 'application/json' } });
  };
}

async function readCapped(response: Response, maxBytes: number, where: string): Promise<string> {
  if (!response.body) return '';
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > maxBytes) {
      await reader.cancel();
      throw new KeySetError(`${where}: JWKS response exceeds maxBytes ${maxBytes}`);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function isNoMatchingKey(err: unknown): boolean {
  return err instanceof Error && (err as { code?: unknown }).code === 'ERR_JWKS_NO_MATCHING_KEY';
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
