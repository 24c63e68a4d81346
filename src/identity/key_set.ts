/**
 * One issuer's (or trust domain's) verification keys, kept current (docs/security.md §1 "Keys"):
 *
 * - a refresh is due every interval (the configured `refreshSeconds`, or a shorter SPIFFE
 *   `spiffe_refresh_hint`, floored at the cooldown); it runs in the background on the first
 *   verification after it is due, so requests keep the current keys meanwhile and no timer runs;
 * - an unknown `kid` waits for a refetch, at most once per cooldown (an attacker cycling kids
 *   cannot turn each request into a fetch);
 * - a failed refresh keeps the last good keys, for at most `maxStalenessSeconds` after the last
 *   success; past that — or before the first success — the set fails closed with 503
 *   ERR_IDENTITY_UNAVAILABLE;
 * - a refresh replaces the whole set: a key removed at the source stops verifying at once.
 *   A key that is unchanged keeps its entry object, so verified-token cache entries made with
 *   it stay valid; a replaced or removed key invalidates them (token_cache.ts).
 *
 * All times come from the injected clock, so tests drive staleness and cooldowns without sleeping.
 */
import { describeCause } from '../errors.js';
import type { Logger } from '../logging.js';
import type { KeyDocument, VerificationKey } from './jwk_document.js';
import { identityUnavailable } from './token_errors.js';

export interface RefreshPolicy {
  readonly refreshMs: number;
  readonly cooldownMs: number;
  readonly maxStalenessMs: number;
}

export interface KeySet {
  /** Config path of the source, for logs and errors (`identity.agents.spiffe[prod.example].bundle`). */
  readonly label: string;
  /** The key for `kid` if the set is usable now, without waiting (cache revalidation). */
  peek(kid: string): VerificationKey | undefined;
  /**
   * The key for `kid`, waiting for a refetch when it is unknown or the set is stale (cooldown
   * permitting). Undefined: the kid is not in a current set. Throws 503 when no current set can be had.
   */
  keyFor(kid: string): Promise<VerificationKey | undefined>;
  /** The first load; rejects with the load error if it failed. */
  readonly loaded: Promise<void>;
}

export interface KeySetDeps {
  readonly logger: Logger;
  readonly now: () => number;
  /** Told the outcome of every refresh (metrics); the label is the key set's config-derived name. */
  readonly onKeySetRefresh?: (keySet: string, outcome: 'ok' | 'failed') => void;
}

export function createKeySet(label: string, load: () => Promise<KeyDocument>, policy: RefreshPolicy, deps: KeySetDeps): KeySet {
  let keys: ReadonlyMap<string, VerificationKey> | null = null;
  let lastSuccessAt = -Infinity;
  let lastAttemptAt = -Infinity;
  let lastError: unknown = null;
  let nextRefreshAt = -Infinity;
  let inflight: Promise<void> | null = null;
  const log = deps.logger.child({ keySet: label });

  const usable = (now: number): boolean => keys !== null && now - lastSuccessAt <= policy.maxStalenessMs;

  const refresh = (): Promise<void> => {
    inflight ??= (async () => {
      // Times count from when the fetch started: the keys are at least that fresh, and the next
      // refresh is scheduled from the request, whatever the fetch's own duration.
      const startedAt = deps.now();
      lastAttemptAt = startedAt;
      try {
        const doc = await load();
        const previous = keys;
        keys = keepUnchanged(previous, doc.keys);
        lastSuccessAt = startedAt;
        lastError = null;
        const hintMs = doc.refreshHintSeconds === undefined ? Infinity : doc.refreshHintSeconds * 1000;
        nextRefreshAt = lastSuccessAt + Math.max(policy.cooldownMs, Math.min(policy.refreshMs, hintMs));
        deps.onKeySetRefresh?.(label, 'ok');
        if (!sameKids(previous, keys)) {
          log.info(
            { kids: [...keys.keys()], ignored: doc.ignored, sequence: doc.sequence, refreshHintSeconds: doc.refreshHintSeconds },
            keys.size === 0 ? 'key set loaded; it is empty and trusts nothing' : 'key set loaded',
          );
        }
      } catch (err) {
        lastError = err;
        nextRefreshAt = deps.now() + policy.cooldownMs;
        const staleForMs = keys === null ? null : deps.now() - lastSuccessAt;
        log.warn({ err: describeCause(err), keptLastGood: keys !== null && usable(deps.now()), staleForMs }, 'key set refresh failed');
        deps.onKeySetRefresh?.(label, 'failed');
      } finally {
        inflight = null;
      }
    })();
    return inflight;
  };

  /** Starts a due refresh without waiting for it. */
  const refreshIfDue = (now: number): void => {
    if (now >= nextRefreshAt && inflight === null) void refresh();
  };

  /** Waits for the refresh in flight, or starts one if the cooldown allows; false if neither. */
  const awaitRefresh = async (): Promise<boolean> => {
    if (inflight !== null) await inflight;
    else if (deps.now() - lastAttemptAt >= policy.cooldownMs) await refresh();
    else return false;
    return true;
  };

  const unavailable = (why: string) =>
    identityUnavailable(`${label}: ${why}${lastError === null ? '' : `; last error: ${describeCause(lastError)}`}`);

  const loaded = refresh().then(() => {
    if (lastError !== null) throw lastError;
  });
  // The verifier decides whether a failed first load is fatal; never an unhandled rejection.
  loaded.catch(() => undefined);

  return {
    label,
    loaded,
    peek(kid) {
      const now = deps.now();
      refreshIfDue(now);
      return usable(now) ? keys?.get(kid) : undefined;
    },
    async keyFor(kid) {
      refreshIfDue(deps.now());
      if (!usable(deps.now())) {
        await awaitRefresh();
        if (!usable(deps.now()))
          throw unavailable(
            keys === null ? 'no keys loaded yet' : `keys are older than maxStalenessSeconds (${policy.maxStalenessMs / 1000})`,
          );
      }
      const known = keys?.get(kid);
      if (known) return known;
      // Unknown kid: perhaps a rotation we have not seen yet.
      const refetched = await awaitRefresh();
      if (!usable(deps.now())) throw unavailable('keys went stale while refetching');
      const found = keys?.get(kid);
      if (found) return found;
      // The issuer may have rotated to this kid while we cannot reach it: retry later, not 401.
      if (lastError !== null)
        throw unavailable(`kid not in the last good keys and the last refresh failed${refetched ? '' : ' (cooldown)'}`);
      return undefined;
    },
  };
}

/** The new set, with each key that did not change keeping its previous entry object. */
function keepUnchanged(
  previous: ReadonlyMap<string, VerificationKey> | null,
  next: ReadonlyMap<string, VerificationKey>,
): ReadonlyMap<string, VerificationKey> {
  if (!previous) return next;
  const merged = new Map<string, VerificationKey>();
  for (const [kid, key] of next) {
    const old = previous.get(kid);
    merged.set(kid, old && old.thumbprint === key.thumbprint ? old : key);
  }
  return merged;
}

function sameKids(a: ReadonlyMap<string, VerificationKey> | null, b: ReadonlyMap<string, VerificationKey>): boolean {
  if (!a || a.size !== b.size) return false;
  for (const [kid, key] of b) if (a.get(kid) !== key) return false;
  return true;
}
