/**
 * GET of a key document or discovery document from a configured URL (docs/security.md §1 "Keys"):
 * one deadline covers connect, headers and body; the body is capped in bytes while it streams
 * (a 5 MB answer is cut off at the cap, not buffered); redirects are refused, not followed, so an
 * endpoint cannot send the broker to a URL nobody configured (SPIFFE_Federation.md §7.5.1); only
 * 200 is an answer. node:http(s) rather than fetch: it never follows redirects and takes a CA file.
 */
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';

export interface FetchLimits {
  readonly timeoutMs: number;
  readonly maxBytes: number;
  /** The CA certificates (PEM) to trust instead of the default Web PKI roots, for endpoints under a private CA. */
  readonly ca?: string;
}

export class FetchError extends Error {
  override readonly name = 'FetchError';
}

export function fetchBounded(url: string, limits: FetchLimits): Promise<string> {
  const target = new URL(url);
  const request = target.protocol === 'https:' ? httpsRequest : httpRequest;
  const signal = AbortSignal.timeout(limits.timeoutMs);
  return new Promise<string>((resolve, reject) => {
    let settled = false;
    const fail = (why: string): void => {
      if (settled) return;
      settled = true;
      req.destroy();
      reject(new FetchError(signal.aborted ? `no complete answer within ${limits.timeoutMs} ms` : why));
    };
    const req = request(target, {
      method: 'GET',
      headers: { accept: 'application/json' },
      signal,
      ...(limits.ca === undefined ? {} : { ca: limits.ca }),
    }, (res) => readBody(res, limits.maxBytes, fail, (body) => {
      if (settled) return;
      settled = true;
      resolve(body);
    }));
    req.on('error', (err) => fail(`request failed: ${(err as NodeJS.ErrnoException).code ?? err.name}`));
    req.end();
  });
}

function readBody(res: IncomingMessage, maxBytes: number, fail: (why: string) => void, done: (body: string) => void): void {
  const status = res.statusCode ?? 0;
  if (status !== 200) {
    res.resume();
    fail(`answered HTTP ${status}: ${status >= 300 && status < 400 ? 'a redirect, which is not followed' : 'not 200'}`);
    return;
  }
  const declared = Number(res.headers['content-length'] ?? '0');
  if (declared > maxBytes) {
    fail(`answer of ${declared} bytes exceeds maxBytes ${maxBytes}`);
    return;
  }
  const chunks: Buffer[] = [];
  let total = 0;
  res.on('data', (chunk: Buffer) => {
    total += chunk.length;
    if (total > maxBytes) fail(`answer exceeds maxBytes ${maxBytes}`);
    else chunks.push(chunk);
  });
  res.on('end', () => {
    if (res.complete) done(Buffer.concat(chunks).toString('utf8'));
    else fail('answer cut short');
  });
  res.on('error', (err) => fail(`answer interrupted: ${err.name}`));
  res.on('aborted', () => fail('answer interrupted'));
}
