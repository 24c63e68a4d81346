/**
 * Bad input gets a clear 4xx in the JSON envelope, never a 500: one row per error express,
 * body-parser, the router and Node's HTTP parser can raise (src/http/middleware/error_handler.ts,
 * src/http/client_errors.ts), each after its valid counterpart. Route labels of metrics and logs
 * are the route table's patterns, so a spray of paths cannot grow the series count.
 */
import { connect } from 'node:net';
import { brotliCompressSync, deflateSync, gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OPERATIONS } from '../../src/http/openapi.js';
import { eventually, startTestBroker, type TestBroker } from '../support/broker_harness.js';

const AGENT = 'spiffe://dev.local/agent/triage';
let qm: TestBroker;
let agent: string;
let operator: string;

beforeAll(async () => {
  qm = await startTestBroker({ logLevel: 'info' });
  agent = await qm.agentToken(AGENT);
  operator = await qm.operatorToken();
  const opened = await qm.request('POST', '/v1/incidents', {
    token: operator,
    body: { id: 'INC-BAD', title: 'bad input', severity: 'sev3' },
  });
  expect(opened.status).toBe(201);
});
afterAll(async () => qm?.stop());

const grantJson = JSON.stringify({ incident_id: 'INC-BAD', profile: 'demo', purpose: 'triage' });

/** A raw request with exactly these body bytes and headers (fetch would normalise some of them). */
async function send(
  method: string,
  path: string,
  options: { token?: string; headers?: Record<string, string>; body?: Buffer | string } = {},
) {
  const headers: Record<string, string> = { ...options.headers };
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  const res = await fetch(`${qm.url}${path}`, { method, headers, ...(options.body === undefined ? {} : { body: options.body }) });
  const text = await res.text();
  let body: any;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  return { status: res.status, body, headers: res.headers };
}

/** Writes raw bytes to the server and reads the whole answer (for what fetch cannot send). */
function rawExchange(bytes: string): Promise<string> {
  const { port } = new URL(qm.url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), '127.0.0.1');
    let answer = '';
    socket.on('data', (chunk) => {
      answer += chunk.toString('utf8');
    });
    socket.on('end', () => resolve(answer));
    socket.on('error', reject);
    socket.write(bytes);
  });
}

const json = { 'content-type': 'application/json' };

interface Row {
  readonly name: string;
  readonly method: string;
  readonly path: string;
  readonly token?: 'agent' | 'operator';
  readonly headers?: Record<string, string>;
  readonly body?: Buffer | string;
  readonly status: number;
  readonly code?: string;
}

const ROWS: readonly Row[] = [
  { name: 'a valid grant request', method: 'POST', path: '/v1/grants', token: 'agent', headers: json, body: grantJson, status: 201 },
  {
    name: 'a gzip body that really is gzip',
    method: 'POST',
    path: '/v1/grants',
    token: 'agent',
    headers: { ...json, 'content-encoding': 'gzip' },
    body: gzipSync(grantJson),
    status: 201,
  },
  {
    name: 'Content-Encoding gzip over plain bytes',
    method: 'POST',
    path: '/v1/grants',
    token: 'agent',
    headers: { ...json, 'content-encoding': 'gzip' },
    body: 'xx',
    status: 400,
    code: 'ERR_BAD_REQUEST',
  },
  {
    name: 'a deflate body that really is deflate',
    method: 'POST',
    path: '/v1/grants',
    token: 'agent',
    headers: { ...json, 'content-encoding': 'deflate' },
    body: deflateSync(grantJson),
    status: 201,
  },
  {
    name: 'Content-Encoding deflate over plain bytes',
    method: 'POST',
    path: '/v1/grants',
    token: 'agent',
    headers: { ...json, 'content-encoding': 'deflate' },
    body: 'xx',
    status: 400,
    code: 'ERR_BAD_REQUEST',
  },
  {
    name: 'a br body that really is brotli',
    method: 'POST',
    path: '/v1/grants',
    token: 'agent',
    headers: { ...json, 'content-encoding': 'br' },
    body: brotliCompressSync(grantJson),
    status: 201,
  },
  {
    name: 'Content-Encoding br over plain bytes',
    method: 'POST',
    path: '/v1/grants',
    token: 'agent',
    headers: { ...json, 'content-encoding': 'br' },
    body: 'xx',
    status: 400,
    code: 'ERR_BAD_REQUEST',
  },
  {
    name: 'Content-Encoding gzip, unauthenticated',
    method: 'POST',
    path: '/v1/grants',
    headers: { ...json, 'content-encoding': 'gzip' },
    body: 'xx',
    status: 401,
    code: 'ERR_UNAUTHENTICATED',
  },
  {
    name: 'an unknown Content-Encoding',
    method: 'POST',
    path: '/v1/grants',
    token: 'agent',
    headers: { ...json, 'content-encoding': 'compress' },
    body: grantJson,
    status: 415,
    code: 'ERR_UNSUPPORTED_MEDIA_TYPE',
  },
  {
    name: 'a gzip bomb past the body limit',
    method: 'POST',
    path: '/v1/grants',
    token: 'agent',
    headers: { ...json, 'content-encoding': 'gzip' },
    body: gzipSync(Buffer.alloc(1024 * 1024, 0x20)),
    status: 413,
    code: 'ERR_PAYLOAD_TOO_LARGE',
  },
  {
    name: 'a body over the limit',
    method: 'POST',
    path: '/v1/grants',
    token: 'agent',
    headers: json,
    body: `{"purpose":"${'x'.repeat(70_000)}"}`,
    status: 413,
    code: 'ERR_PAYLOAD_TOO_LARGE',
  },
  {
    name: 'charset=utf-8 spelled out',
    method: 'POST',
    path: '/v1/grants',
    token: 'agent',
    headers: { 'content-type': 'application/json; charset=UTF-8' },
    body: grantJson,
    status: 201,
  },
  {
    name: 'a charset other than UTF-8',
    method: 'POST',
    path: '/v1/grants',
    token: 'agent',
    headers: { 'content-type': 'application/json; charset=latin1' },
    body: grantJson,
    status: 415,
    code: 'ERR_UNSUPPORTED_MEDIA_TYPE',
  },
  {
    name: 'an unknown charset',
    method: 'POST',
    path: '/v1/grants',
    token: 'agent',
    headers: { 'content-type': 'application/json; charset=klingon' },
    body: grantJson,
    status: 415,
    code: 'ERR_UNSUPPORTED_MEDIA_TYPE',
  },
  {
    name: 'bytes that are not UTF-8',
    method: 'POST',
    path: '/v1/grants',
    token: 'agent',
    headers: json,
    body: Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x3a, 0x31, 0x7d]),
    status: 400,
    code: 'ERR_BAD_REQUEST',
  },
  {
    name: 'a body that is not JSON',
    method: 'POST',
    path: '/v1/grants',
    token: 'agent',
    headers: json,
    body: '{"incident_id":',
    status: 400,
    code: 'ERR_BAD_REQUEST',
  },
  {
    name: 'an empty JSON body',
    method: 'POST',
    path: '/v1/grants',
    token: 'agent',
    headers: json,
    body: '',
    status: 400,
    code: 'ERR_BAD_REQUEST',
  },
  {
    name: 'no Content-Type',
    method: 'POST',
    path: '/v1/grants',
    token: 'agent',
    body: grantJson,
    status: 415,
    code: 'ERR_UNSUPPORTED_MEDIA_TYPE',
  },
  {
    name: 'a duplicate member',
    method: 'POST',
    path: '/v1/grants',
    token: 'agent',
    headers: json,
    body: '{"incident_id":"INC-BAD","incident_id":"INC-OTHER","profile":"demo","purpose":"x"}',
    status: 400,
    code: 'ERR_BAD_REQUEST',
  },
  {
    name: 'a duplicate member spelt with an escape',
    method: 'POST',
    path: '/v1/grants',
    token: 'agent',
    headers: json,
    body: '{"profile":"demo","\\u0070rofile":"demo","incident_id":"INC-BAD","purpose":"x"}',
    status: 400,
    code: 'ERR_BAD_REQUEST',
  },
  {
    name: 'a duplicate member after an array',
    method: 'POST',
    path: '/v1/grants',
    token: 'agent',
    headers: json,
    body: '{"purpose":["x"],"purpose":"x","incident_id":"INC-BAD","profile":"demo"}',
    status: 400,
    code: 'ERR_BAD_REQUEST',
  },
  {
    name: 'a duplicate member after an escaped quote',
    method: 'POST',
    path: '/v1/grants',
    token: 'agent',
    headers: json,
    body: '{"purpose":"a\\"","profile":"demo","profile":"demo","incident_id":"INC-BAD"}',
    status: 400,
    code: 'ERR_BAD_REQUEST',
  },
  {
    name: 'the same name in two objects (not a duplicate)',
    method: 'POST',
    path: '/v1/grants',
    token: 'agent',
    headers: json,
    body: '{"incident_id":"INC-BAD","profile":"demo","purpose":"x","x":{"a":1},"y":{"a":2}}',
    status: 400,
    code: 'ERR_VALIDATION',
  },
  {
    name: 'a purpose with an ANSI escape',
    method: 'POST',
    path: '/v1/grants',
    token: 'agent',
    headers: json,
    body: JSON.stringify({ incident_id: 'INC-BAD', profile: 'demo', purpose: 'read \u001b[31malerts' }),
    status: 400,
    code: 'ERR_VALIDATION',
  },
  {
    name: 'a valid incident',
    method: 'POST',
    path: '/v1/incidents',
    token: 'operator',
    headers: json,
    body: JSON.stringify({ id: 'INC-BAD-2', title: 'Payments 5xx', severity: 'sev2' }),
    status: 201,
  },
  {
    name: 'a title with NUL',
    method: 'POST',
    path: '/v1/incidents',
    token: 'operator',
    headers: json,
    body: JSON.stringify({ id: 'INC-BAD-3', title: 'Payments\u0000 5xx', severity: 'sev2' }),
    status: 400,
    code: 'ERR_VALIDATION',
  },
  {
    name: 'a title with a bidi override',
    method: 'POST',
    path: '/v1/incidents',
    token: 'operator',
    headers: json,
    body: JSON.stringify({ id: 'INC-BAD-3', title: 'Payments \u202e5xx', severity: 'sev2' }),
    status: 400,
    code: 'ERR_VALIDATION',
  },
  {
    name: 'a duplicate member in an incident',
    method: 'POST',
    path: '/v1/incidents',
    token: 'operator',
    headers: json,
    body: '{"id":"INC-BAD-3","title":"t","severity":"sev2","severity":"sev1"}',
    status: 400,
    code: 'ERR_BAD_REQUEST',
  },
  { name: 'a well-formed incident path', method: 'GET', path: '/v1/incidents/INC-BAD', token: 'operator', status: 200 },
  {
    name: 'malformed percent-encoding in an incident id',
    method: 'GET',
    path: '/v1/incidents/%ZZ',
    token: 'operator',
    status: 400,
    code: 'ERR_BAD_REQUEST',
  },
  { name: 'malformed percent-encoding, unauthenticated', method: 'GET', path: '/v1/incidents/%ZZ', status: 400, code: 'ERR_BAD_REQUEST' },
  {
    name: 'malformed percent-encoding in a close',
    method: 'POST',
    path: '/v1/incidents/%E0%A4%A/close',
    token: 'operator',
    status: 400,
    code: 'ERR_BAD_REQUEST',
  },
  {
    name: 'malformed percent-encoding in a grant id',
    method: 'GET',
    path: '/v1/grants/%ZZ',
    token: 'agent',
    status: 400,
    code: 'ERR_BAD_REQUEST',
  },
  {
    name: 'malformed percent-encoding in a release',
    method: 'DELETE',
    path: '/v1/grants/%ZZ',
    token: 'agent',
    status: 400,
    code: 'ERR_BAD_REQUEST',
  },
  {
    name: 'malformed percent-encoding in a query',
    method: 'GET',
    path: '/v1/audit?incident=%ZZ',
    token: 'operator',
    status: 400,
    code: 'ERR_VALIDATION',
  },
  {
    name: 'a form introspection',
    method: 'POST',
    path: '/oauth2/introspect',
    token: 'operator',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: 'token=abc',
    status: 200,
  },
  {
    name: 'a JSON introspection',
    method: 'POST',
    path: '/oauth2/introspect',
    token: 'operator',
    headers: json,
    body: '{"token":"abc"}',
    status: 415,
    code: 'ERR_UNSUPPORTED_MEDIA_TYPE',
  },
  {
    name: 'an introspection without a body',
    method: 'POST',
    path: '/oauth2/introspect',
    token: 'operator',
    status: 415,
    code: 'ERR_UNSUPPORTED_MEDIA_TYPE',
  },
  {
    name: 'token given twice',
    method: 'POST',
    path: '/oauth2/introspect',
    token: 'operator',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: 'token=a&token=b',
    status: 400,
    code: 'ERR_BAD_REQUEST',
  },
  {
    name: 'no token parameter',
    method: 'POST',
    path: '/oauth2/introspect',
    token: 'operator',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: 'nottoken=a',
    status: 400,
    code: 'ERR_BAD_REQUEST',
  },
  {
    name: 'a form charset other than UTF-8',
    method: 'POST',
    path: '/oauth2/introspect',
    token: 'operator',
    headers: { 'content-type': 'application/x-www-form-urlencoded; charset=latin1' },
    body: 'token=a',
    status: 415,
    code: 'ERR_UNSUPPORTED_MEDIA_TYPE',
  },
  {
    name: 'too many form parameters',
    method: 'POST',
    path: '/oauth2/introspect',
    token: 'operator',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: Array.from({ length: 20 }, (_, i) => `p${i}=1`).join('&'),
    status: 413,
    code: 'ERR_PAYLOAD_TOO_LARGE',
  },
  {
    name: 'a form body that does not match its Content-Encoding',
    method: 'POST',
    path: '/oauth2/introspect',
    token: 'operator',
    headers: { 'content-type': 'application/x-www-form-urlencoded', 'content-encoding': 'gzip' },
    body: 'token=a',
    status: 400,
    code: 'ERR_BAD_REQUEST',
  },
  {
    name: 'a method the path lacks',
    method: 'DELETE',
    path: '/v1/incidents/INC-BAD',
    token: 'operator',
    status: 405,
    code: 'ERR_METHOD_NOT_ALLOWED',
  },
  { name: 'PUT on the grants collection', method: 'PUT', path: '/v1/grants', status: 405, code: 'ERR_METHOD_NOT_ALLOWED' },
  { name: 'a path nothing serves', method: 'GET', path: '/v1/nothing', status: 404, code: 'ERR_NOT_FOUND' },
];

describe('malformed requests get a 4xx JSON error, never a 500', () => {
  it.each(ROWS)('$name → $status', async (row) => {
    const token = row.token === 'agent' ? agent : row.token === 'operator' ? operator : undefined;
    const res = await send(row.method, row.path, {
      ...(token ? { token } : {}),
      ...(row.headers ? { headers: row.headers } : {}),
      ...(row.body === undefined ? {} : { body: row.body }),
    });
    expect(res.status).toBe(row.status);
    if (row.code !== undefined) {
      expect(res.body).toEqual({ error: { code: row.code, message: expect.any(String) } });
      expect(res.headers.get('content-type')).toMatch(/^application\/json/u);
    }
  });

  it('answers 405 with the methods the path has, in Allow', async () => {
    const res = await send('DELETE', '/v1/incidents/INC-BAD', { token: operator });
    expect(res.headers.get('allow')).toBe('GET, HEAD, OPTIONS, PATCH');
    const onCollection = await send('PUT', '/v1/grants');
    expect(onCollection.headers.get('allow')).toBe('GET, HEAD, OPTIONS, POST');
  });

  it('answers OPTIONS from the route table, and 404 for a path nothing serves', async () => {
    const known = await send('OPTIONS', '/v1/incidents/INC-BAD/close');
    expect([known.status, known.headers.get('allow')]).toEqual([204, 'OPTIONS, POST']);
    const unknown = await send('OPTIONS', '/v1/nothing');
    expect([unknown.status, unknown.body?.error?.code]).toEqual([404, 'ERR_NOT_FOUND']);
  });

  it('answers a header section over server.maxHeaderBytes with 431 in the JSON envelope, and counts it', async () => {
    const small = await rawExchange(`GET /healthz HTTP/1.1\r\nHost: x\r\nX-Pad: ${'a'.repeat(1000)}\r\nConnection: close\r\n\r\n`);
    expect(small).toMatch(/^HTTP\/1\.1 200 /u);
    const big = await rawExchange(`GET /healthz HTTP/1.1\r\nHost: x\r\nX-Pad: ${'a'.repeat(20_000)}\r\n\r\n`);
    expect(big).toMatch(/^HTTP\/1\.1 431 /u);
    expect(JSON.parse(big.slice(big.indexOf('\r\n\r\n') + 4))).toEqual({
      error: { code: 'ERR_HEADERS_TOO_LARGE', message: expect.any(String) },
    });
    const text = await (await fetch(`${qm.url}/metrics`)).text();
    expect(text).toMatch(/quartermaster_http_parser_refusals_total\{code="ERR_HEADERS_TOO_LARGE"\} 1/u);
  });

  it('answers bytes that are not HTTP with 400 in the JSON envelope', async () => {
    const answer = await rawExchange('NOT HTTP AT ALL\r\n\r\n');
    expect(answer).toMatch(/^HTTP\/1\.1 400 /u);
    expect(JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4)).error.code).toBe('ERR_BAD_REQUEST');
  });

  it('refuses a body the client stopped sending half-way as aborted (400), not as a failure', async () => {
    const { port } = new URL(qm.url);
    const socket = connect(Number(port), '127.0.0.1');
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
    socket.write(
      `POST /v1/grants HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${agent}\r\nContent-Type: application/json\r\nContent-Length: 100\r\nX-Request-Id: aborted-body-0001\r\n\r\n{"incident_id":`,
    );
    // Hang up with 85 of the 100 announced body bytes never sent.
    await new Promise<void>((resolve) => socket.write('', () => resolve()));
    socket.destroy();
    const refused = await eventually(async () =>
      qm.logs.lines
        .map((l) => JSON.parse(l) as Record<string, unknown>)
        .find((l) => l.clientRequestId === 'aborted-body-0001' && (l.msg === 'request refused' || l.msg === 'request failed')),
    );
    expect(refused).toMatchObject({ msg: 'request refused', code: 'ERR_BAD_REQUEST', route: '/v1/grants' });
  });

  it('logged no request as failed, and every refusal with its route pattern', () => {
    const lines = qm.logs.lines.map((l) => JSON.parse(l) as { level: string; msg: string; route?: string });
    expect(lines.filter((l) => l.level === 'error')).toEqual([]);
    const refused = lines.filter((l) => l.msg === 'request refused');
    expect(refused.length).toBeGreaterThan(20);
    const patterns = new Set([...OPERATIONS.map((op) => op.path), 'unmatched']);
    for (const line of refused) expect(patterns).toContain(line.route);
    expect(refused.map((l) => l.route)).toContain('/v1/incidents/{id}');
  });
});

describe('route labels', () => {
  it('stay the route table patterns under a spray of spellings and paths', async () => {
    const seriesOf = async (): Promise<string[]> => {
      const text = await (await fetch(`${qm.url}/metrics`)).text();
      return text.split('\n').filter((l) => l.startsWith('quartermaster_http_request_duration_seconds_count'));
    };
    const spellings = (path: string): string[] =>
      Array.from({ length: 50 }, (_, i) => [...path].map((ch, j) => ((i >> (j % 10)) & 1 ? ch.toUpperCase() : ch.toLowerCase())).join(''));
    await Promise.all(spellings('/v1/grants/grt_aaaaaaaaaaaaaaaaaaaaaa').map((p) => send('GET', p)));
    const afterFirstSpray = await seriesOf();
    await Promise.all([
      ...spellings('/v1/grants/grt_bbbbbbbbbbbbbbbbbbbbbb').map((p) => send('GET', p)),
      ...Array.from({ length: 50 }, (_, i) => send('GET', `/random/${i}/path`)),
      ...Array.from({ length: 50 }, (_, i) => send('GET', `/V1/INCIDENTS/inc-${i}`)),
    ]);
    const afterSpray = await seriesOf();
    const routes = new Set(afterSpray.map((l) => /route="([^"]*)"/u.exec(l)?.[1]));
    const patterns = new Set([...OPERATIONS.map((op) => op.path), 'unmatched']);
    for (const route of routes) expect(patterns).toContain(route);
    // The second spray reused series: case variants of one route and 50 unknown paths add at
    // most the (method, route, status) combinations they newly reached, never one per spelling.
    expect(afterSpray.length - afterFirstSpray.length).toBeLessThanOrEqual(2);
    expect(routes).toContain('/v1/grants/{id}');
    expect(routes).toContain('unmatched');
  });
});
