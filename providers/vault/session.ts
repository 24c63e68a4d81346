/**
 * The broker's own Vault identity: a token read from a file, or one from AppRole or Kubernetes
 * login; renewed before it expires and replaced by a fresh login when it cannot be renewed or
 * Vault says it is dead.
 *
 * Timing follows Vault's own api.LifetimeWatcher: renew at 2/3 of the remaining TTL; once a
 * renewal no longer extends the lease (it reached the auth method's max TTL), log in again at 2/3
 * of what is left instead. https://developer.hashicorp.com/vault/docs/concepts/lease#lease-durations-and-renewal
 */
import { BrokerError, providerFailed, readSecretText, type ProviderLogger, type Scheduler } from '../../src/sdk.js';
import type { VaultAuthConfig } from './config.js';
import type { VaultHttp } from './vault_http.js';
import { describeFailure, VaultCallError } from './errors.js';

export type { Scheduler } from '../../src/sdk.js';

/**
 * Real timers, unref'd so a pending renewal never keeps the process alive; for tools that build the
 * provider without the broker's scheduler.
 */
export const realScheduler: Scheduler = {
  set: (fn, delayMs) => setTimeout(fn, delayMs).unref(),
  clear: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

export interface BrokerSession {
  /** The current token, logging in first if there is none. */
  token(signal?: AbortSignal): Promise<string>;
  /** Logs in again unless someone already replaced `stale`. */
  relogin(stale: string, signal?: AbortSignal): Promise<string>;
  /** When the current token expires (ms), null if it never does, undefined if not logged in. */
  expiresAt(): number | null | undefined;
  close(): void;
}

export interface SessionDeps {
  readonly http: VaultHttp;
  readonly auth: VaultAuthConfig;
  readonly logger: ProviderLogger;
  readonly now: () => number;
  readonly scheduler: Scheduler;
  /** Refuse a token or secret_id file group or others may read (every mode but development). */
  readonly strictSecretFiles?: boolean;
}

interface Login {
  readonly token: string;
  readonly ttlSeconds: number;
  readonly renewable: boolean;
}
interface AuthBlock {
  auth?: { client_token?: unknown; lease_duration?: unknown; renewable?: unknown };
}

/** Retry delay after a failed renewal or login: soon, but not a hot loop. */
const RETRY_MS = { min: 1000, max: 30_000 };

export function createBrokerSession(deps: SessionDeps): BrokerSession {
  const { http, auth, logger, scheduler } = deps;
  let current: { token: string; expiresAt: number | null; ttlSeconds: number } | undefined;
  let inflight: Promise<string> | undefined;
  let timer: unknown;
  let closed = false;

  // The Kubernetes service-account token is not held to owner-only permissions: its projected
  // file is 0644 by default and the broker does not own it.
  const secret = (file: string, setting: string, strict: boolean): Promise<string> =>
    readSecretText(file, { setting, strictPermissions: strict && (deps.strictSecretFiles ?? false) });
  const login = async (signal?: AbortSignal): Promise<Login> => {
    const opts = signal ? { signal } : {};
    if (auth.method === 'token') {
      const token = await secret(auth.tokenFile, 'providers.vault.auth.tokenFile', true);
      const res = await http.send<{ data?: { ttl?: unknown; renewable?: unknown } }>({
        op: 'lookup-self',
        method: 'GET',
        path: 'auth/token/lookup-self',
        token,
        ...opts,
      });
      return { token, ttlSeconds: num(res?.data?.ttl), renewable: res?.data?.renewable === true };
    }
    const body =
      auth.method === 'approle'
        ? { role_id: auth.roleId, secret_id: await secret(auth.secretIdFile, 'providers.vault.auth.secretIdFile', true) }
        : { role: auth.role, jwt: await secret(auth.jwtFile, 'providers.vault.auth.jwtFile', false) };
    const res = await http.send<AuthBlock>({ op: `${auth.method}-login`, method: 'POST', path: `auth/${auth.mount}/login`, body, ...opts });
    const fresh = fromAuth(res, `${auth.method}-login`);
    // A 403 is later told apart from a dead token by lookup-self (client.ts). A token that may
    // not call lookup-self at all would make every policy refusal look like a dead token, and
    // each one would cost a login (and an AppRole secret_id use): refuse such a token now.
    try {
      await http.send({ op: 'lookup-self', method: 'GET', path: 'auth/token/lookup-self', token: fresh.token, ...opts });
    } catch (err) {
      if (err instanceof VaultCallError && err.is(403)) {
        throw providerFailed(
          `vault: the token from ${auth.method} login may not call auth/token/lookup-self; give the broker's role the default policy (or that path)`,
        );
      }
      throw err;
    }
    return fresh;
  };

  const adopt = (fresh: Login): string => {
    const now = deps.now();
    current = { token: fresh.token, ttlSeconds: fresh.ttlSeconds, expiresAt: fresh.ttlSeconds > 0 ? now + fresh.ttlSeconds * 1000 : null };
    logger.info({ method: auth.method, ttlSeconds: fresh.ttlSeconds, renewable: fresh.renewable }, 'vault: broker logged in');
    schedule(fresh.ttlSeconds, fresh.renewable ? 'renew' : 'login');
    return fresh.token;
  };

  const loginOnce = (signal?: AbortSignal): Promise<string> => {
    // Concurrent callers share one login: a burst of 403s must not become a burst of logins.
    inflight ??= login(signal)
      .then(adopt)
      .finally(() => {
        inflight = undefined;
      });
    return inflight;
  };

  function schedule(ttlSeconds: number, next: 'renew' | 'login'): void {
    if (timer !== undefined) scheduler.clear(timer);
    timer = undefined;
    if (closed || ttlSeconds <= 0) return; // a token without expiry needs no care
    timer = scheduler.set(
      () => {
        timer = undefined;
        void (next === 'renew' ? renew() : refresh());
      },
      (ttlSeconds * 1000 * 2) / 3,
    );
  }

  const retryLater = (what: string, err: unknown, next: 'renew' | 'login'): void => {
    const remaining = current?.expiresAt == null ? RETRY_MS.max : current.expiresAt - deps.now();
    const delay = Math.min(RETRY_MS.max, Math.max(RETRY_MS.min, remaining / 3));
    logger.warn({ method: auth.method, failure: failureOf(err), retryInMs: Math.round(delay) }, `vault: ${what} failed; retrying`);
    if (timer !== undefined) scheduler.clear(timer);
    if (!closed)
      timer = scheduler.set(() => {
        timer = undefined;
        void (next === 'renew' ? renew() : refresh());
      }, delay);
  };

  async function renew(): Promise<void> {
    const held = current;
    if (!held || closed) return;
    try {
      const res = await http.send<AuthBlock>({
        op: 'renew-self',
        method: 'POST',
        path: 'auth/token/renew-self',
        body: {},
        token: held.token,
      });
      const renewed = fromAuth(res, 'renew-self');
      // A login that finished meanwhile holds the newer token and its own schedule: keep it.
      if (current !== held || closed) return;
      current = { token: held.token, ttlSeconds: renewed.ttlSeconds, expiresAt: deps.now() + renewed.ttlSeconds * 1000 };
      // A renewal that no longer extends the lease has hit the max TTL: plan a fresh login instead.
      const extending = renewed.renewable && renewed.ttlSeconds * 3 >= held.ttlSeconds * 2;
      logger.debug({ ttlSeconds: renewed.ttlSeconds, extending }, 'vault: broker token renewed');
      schedule(renewed.ttlSeconds, extending ? 'renew' : 'login');
    } catch (err) {
      if (current !== held || closed) return;
      if (err instanceof VaultCallError && err.is(403)) return refresh();
      retryLater('token renewal', err, 'renew');
    }
  }

  async function refresh(): Promise<void> {
    if (closed) return;
    try {
      await loginOnce();
    } catch (err) {
      retryLater('login', err, 'login');
    }
  }

  return {
    async token(signal) {
      if (current && (current.expiresAt === null || current.expiresAt > deps.now())) return current.token;
      return loginOnce(signal);
    },
    async relogin(stale, signal) {
      if (current && current.token !== stale) return current.token;
      current = undefined;
      return loginOnce(signal);
    },
    expiresAt: () => (current ? current.expiresAt : undefined),
    close() {
      closed = true;
      if (timer !== undefined) scheduler.clear(timer);
      timer = undefined;
    },
  };
}

function fromAuth(res: AuthBlock | undefined, op: string): Login {
  const token = res?.auth?.client_token;
  if (typeof token !== 'string' || token.length === 0)
    throw new VaultCallError(op, { kind: 'http', status: 502, errors: ['no auth.client_token in the answer'] });
  return { token, ttlSeconds: num(res?.auth?.lease_duration), renewable: res?.auth?.renewable === true };
}

const num = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) && v > 0 ? Math.floor(v) : 0);

function failureOf(err: unknown): string {
  if (err instanceof VaultCallError) return describeFailure(err.failure);
  return err instanceof BrokerError ? err.code : 'unknown';
}
