/**
 * The broker's own Vault identity: token file, AppRole and Kubernetes login; renewal at 2/3 of the
 * TTL on an injected clock and scheduler; a fresh login when renewal stops extending or Vault says
 * the token is dead; the namespace header; environment defaults of node-vault ignored.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { VaultHttp } from '../../providers/vault/vault_http.js';
import { createBrokerSession, type Scheduler } from '../../providers/vault/session.js';
import { vaultApi } from '../fakes/vault/provision.js';
import { eventually } from '../support/broker_harness.js';
import { expectNoUnexpectedCalls, issueRequest, startVaultFixture, TOKEN_PARAMS, type VaultFixture } from './vault_fixture.js';

/** Timers the test fires by hand, after moving the shared clock to their due time. */
function manualScheduler(clock: { now: number }) {
  const tasks = new Map<number, { fn: () => void; at: number }>();
  let seq = 0;
  const scheduler: Scheduler = {
    set: (fn, delayMs) => {
      tasks.set(++seq, { fn, at: clock.now + delayMs });
      return seq;
    },
    clear: (handle) => {
      tasks.delete(handle as number);
    },
  };
  return {
    scheduler,
    /** Due time of the only pending task, relative to now (ms). */
    nextInMs(): number {
      expect(tasks.size).toBe(1);
      return [...tasks.values()][0]!.at - clock.now;
    },
    /** Moves the clock to the next task and runs it; what it starts goes on on its own. */
    fireNextNow(): void {
      const [id, task] = [...tasks.entries()].sort((a, b) => a[1].at - b[1].at)[0]!;
      tasks.delete(id);
      clock.now = Math.max(clock.now, task.at);
      task.fn();
    },
    /**
     * Moves the clock to the next task, runs it, and waits until the renewal or login it started
     * has done its HTTP round trip and planned the next task (polled, with a deadline).
     */
    async fireNext(): Promise<void> {
      this.fireNextNow();
      await eventually(async () => tasks.size > 0, 5000);
    },
  };
}

const tempFile = (name: string, content: string): string => {
  const file = join(mkdtempSync(join(tmpdir(), 'qm-vault-auth-')), name);
  writeFileSync(file, content, { mode: 0o600 });
  return file;
};

let fixture: VaultFixture | undefined;
expectNoUnexpectedCalls(() => fixture?.fake);
afterEach(async () => {
  await fixture?.stop();
  fixture = undefined;
});

describe('vault provider: the broker login', () => {
  it('logs in with a token file, checks it with lookup-self, and issues with it', async () => {
    fixture = await startVaultFixture();
    const provider = await fixture.provider();
    expect(fixture.fake.count('auth/token/lookup-self')).toBe(1);
    await expect(provider.issue(issueRequest(TOKEN_PARAMS))).resolves.toMatchObject({ handle: { kind: 'vault_token' } });
  });

  it('logs in with AppRole (role id + secret-id file)', async () => {
    fixture = await startVaultFixture({
      approle: { roleId: 'role-123', secretId: 's3cret-id-value', policies: ['quartermaster-broker'], ttlSeconds: 600 },
    });
    const provider = await fixture.provider({
      auth: { method: 'approle', roleId: 'role-123', secretIdFile: tempFile('secret-id', 's3cret-id-value\n') },
    });
    expect(fixture.fake.count('auth/approle/login')).toBe(1);
    await expect(provider.issue(issueRequest(TOKEN_PARAMS))).resolves.toBeDefined();
    expect(fixture.log.text()).not.toContain('s3cret-id-value');
  });

  it('refuses at start a login whose token may not call lookup-self (every policy 403 would look like a dead token and cost a login)', async () => {
    fixture = await startVaultFixture({
      approle: { roleId: 'role-123', secretId: 's3cret-id-value', policies: ['quartermaster-broker'], ttlSeconds: 600 },
    });
    // The built-in default policy is what grants lookup-self; an operator may have emptied it.
    await vaultApi(fixture.fake.url, fixture.fake.rootToken, 'PUT', 'sys/policies/acl/default', { policy: JSON.stringify({ path: {} }) });
    await expect(
      fixture.provider({ auth: { method: 'approle', roleId: 'role-123', secretIdFile: tempFile('secret-id', 's3cret-id-value\n') } }),
    ).rejects.toMatchObject({
      code: 'ERR_CONFIG',
      message: expect.stringMatching(/may not call auth\/token\/lookup-self; give the broker's role the default policy/u),
    });
    expect(fixture.fake.count('auth/approle/login')).toBe(1);
  });

  it('logs in with Kubernetes auth (service-account token file)', async () => {
    const jwt = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQ6cW06cW0ifQ.c2ln';
    fixture = await startVaultFixture({ kubernetes: { role: 'quartermaster', jwt, policies: ['quartermaster-broker'], ttlSeconds: 600 } });
    const provider = await fixture.provider({ auth: { method: 'kubernetes', role: 'quartermaster', jwtFile: tempFile('token', jwt) } });
    await expect(provider.issue(issueRequest(TOKEN_PARAMS))).resolves.toBeDefined();
    expect(fixture.fake.count('auth/approle/login')).toBe(1); // the fake serves both logins on one route name
    expect(fixture.log.text()).not.toContain(jwt);
  });

  it('refuses to start when Vault rejects the login, naming the setting', async () => {
    fixture = await startVaultFixture({
      approle: { roleId: 'role-123', secretId: 'right', policies: ['quartermaster-broker'], ttlSeconds: 600 },
    });
    await expect(
      fixture.provider({ auth: { method: 'approle', roleId: 'role-123', secretIdFile: tempFile('secret-id', 'right') } }),
    ).resolves.toBeDefined();
    await expect(
      fixture.provider({ auth: { method: 'approle', roleId: 'role-123', secretIdFile: tempFile('secret-id', 'wrong') } }),
    ).rejects.toMatchObject({
      code: 'ERR_CONFIG',
      message: expect.stringMatching(/^providers\.vault\.auth: Vault refused the broker's login \(vault approle-login: HTTP 400\)$/u),
    });
    await expect(fixture.provider({ auth: { method: 'token', tokenFile: '/nonexistent/qm-token' } })).rejects.toMatchObject({
      code: 'ERR_CONFIG',
      message: 'providers.vault.auth.tokenFile: /nonexistent/qm-token cannot be read (ENOENT)',
    });
  });

  it('starts while Vault is down and logs in on first use', async () => {
    fixture = await startVaultFixture();
    await fixture.fake.goDown();
    const provider = await fixture.provider();
    expect((await provider.health(new AbortController().signal)).ok).toBe(false);
    await fixture.fake.comeBack();
    await expect(provider.issue(issueRequest(TOKEN_PARAMS))).resolves.toBeDefined();
    expect(await provider.health(new AbortController().signal)).toMatchObject({ ok: true });
  });

  it('renews its token at 2/3 of the TTL, so it outlives its first TTL', async () => {
    const clock = { now: Date.now() };
    const timers = manualScheduler(clock);
    fixture = await startVaultFixture({ now: () => clock.now });
    const provider = await fixture.provider({}, { now: () => clock.now }, { scheduler: timers.scheduler });
    expect(timers.nextInMs()).toBe(2400_000); // 2/3 of 3600 s
    await timers.fireNext();
    expect(fixture.fake.count('auth/token/renew-self')).toBe(1);
    clock.now += 1300_000; // past the first TTL (3600 s after login)
    await expect(provider.issue(issueRequest(TOKEN_PARAMS))).resolves.toBeDefined();
    expect(timers.nextInMs()).toBeLessThanOrEqual(2400_000);
  });

  it('logs in again once renewals stop extending the token (max TTL reached)', async () => {
    const clock = { now: Date.now() };
    const timers = manualScheduler(clock);
    fixture = await startVaultFixture({
      now: () => clock.now,
      approle: { roleId: 'r', secretId: 's', policies: ['quartermaster-broker'], ttlSeconds: 600, maxTtlSeconds: 900 },
    });
    const provider = await fixture.provider(
      { auth: { method: 'approle', roleId: 'r', secretIdFile: tempFile('sid', 's') } },
      { now: () => clock.now },
      { scheduler: timers.scheduler },
    );
    for (let i = 0; i < 3; i++) await timers.fireNext(); // renew (600 s → 500 s), renew (→ 167 s: no longer extending), login
    expect(fixture.fake.count('auth/token/renew-self')).toBe(2);
    expect(fixture.fake.count('auth/approle/login')).toBe(2);
    expect(timers.nextInMs()).toBe(400_000); // the new token's first renewal
    clock.now += 200_000; // past the first token's 900 s hard cap
    await expect(provider.issue(issueRequest(TOKEN_PARAMS))).resolves.toBeDefined();
  });

  it('logs in again after a 403 caused by its own token being revoked, and retries the call once', async () => {
    fixture = await startVaultFixture({ approle: { roleId: 'r', secretId: 's', policies: ['quartermaster-broker'], ttlSeconds: 600 } });
    const provider = await fixture.provider({ auth: { method: 'approle', roleId: 'r', secretIdFile: tempFile('sid', 's') } });
    const brokerToken = fixture.fake.state.tokens.all().find((t) => t.displayName === 'approle')!;
    await vaultApi(fixture.fake.url, fixture.fake.rootToken, 'POST', 'auth/token/revoke-accessor', { accessor: brokerToken.accessor });
    const issued = await provider.issue(issueRequest(TOKEN_PARAMS));
    expect(issued.handle.kind).toBe('vault_token');
    expect(fixture.fake.count('auth/approle/login')).toBe(2);
  });

  it('re-reads a rotated token file after its old token died', async () => {
    fixture = await startVaultFixture();
    const provider = await fixture.provider();
    const created = await vaultApi(fixture.fake.url, fixture.fake.rootToken, 'POST', 'auth/token/create-orphan', {
      policies: ['quartermaster-broker'],
      ttl: '1h',
    });
    writeFileSync(fixture.provisioned.brokerTokenFile, created.auth.client_token);
    await vaultApi(fixture.fake.url, fixture.fake.rootToken, 'POST', 'auth/token/revoke', { token: fixture.provisioned.brokerToken });
    await expect(provider.issue(issueRequest(TOKEN_PARAMS))).resolves.toBeDefined();
  });

  it('a 403 that is not about its own token is a policy problem: ERR_PROVIDER_FAILED, no re-login loop', async () => {
    fixture = await startVaultFixture();
    const provider = await fixture.provider({ parentTokenRole: 'not-allowed-by-the-broker-policy' });
    await expect(provider.issue(issueRequest(TOKEN_PARAMS))).rejects.toMatchObject({
      code: 'ERR_PROVIDER_FAILED',
      detail: expect.stringMatching(/^vault create-incident-parent: HTTP 403 \(permission denied even after a fresh login/u),
    });
    expect(fixture.fake.count('auth/token/lookup-self')).toBe(2); // the login, and the one check after the 403
  });

  it('sends the configured namespace on every request and ignores VAULT_* environment defaults', async () => {
    fixture = await startVaultFixture();
    const saved = { ...process.env };
    process.env.VAULT_NAMESPACE = 'from-env';
    process.env.VAULT_TOKEN = fixture.fake.rootToken;
    process.env.VAULT_ADDR = 'http://127.0.0.1:1';
    try {
      const before = fixture.fake.namespaces.length;
      const provider = await fixture.provider({ namespace: 'team-a/incidents' });
      const issued = await provider.issue(issueRequest(TOKEN_PARAMS));
      await provider.revokeGrant({
        grantId: 'g',
        incidentId: 'inc_42',
        handle: issued.handle,
        expiresAt: issued.expiresAt,
        signal: new AbortController().signal,
      });
      const sent = fixture.fake.namespaces.slice(before);
      expect(sent.length).toBe(5); // lookup-self, parent, child, revoke-accessor, lookup-accessor
      expect(new Set(sent)).toEqual(new Set(['team-a/incidents']));
    } finally {
      process.env = saved;
    }
  });
});

describe('vault provider: broker session races', () => {
  it('keeps the newer token when a renewal of the old one answers after a re-login', async () => {
    const clock = { now: 1_800_000_000_000 };
    const timers = manualScheduler(clock);
    const logins = ['token-one', 'token-two'];
    const ops: string[] = [];
    let renewalSent!: () => void;
    const renewalOut = new Promise<void>((resolve) => {
      renewalSent = resolve;
    });
    let answerRenewal: ((body: unknown) => void) | undefined;
    // The session's transport, scripted: it lets the test hold the renewal's answer back.
    const http: VaultHttp = {
      async send<T>(call: { op: string }): Promise<T | undefined> {
        ops.push(call.op);
        if (call.op === 'approle-login') return { auth: { client_token: logins.shift(), lease_duration: 600, renewable: true } } as T;
        if (call.op === 'lookup-self') return { data: {} } as T;
        if (call.op === 'renew-self') {
          return new Promise<T>((resolve) => {
            answerRenewal = (body) => resolve(body as T);
            renewalSent();
          });
        }
        throw new Error(`unexpected call ${call.op}`);
      },
      close: () => undefined,
    };
    const quiet = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };
    const session = createBrokerSession({
      http,
      auth: { method: 'approle', roleId: 'r', secretIdFile: tempFile('sid', 's'), mount: 'approle' },
      logger: quiet,
      now: () => clock.now,
      scheduler: timers.scheduler,
    });
    try {
      expect(await session.token()).toBe('token-one');
      timers.fireNextNow(); // the renewal of token-one goes out and waits for its answer
      await renewalOut;
      expect(ops).toEqual(['approle-login', 'lookup-self', 'renew-self']);
      expect(await session.relogin('token-one')).toBe('token-two');
      // The late answer, read by the renewal's continuation: that continuation runs to its end
      // synchronously from the read on, so once the read is seen it has decided.
      let answerRead!: () => void;
      const read = new Promise<void>((resolve) => {
        answerRead = resolve;
      });
      answerRenewal!({
        get auth() {
          answerRead();
          return { client_token: 'token-one', lease_duration: 600, renewable: true };
        },
      });
      await read;
      expect(await session.token()).toBe('token-two');
      expect(timers.nextInMs()).toBe(400_000); // the re-login's own renewal plan, not the stale one's
    } finally {
      session.close();
    }
  });
});
