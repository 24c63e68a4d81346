/**
 * Signature Version 4, checked the way AWS checks it: the `Authorization` header's credential
 * scope names the access key, date, region and service; the signature is recomputed from the
 * canonical request with the caller's secret.
 * https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_sigv-create-signed-request.html
 *
 * Both clients that drive the fake sign POST `/` with a form body and no query string; the
 * canonical URI and query are computed for completeness, not exercised. The request date is not
 * checked against the fake's clock (which tests move), so RequestExpired is not modelled.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';

export interface SigV4Credential {
  readonly accessKeyId: string;
  readonly date: string;
  readonly region: string;
  readonly service: string;
  readonly signedHeaders: readonly string[];
  readonly signature: string;
}

const AUTHORIZATION =
  /^AWS4-HMAC-SHA256 Credential=([^/,\s]+)\/(\d{8})\/([^/,\s]+)\/([^/,\s]+)\/aws4_request,\s*SignedHeaders=([a-z0-9;-]+),\s*Signature=([0-9a-f]{64})$/u;

/** undefined: no header; null: a header that is not a SigV4 authorization. */
export function parseAuthorization(header: string | undefined): SigV4Credential | null | undefined {
  if (header === undefined || header === '') return undefined;
  const match = AUTHORIZATION.exec(header.trim());
  if (!match) return null;
  const [, accessKeyId, date, region, service, signedHeaders, signature] = match as unknown as string[];
  return {
    accessKeyId: accessKeyId as string,
    date: date as string,
    region: region as string,
    service: service as string,
    signedHeaders: (signedHeaders as string).split(';'),
    signature: signature as string,
  };
}

export interface SignedRequest {
  readonly method: string;
  /** Path and query as received. */
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
}

export function signatureMatches(request: SignedRequest, credential: SigV4Credential, secretAccessKey: string): boolean {
  const amzDate = headerText(request.headers, 'x-amz-date');
  if (amzDate === undefined || !credential.signedHeaders.includes('host')) return false;
  const canonicalHeaders = credential.signedHeaders
    .map((name) => `${name}:${(headerText(request.headers, name) ?? '').trim().replace(/\s+/gu, ' ')}\n`)
    .join('');
  const url = new URL(request.url, 'http://fake');
  const canonicalRequest = [
    request.method,
    canonicalUri(url.pathname),
    canonicalQuery(url.searchParams),
    canonicalHeaders,
    credential.signedHeaders.join(';'),
    sha256Hex(request.body),
  ].join('\n');
  const scope = `${credential.date}/${credential.region}/${credential.service}/aws4_request`;
  const stringToSign = ['AWS4-HMAC-SHA256', amzDate, scope, sha256Hex(canonicalRequest)].join('\n');
  let key = hmac(`AWS4${secretAccessKey}`, credential.date);
  for (const part of [credential.region, credential.service, 'aws4_request']) key = hmac(key, part);
  const expected = Buffer.from(hmac(key, stringToSign).toString('hex'));
  const given = Buffer.from(credential.signature);
  return expected.length === given.length && timingSafeEqual(expected, given);
}

function headerText(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value.join(',') : value;
}

/** Services other than S3 encode each path segment twice (the path arrives encoded once). */
function canonicalUri(path: string): string {
  return path
    .split('/')
    .map((segment) => rfc3986(segment))
    .join('/');
}

function canonicalQuery(query: URLSearchParams): string {
  return [...query]
    .map(([k, v]) => [rfc3986(k), rfc3986(v)] as const)
    .sort(([ak, av], [bk, bv]) => (ak === bk ? (av < bv ? -1 : av > bv ? 1 : 0) : ak < bk ? -1 : 1))
    .map(([k, v]) => `${k}=${v}`)
    .join('&');
}

function rfc3986(text: string): string {
  return encodeURIComponent(text).replace(/[!'()*]/gu, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

const sha256Hex = (data: string | Buffer): string => createHash('sha256').update(data).digest('hex');
const hmac = (key: string | Buffer, data: string): Buffer => createHmac('sha256', key).update(data).digest();
