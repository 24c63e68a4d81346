/**
 * GET of a key document or discovery document from a configured URL (docs/security.md §1 "Keys"):
 * one deadline covers connect, headers and body; the body is capped in bytes while it streams
 * (a 5 MB answer is cut off at the cap, not buffered); redirects are refused, not followed, so an
 * endpoint cannot send the broker to a URL nobody configured (SPIFFE_Federation.md §7.5.1); only
 * 200 is an answer. node:http(s) rather than fetch: it never follows redirects and takes a CA file.
 */
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { readCappedBody, type BodyReadError } from '../capped_body.js';

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
    const req = request(
      target,
      {
        method: 'GET',
        headers: { accept: 'application/json' },
        signal,
        ...(limits.ca === undefined ? {} : { ca: limits.ca }),
      },
      (res) => {
        const status = res.statusCode ?? 0;
        if (status !== 200) {
          res.resume();
          fail(`answered HTTP ${status}: ${status >= 300 && status < 400 ? 'a redirect, which is not followed' : 'not 200'}`);
          return;
        }
        readCappedBody(res, limits.maxBytes).then(
          (body) => {
            if (settled) return;
            settled = true;
            resolve(body);
          },
          (err: BodyReadError) => fail(err.reason === 'too_large' ? `answer exceeds maxBytes ${limits.maxBytes}` : err.message),
        );
      },
    );
    req.on('error', (err) => fail(`request failed: ${(err as NodeJS.ErrnoException).code ?? err.name}`));
    req.end();
  });
}
