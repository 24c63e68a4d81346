/**
 * The thin upstream client: calls over the raw transport (vault_http.ts), with the broker's own
 * Vault identity (session.ts) behind `asBroker`.
 */
import { VaultCallError } from './errors.js';
import type { BrokerSession } from './session.js';
import type { VaultCall, VaultHttp } from './vault_http.js';

export interface VaultClient {
  /** With the broker's own token; after a 403 caused by that token being dead, logs in again and retries once. */
  asBroker<T>(call: VaultCall): Promise<T | undefined>;
  /** With another token (an incident parent or a child); no retry. */
  withToken<T>(token: string, call: VaultCall): Promise<T | undefined>;
  /** sys/health is unauthenticated and answers a JSON body even while sealed. */
  health(
    signal: AbortSignal,
  ): Promise<{ readonly initialized?: boolean; readonly sealed?: boolean; readonly standby?: boolean } | undefined>;
}

export function createVaultClient(http: VaultHttp, session: BrokerSession): VaultClient {
  const tokenIsDead = async (token: string, signal: AbortSignal | undefined): Promise<boolean> => {
    try {
      await http.send({ op: 'lookup-self', method: 'GET', path: 'auth/token/lookup-self', token, ...(signal ? { signal } : {}) });
      return false;
    } catch (err) {
      if (err instanceof VaultCallError && err.is(403)) return true;
      throw err;
    }
  };

  return {
    async asBroker<T>(call: VaultCall): Promise<T | undefined> {
      const token = await session.token(call.signal);
      try {
        return await http.send<T>({ ...call, token });
      } catch (err) {
        if (!(err instanceof VaultCallError && err.is(403))) throw err;
        // 403 means either "this token may not do that" or "this token is dead" (expired, revoked).
        // Vault says which only in message text, so ask structurally: does lookup-self still work?
        if (!(await tokenIsDead(token, call.signal))) throw err;
        const fresh = await session.relogin(token, call.signal);
        return http.send<T>({ ...call, token: fresh });
      }
    },
    withToken: (token, call) => http.send({ ...call, token }),
    health: (signal) => http.send({ op: 'health', method: 'GET', path: 'sys/health', signal }),
  };
}
