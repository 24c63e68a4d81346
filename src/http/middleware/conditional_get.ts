/**
 * Polling without re-sending what did not change (docs/api.md "Conditional reads"): a GET that
 * answers 200 JSON carries a weak ETag, the hash of its body, and `If-None-Match` with that tag
 * answers 304 with no body. The console polls the incident, approval and agent views this way, on
 * any replica: the tag depends on the body only, not on which broker computed it.
 *
 * Never on a body marked `no-store` (a credential, a session), nor on any other method: a POST
 * that returns a credential must not hand out a hash of it in a header.
 */
import { createHash } from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';

const isNoStore = (res: Response): boolean => /\bno-store\b/iu.test(String(res.get('Cache-Control') ?? ''));

/** The weak tag of a JSON body: 128 bits of its SHA-256, enough that two bodies never share one. */
export const etagOf = (body: string): string => `W/"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"`;

/** Whether `If-None-Match` names `tag` (RFC 9110 §13.1.2: weak comparison, `*` matches any). */
export function noneMatchHits(header: string | undefined, tag: string): boolean {
  if (header === undefined) return false;
  const opaque = tag.replace(/^W\//u, '');
  return header.split(',').some((candidate) => {
    const t = candidate.trim();
    return t === '*' || t.replace(/^W\//u, '') === opaque;
  });
}

export function conditionalGet(req: Request, res: Response, next: NextFunction): void {
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    next();
    return;
  }
  const json = res.json.bind(res);
  res.json = (body: unknown): Response => {
    if (res.statusCode !== 200 || isNoStore(res)) return json(body);
    const text = JSON.stringify(body);
    const tag = etagOf(text);
    res.set('ETag', tag);
    if (res.get('Cache-Control') === undefined) res.set('Cache-Control', 'private, no-cache');
    if (noneMatchHits(req.get('if-none-match'), tag)) {
      res.status(304).end();
      return res;
    }
    return res.type('application/json; charset=utf-8').send(text);
  };
  next();
}
