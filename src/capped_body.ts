/**
 * Reads an HTTP answer's body with a cap in bytes, enforced while it streams: a declared
 * Content-Length over the cap is refused before any byte is read, and an answer that grows past
 * it is cut off, not buffered. An answer that ends before its length, or breaks off, is refused
 * too. Used for every upstream answer the broker reads: key and discovery documents
 * (identity/bounded_fetch.ts) and Vault (providers/vault/transport.ts, through sdk.ts).
 */
import type { IncomingMessage } from 'node:http';

export type BodyReadFailure = 'too_large' | 'cut_short' | 'interrupted';

export class BodyReadError extends Error {
  override readonly name = 'BodyReadError';
  constructor(
    readonly reason: BodyReadFailure,
    maxBytes: number,
    readonly code?: string,
  ) {
    super(
      reason === 'too_large' ? `answer larger than ${maxBytes} bytes` : reason === 'cut_short' ? 'answer cut short' : 'answer interrupted',
    );
  }
}

/** The body as UTF-8 text. The caller destroys the request when this rejects. */
export function readCappedBody(res: IncomingMessage, maxBytes: number): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    if (Number(res.headers['content-length'] ?? '0') > maxBytes) {
      res.resume();
      reject(new BodyReadError('too_large', maxBytes));
      return;
    }
    const chunks: Buffer[] = [];
    let total = 0;
    let over = false;
    res.on('data', (chunk: Buffer) => {
      if (over) return;
      total += chunk.length;
      if (total > maxBytes) {
        over = true;
        reject(new BodyReadError('too_large', maxBytes));
      } else {
        chunks.push(chunk);
      }
    });
    res.on('end', () => {
      if (res.complete) resolve(Buffer.concat(chunks, total).toString('utf8'));
      else reject(new BodyReadError('cut_short', maxBytes));
    });
    res.on('error', (err: NodeJS.ErrnoException) =>
      reject(new BodyReadError('interrupted', maxBytes, typeof err.code === 'string' ? err.code : undefined)),
    );
    res.on('aborted', () => reject(new BodyReadError('interrupted', maxBytes)));
  });
}
