/**
 * The Vault HTTP path (client.ts → node-vault → transport.ts) against local servers that misbehave
 * on purpose: a redirect must not carry the token anywhere, an answer past the size cap and a
 * slowly dripping answer end in a clear failure, and every call sends its token and namespace to
 * the configured address only. Each case first shows the same call succeeding.
 */
import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createVaultHttp, type VaultHttp } from '../../providers/vault/vault_http.js';
import { toBrokerError, VaultCallError } from '../../providers/vault/errors.js';

const TOKEN = 'hvs.transport-test-token-canary';

interface Seen {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

const servers: Server[] = [];
const clients: VaultHttp[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  }
});

/** A server that records every request and answers with `answer`. */
async function serve(answer: (res: ServerResponse, seen: Seen) => void): Promise<{ url: string; seen: Seen[] }> {
  const seen: Seen[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const entry = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8') };
      seen.push(entry);
      answer(res, entry);
    });
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen };
}

const json = (res: ServerResponse, status: number, body: unknown): void => {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
};

function client(address: string, options: { requestTimeoutMs?: number; namespace?: string } = {}): VaultHttp {
  const http = createVaultHttp({
    address,
    requestTimeoutMs: options.requestTimeoutMs ?? 2000,
    ...(options.namespace ? { namespace: options.namespace } : {}),
  });
  clients.push(http);
  return http;
}

const lookup = { op: 'lookup-self', method: 'GET', path: 'auth/token/lookup-self', token: TOKEN } as const;

async function failureOf(promise: Promise<unknown>): Promise<VaultCallError> {
  const err: unknown = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(VaultCallError);
  return err as VaultCallError;
}

describe('vault transport', () => {
  it('sends the token, namespace and JSON body to the configured address and reads the JSON answer', async () => {
    const vault = await serve((res) => json(res, 200, { data: { ttl: 60 } }));
    const http = client(vault.url, { namespace: 'team-a' });
    await expect(
      http.send({ op: 'create', method: 'POST', path: 'auth/token/create', token: TOKEN, body: { ttl: '60s' } }),
    ).resolves.toEqual({ data: { ttl: 60 } });
    expect(vault.seen).toHaveLength(1);
    expect(vault.seen[0]).toMatchObject({ method: 'POST', url: '/v1/auth/token/create', body: '{"ttl":"60s"}' });
    expect(vault.seen[0]?.headers).toMatchObject({
      'x-vault-token': TOKEN,
      'x-vault-namespace': 'team-a',
      'content-type': 'application/json',
    });
  });

  it('answers undefined for 204 and maps Vault statuses to failures with Vault’s errors kept apart', async () => {
    const vault = await serve((res, seen) =>
      seen.url.endsWith('/revoke') ? res.writeHead(204).end() : json(res, 400, { errors: ['invalid accessor'] }),
    );
    const http = client(vault.url);
    await expect(http.send({ op: 'revoke', method: 'POST', path: 'auth/token/revoke', token: TOKEN, body: {} })).resolves.toBeUndefined();
    const err = await failureOf(
      http.send({ op: 'lookup-accessor', method: 'POST', path: 'auth/token/lookup-accessor', token: TOKEN, body: { accessor: 'a' } }),
    );
    expect(err.failure).toEqual({ kind: 'http', status: 400, errors: ['invalid accessor'] });
  });

  it('never follows a redirect: the token stays with the configured address', async () => {
    const elsewhere = await serve((res) => json(res, 200, { data: { id: 'stolen' } }));
    // Valid case first: the same server answering directly works.
    const direct = await serve((res) => json(res, 200, { data: { ttl: 1 } }));
    await expect(client(direct.url).send(lookup)).resolves.toEqual({ data: { ttl: 1 } });

    const redirecting = await serve((res) => res.writeHead(307, { location: `${elsewhere.url}/v1/auth/token/lookup-self` }).end());
    const err = await failureOf(client(redirecting.url).send(lookup));
    expect(err.failure).toMatchObject({ kind: 'http', status: 307 });
    // A standby redirects when it cannot forward (a failover): retry later, as for a sealed Vault.
    expect(toBrokerError(err)).toMatchObject({ code: 'ERR_PROVIDER_UNAVAILABLE' });
    expect(elsewhere.seen).toEqual([]);
  });

  it('fails an answer larger than the cap instead of buffering it', async () => {
    const small = await serve((res) => json(res, 200, { data: { pad: 'x'.repeat(1000) } }));
    await expect(client(small.url).send(lookup)).resolves.toMatchObject({ data: { pad: expect.any(String) } });

    const big = { data: { pad: 'x'.repeat(2 * 1024 * 1024) } };
    const declared = await serve((res) => json(res, 200, big));
    expect((await failureOf(client(declared.url).send(lookup))).failure).toEqual({ kind: 'network', code: 'ERESPONSETOOLARGE' });
    // Without a content-length (chunked), the cap applies while the answer streams.
    const streamed = await serve((res) => {
      const text = JSON.stringify(big);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write(text.slice(0, 1000));
      res.end(text.slice(1000));
    });
    const err = await failureOf(client(streamed.url).send(lookup));
    expect(err.failure).toEqual({ kind: 'network', code: 'ERESPONSETOOLARGE' });
    expect(toBrokerError(err)).toMatchObject({ code: 'ERR_PROVIDER_UNAVAILABLE' });
  });

  it('gives up on an answer that drips past requestTimeoutMs, even though bytes keep arriving', async () => {
    const timers: NodeJS.Timeout[] = [];
    const drip = (res: ServerResponse, everyMs: number, count: number): void => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"data":{"pad":"');
      let sent = 0;
      const tick = (): void => {
        if (res.destroyed) return;
        if (sent++ >= count) {
          res.end('"}}');
          return;
        }
        res.write('x');
        timers.push(setTimeout(tick, everyMs));
      };
      tick();
    };
    try {
      const quick = await serve((res) => drip(res, 5, 5));
      await expect(client(quick.url, { requestTimeoutMs: 1000 }).send(lookup)).resolves.toEqual({ data: { pad: 'xxxxx' } });

      const slow = await serve((res) => drip(res, 50, 1000));
      const err = await failureOf(client(slow.url, { requestTimeoutMs: 300 }).send(lookup));
      expect(err.failure).toEqual({ kind: 'network', code: 'ETIMEDOUT' });
    } finally {
      for (const t of timers) clearTimeout(t);
    }
  });

  it('reports a refused connection by its code and names no token in any error', async () => {
    const gone = await serve(() => undefined);
    const url = gone.url;
    const server = servers.pop()!;
    await new Promise<void>((resolve) => server.close(() => resolve()));
    const err = await failureOf(client(url).send(lookup));
    expect(err.failure).toEqual({ kind: 'network', code: 'ECONNREFUSED' });
    expect(JSON.stringify({ message: err.message, failure: err.failure, broker: toBrokerError(err) })).not.toContain(TOKEN);
  });
});
