/**
 * The test side of the gated provider (gated_provider.ts): an HTTP server that answers the first
 * `answerFirst` revocation calls at once and holds every later one open until `release()`, after
 * which it answers everything at once. Holding (not failing) is the point: a held call is a
 * revocation in flight, so the broker's lease on that job is live when the test kills it.
 */
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RevocationGate {
  readonly url: string;
  /** Grant ids of the calls answered on arrival, in order. */
  readonly answered: readonly string[];
  /** Grant ids of the calls that were held open, in arrival order (still listed after release). */
  readonly held: readonly string[];
  /** Grant ids of held calls whose caller went away before an answer (its broker died, or it gave up on the call). */
  abandoned(): string[];
  /** Calls that arrived for a grant id (deliveries that reached the upstream). */
  calls(grantId: string): number;
  /**
   * Held grant ids called again after release(): callers that had given up on a held call just
   * before the answer went out (their socket not yet seen closed), and so retried it.
   */
  retriedAfterRelease(): string[];
  /** Answers the held calls whose caller is still there, and every later call at once. */
  release(): void;
  close(): Promise<void>;
}

export async function startRevocationGate(answerFirst: number): Promise<RevocationGate> {
  const answered: string[] = [];
  const held: Array<{ grantId: string; res: ServerResponse }> = [];
  const arrivals = new Map<string, number>();
  let released = false;
  let atRelease = new Map<string, number>();

  const answer = (grantId: string, res: ServerResponse): void => {
    answered.push(grantId);
    res.writeHead(200, { 'content-type': 'application/json' }).end('{"revoked":true}');
  };

  const server = createServer((req, res) => {
    const match = /^\/revoke\/([^/]+)$/.exec(req.url ?? '');
    if (req.method !== 'POST' || !match?.[1]) {
      res.writeHead(404).end();
      return;
    }
    const grantId = decodeURIComponent(match[1]);
    arrivals.set(grantId, (arrivals.get(grantId) ?? 0) + 1);
    req.resume();
    if (released || answered.length < answerFirst) answer(grantId, res);
    else held.push({ grantId, res });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    answered,
    get held() {
      return held.map((h) => h.grantId);
    },
    calls: (grantId) => arrivals.get(grantId) ?? 0,
    abandoned: () => held.filter(({ res }) => res.socket === null || res.socket.destroyed).map((h) => h.grantId),
    retriedAfterRelease: () => [...new Set(held.map((h) => h.grantId))].filter((id) => (arrivals.get(id) ?? 0) > (atRelease.get(id) ?? 0)),
    release() {
      released = true;
      atRelease = new Map(arrivals);
      // A killed broker's calls have no one to answer: their sockets are gone.
      for (const { res } of held) if (!res.socket?.destroyed && !res.destroyed) res.writeHead(200).end('{"revoked":true}');
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
