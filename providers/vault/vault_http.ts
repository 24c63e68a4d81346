/**
 * The raw Vault transport: node-vault's generic `request` with the broker's own settings, one
 * request with an explicit token (or none). The broker's identity (session.ts) and the typed calls
 * (client.ts) sit above it; both depend on this file, and it on neither.
 *
 * Why the generic request and not node-vault's command helpers: the token-creating helpers
 * (tokenCreate, tokenCreateRole, approleLogin…) are `tokenSource` commands that overwrite the
 * client's token with the token they just created, and `revoke` drops the `sync` parameter. So
 * node-vault never stores a token here at all and X-Vault-Token is sent per request.
 *
 * node-vault reads VAULT_ADDR, VAULT_TOKEN, VAULT_NAMESPACE, VAULT_PREFIX and VAULT_SKIP_VERIFY
 * from the environment as defaults; everything here is set explicitly so none of them can change
 * what the broker talks to, which token it sends, or whether TLS is verified. The bytes move
 * through transport.ts, never through node-vault's own axios.
 */
import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import createNodeVault from 'node-vault';
import type { VaultConfig } from './config.js';
import { classifyVaultError, VaultCallError } from './errors.js';
import { vaultTransport } from './transport.js';

export type VaultMethod = 'GET' | 'POST' | 'PUT';

export interface VaultCall {
  /** Short operation name for errors, logs and metrics, e.g. `revoke-accessor`. */
  readonly op: string;
  readonly method: VaultMethod;
  /** Below /v1/, without a leading slash. */
  readonly path: string;
  readonly body?: Readonly<Record<string, unknown>>;
  readonly signal?: AbortSignal;
}

/** The raw transport: one request with an explicit token (or none). Throws VaultCallError. */
export interface VaultHttp {
  send<T>(call: VaultCall & { readonly token?: string }): Promise<T | undefined>;
  close(): void;
}

/** Most parallel connections to Vault; keep-alive saves a TCP (and TLS) handshake per call. */
const MAX_SOCKETS = 64;
/** Vault's answers to this provider (token, lease and lookup data) are a few KiB. */
const MAX_RESPONSE_BYTES = 1024 * 1024;

export function createVaultHttp(config: Pick<VaultConfig, 'address' | 'namespace' | 'requestTimeoutMs'>, caPem?: string): VaultHttp {
  const httpAgent = new HttpAgent({ keepAlive: true, maxSockets: MAX_SOCKETS });
  const httpsAgent = new HttpsAgent({
    keepAlive: true,
    maxSockets: MAX_SOCKETS,
    rejectUnauthorized: true,
    ...(caPem ? { ca: caPem } : {}),
  });
  const vault = createNodeVault({
    endpoint: config.address,
    apiVersion: 'v1',
    pathPrefix: '',
    // node-vault's debug channel prints request bodies, which carry tokens and secret ids.
    debug: () => undefined,
    // Requests go out through transport.ts: no redirects, one deadline, a size cap. TLS is
    // verified by the https agent whatever VAULT_SKIP_VERIFY says.
    'request-promise': vaultTransport({ httpAgent, httpsAgent, timeoutMs: config.requestTimeoutMs, maxResponseBytes: MAX_RESPONSE_BYTES }),
  } as Parameters<typeof createNodeVault>[0]);
  // Defeat the environment defaults node-vault applied (VAULT_TOKEN, VAULT_NAMESPACE, and
  // VAULT_PREFIX, which it reads even when pathPrefix is '' because '' is falsy).
  const settable = vault as unknown as { token: string | undefined; namespace: string | undefined; pathPrefix: string };
  settable.token = undefined;
  settable.namespace = config.namespace;
  settable.pathPrefix = '';

  return {
    async send<T>(call: VaultCall & { readonly token?: string }): Promise<T | undefined> {
      const { op, signal } = call;
      if (signal?.aborted) throw new VaultCallError(op, { kind: 'aborted' });
      const request = vault.request({
        path: `/${call.path}`,
        method: call.method,
        headers: call.token === undefined ? {} : { 'X-Vault-Token': call.token },
        ...(call.body === undefined ? {} : { json: call.body }),
      }) as Promise<unknown>;
      try {
        const body = await abortable(request, signal, op);
        return typeof body === 'object' && body !== null ? (body as T) : undefined;
      } catch (err) {
        if (err instanceof VaultCallError) throw err;
        throw new VaultCallError(op, classifyVaultError(err));
      }
    },
    close() {
      httpAgent.destroy();
      httpsAgent.destroy();
    },
  };
}

/**
 * Waits for `promise` unless `signal` fires first; the work itself goes on (node-vault takes no
 * AbortSignal: a request ends by its own timeout; a shared parent creation by its own).
 */
export function abortable<T>(promise: Promise<T>, signal: AbortSignal | undefined, op: string): Promise<T> {
  if (!signal) return promise;
  if (signal.aborted) return Promise.reject(new VaultCallError(op, { kind: 'aborted' }));
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(new VaultCallError(op, { kind: 'aborted' }));
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (err: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(err);
      },
    );
  });
}
