/**
 * The incident tools' REST APIs, asked one question: is this incident still open at its source?
 * Used by the source check before issuing (confirm the webhook's incident is open; fail closed) and
 * by the reconciler (a missed close webhook still revokes). Nothing here caches or retries: the
 * callers own that.
 *
 * PagerDuty REST API v2, "Get an incident"
 * (https://developer.pagerduty.com/api-reference/005299e63c5e2-get-an-incident; the OpenAPI document
 * is github.com/PagerDuty/api-schema reference/REST/openapiv3.json, operation getIncident):
 *   GET {baseUrl}/incidents/{id}
 *   Authorization: Token token=<key>
 *   Accept: application/vnd.pagerduty+json;version=2   (the documented versioning header, required)
 *   → 200 { "incident": { "id", "status": "triggered" | "acknowledged" | "resolved", "resolved_at",
 *           "last_status_change_at", … } }; 404 { "error": { "message": "Not Found", "code": 2100 } }
 *   triggered and acknowledged are open, resolved is closed (as in sources/pagerduty.ts).
 *
 * incident.io API, "Incidents V2 Show"
 * (https://api-docs.incident.io/tag/Incidents-V2#operation/Incidents%20V2_Show, also
 * https://docs.incident.io/api-reference/incidents-v2/show; errors and rate limits:
 * https://docs.incident.io/api-reference/introduction):
 *   GET {baseUrl}/v2/incidents/{id}
 *   Authorization: Bearer <key>
 *   → 200 { "incident": { "id", "incident_status": { "category", "name", … }, … } };
 *     errors { "type", "status", "request_id", "errors": [{ "code", "message" }] }
 *   categories triage, live, paused are open; learning, closed, declined, merged, canceled are
 *   finished (as in sources/incidentio.ts). incident.io's answer carries no close time.
 *
 * Fail closed, and say nothing secret:
 * - one deadline covers connect, headers and body; the caller's signal cancels too;
 * - redirects are refused, not followed (the token would go wherever `Location` points);
 * - the body is capped in bytes while it streams (../capped_body.ts);
 * - only the fields read are validated (the objects are not strict: the vendors add fields), but a
 *   status or category this file does not know is an error, not a guess: an unknown state can be
 *   neither "open" (it would let a grant through) nor "closed" (it would revoke on a vendor change);
 * - the answer must be about the incident asked for (its `id` equal to the one requested);
 * - a 404 is `not_found` only when its body is the vendor's own error document, so a proxy's or a
 *   wrong base URL's 404 page is an error, not "every incident is gone" (which would close them all);
 * - every failure is a SourceApiError whose reason is a short code ('HTTP 503', 'timeout',
 *   'unparsable'…): never the token, never the body.
 * node:http(s) rather than fetch: it never follows redirects (house pattern: ../identity/bounded_fetch.ts).
 */
import { request as httpRequest, type ClientRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { z } from 'zod';
import { readCappedBody, type BodyReadError } from '../capped_body.js';
import { parseRfc3339 } from './sources/parse.js';

export type SourceIncidentStatus =
  | { readonly state: 'open'; readonly sourceStatus: string }
  | { readonly state: 'closed'; readonly sourceStatus: string; readonly closedAt?: number }
  | { readonly state: 'not_found' };

export interface IncidentSourceApi {
  /**
   * The incident's status at its source, fresh from its REST API. Throws SourceApiError when it
   * cannot be learned (network, 5xx, 429, 401/403 with the token, unparsable answer).
   */
  status(sourceIncidentId: string, signal: AbortSignal): Promise<SourceIncidentStatus>;
}

export type IncidentSourceName = 'pagerduty' | 'incidentio';

/** What a caller may use to back off; never part of the message. */
export interface SourceApiErrorDetail {
  /** The HTTP status answered, when there was one. */
  readonly httpStatus?: number;
  /** From `Retry-After` (seconds or an HTTP date) or PagerDuty's `ratelimit-reset` (seconds), on a 429 or 503. */
  readonly retryAfterMs?: number;
}

export class SourceApiError extends Error {
  override readonly name = 'SourceApiError';
  readonly httpStatus: number | undefined;
  readonly retryAfterMs: number | undefined;
  constructor(
    readonly source: IncidentSourceName,
    /** A short code-like text: 'HTTP 503', 'HTTP 302 redirect', 'timeout', 'aborted', 'too large', 'unparsable', 'network ECONNREFUSED'… */
    readonly reason: string,
    detail: SourceApiErrorDetail = {},
  ) {
    super(`${source} API: ${reason}`);
    this.httpStatus = detail.httpStatus;
    this.retryAfterMs = detail.retryAfterMs;
  }
}

export interface SourceApiConfig {
  /** https, or http to a loopback host only (tests, a local proxy). Default: the vendor's public API. */
  readonly baseUrl?: string;
  readonly token: string;
  /** One deadline for connect, headers and body, in ms. */
  readonly timeoutMs: number;
  /** Largest answer read, in bytes. Default DEFAULT_SOURCE_API_MAX_BYTES. */
  readonly maxBytes?: number;
}

export const PAGERDUTY_API_URL = 'https://api.pagerduty.com';
export const INCIDENTIO_API_URL = 'https://api.incident.io';
/** An incident is a few KiB (PagerDuty's documented example is 7 KiB); 1 MiB leaves room for long responder lists. */
export const DEFAULT_SOURCE_API_MAX_BYTES = 1_048_576;

const MAX_ID_LENGTH = 256;

const pagerDutyAnswer = z.object({
  incident: z.object({
    id: z.string(),
    status: z.string(),
    resolved_at: z.string().nullish(),
    last_status_change_at: z.string().nullish(),
  }),
});
/** PagerDuty's error document (components.responses.Conflict in the OpenAPI): `{ "error": { "message", "code", "errors" } }`. */
const pagerDutyError = z.object({ error: z.object({ message: z.string().optional(), code: z.number().optional() }) });

const incidentIoAnswer = z.object({
  incident: z.object({ id: z.string(), incident_status: z.object({ name: z.string(), category: z.string() }) }),
});
/** incident.io's error document carries its HTTP status: `{ "type", "status", "request_id", "errors" }`. */
const incidentIoNotFound = z.object({ type: z.string(), status: z.literal(404) });

const PAGERDUTY_OPEN: ReadonlySet<string> = new Set(['triggered', 'acknowledged']);
const INCIDENTIO_OPEN: ReadonlySet<string> = new Set(['triage', 'live', 'paused']);
const INCIDENTIO_FINISHED: ReadonlySet<string> = new Set(['learning', 'closed', 'declined', 'merged', 'canceled']);

/** How one vendor's API is asked and answered. */
interface Protocol {
  readonly source: IncidentSourceName;
  readonly defaultBaseUrl: string;
  /** Path under the base URL for an already URL-encoded id. */
  readonly path: (encodedId: string) => string;
  readonly headers: (token: string) => Readonly<Record<string, string>>;
  /** The status in a 200 answer, or the reason it is not one. */
  readonly read: (body: unknown, id: string) => SourceIncidentStatus | string;
  readonly isNotFound: (body: unknown) => boolean;
}

const PAGERDUTY: Protocol = {
  source: 'pagerduty',
  defaultBaseUrl: PAGERDUTY_API_URL,
  path: (id) => `/incidents/${id}`,
  headers: (token) => ({
    authorization: `Token token=${token}`,
    accept: 'application/vnd.pagerduty+json;version=2',
    // Listed as a required header of every operation in PagerDuty's OpenAPI, GETs included.
    'content-type': 'application/json',
  }),
  read: (body, id) => {
    const parsed = pagerDutyAnswer.safeParse(body);
    if (!parsed.success) return 'unparsable';
    const { incident } = parsed.data;
    if (incident.id !== id) return 'another incident';
    if (PAGERDUTY_OPEN.has(incident.status)) return { state: 'open', sourceStatus: incident.status };
    if (incident.status !== 'resolved') return 'unknown status';
    const closedAt = parseTime(incident.resolved_at) ?? parseTime(incident.last_status_change_at);
    return { state: 'closed', sourceStatus: incident.status, ...(closedAt === undefined ? {} : { closedAt }) };
  },
  isNotFound: (body) => pagerDutyError.safeParse(body).success,
};

const INCIDENTIO: Protocol = {
  source: 'incidentio',
  defaultBaseUrl: INCIDENTIO_API_URL,
  path: (id) => `/v2/incidents/${id}`,
  headers: (token) => ({ authorization: `Bearer ${token}`, accept: 'application/json' }),
  read: (body, id) => {
    const parsed = incidentIoAnswer.safeParse(body);
    if (!parsed.success) return 'unparsable';
    const { incident } = parsed.data;
    if (incident.id !== id) return 'another incident';
    const { category, name } = incident.incident_status;
    if (INCIDENTIO_OPEN.has(category)) return { state: 'open', sourceStatus: name };
    if (INCIDENTIO_FINISHED.has(category)) return { state: 'closed', sourceStatus: name };
    return 'unknown status';
  },
  isNotFound: (body) => incidentIoNotFound.safeParse(body).success,
};

export function createPagerDutyApi(config: SourceApiConfig): IncidentSourceApi {
  return createSourceApi(PAGERDUTY, config);
}

export function createIncidentIoApi(config: SourceApiConfig): IncidentSourceApi {
  return createSourceApi(INCIDENTIO, config);
}

interface Limits {
  readonly timeoutMs: number;
  readonly maxBytes: number;
}

function createSourceApi(protocol: Protocol, config: SourceApiConfig): IncidentSourceApi {
  const base = checkedBaseUrl(protocol.source, config.baseUrl ?? protocol.defaultBaseUrl);
  checkToken(protocol.source, config.token);
  const limits: Limits = { timeoutMs: config.timeoutMs, maxBytes: config.maxBytes ?? DEFAULT_SOURCE_API_MAX_BYTES };
  if (!Number.isInteger(limits.timeoutMs) || limits.timeoutMs <= 0) {
    throw new TypeError(`${protocol.source} timeoutMs must be a positive integer`);
  }
  if (!Number.isInteger(limits.maxBytes) || limits.maxBytes <= 0) {
    throw new TypeError(`${protocol.source} maxBytes must be a positive integer`);
  }
  const headers = protocol.headers(config.token);
  const prefix = base.pathname.replace(/\/+$/u, '');

  return {
    async status(sourceIncidentId, signal) {
      // '.' and '..' would be dot segments (a URL parser or proxy resolves /incidents/.. to /); an empty id is the list endpoint.
      if (sourceIncidentId === '' || sourceIncidentId === '.' || sourceIncidentId === '..' || sourceIncidentId.length > MAX_ID_LENGTH) {
        throw new SourceApiError(protocol.source, 'invalid id');
      }
      const target = new URL(base.href);
      target.pathname = prefix + protocol.path(encodeURIComponent(sourceIncidentId));
      const answer = await get(protocol.source, target, headers, limits, signal);
      const body = parseJson(answer.text);
      if (answer.status === 404) {
        if (body !== undefined && protocol.isNotFound(body)) return { state: 'not_found' };
        throw new SourceApiError(protocol.source, 'HTTP 404 unrecognised', { httpStatus: 404 });
      }
      if (body === undefined) throw new SourceApiError(protocol.source, 'unparsable', { httpStatus: 200 });
      const result = protocol.read(body, sourceIncidentId);
      if (typeof result === 'string') throw new SourceApiError(protocol.source, result, { httpStatus: 200 });
      return result;
    },
  };
}

function checkedBaseUrl(source: IncidentSourceName, text: string): URL {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new TypeError(`${source} baseUrl is not a URL`);
  }
  const loopback = url.hostname === 'localhost' || url.hostname === '[::1]' || /^127(?:\.\d{1,3}){3}$/u.test(url.hostname);
  if (!(url.protocol === 'https:' || (url.protocol === 'http:' && loopback))) {
    throw new TypeError(`${source} baseUrl must be https (http only to a loopback host)`);
  }
  if (url.username !== '' || url.password !== '' || url.search !== '' || url.hash !== '') {
    throw new TypeError(`${source} baseUrl must have no credentials, query or fragment`);
  }
  return url;
}

function checkToken(source: IncidentSourceName, token: string): void {
  // Both vendors' keys are printable ASCII. A control character would split the header, a space
  // would make `Token token=<key>` ambiguous, and node:http throws on anything past Latin-1. The
  // message names the problem, never the token.
  const printable = [...token].every((c) => c.charCodeAt(0) > 0x20 && c.charCodeAt(0) < 0x7f);
  if (token === '' || !printable) throw new TypeError(`${source} token must be non-empty printable ASCII without spaces`);
}

interface Answer {
  /** 200 or 404: every other status is already a SourceApiError. */
  readonly status: 200 | 404;
  readonly text: string;
}

function get(
  source: IncidentSourceName,
  target: URL,
  headers: Readonly<Record<string, string>>,
  limits: Limits,
  signal: AbortSignal,
): Promise<Answer> {
  if (signal.aborted) return Promise.reject(new SourceApiError(source, 'aborted'));
  const request = target.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise<Answer>((resolve, reject) => {
    let settled = false;
    const finish = (): boolean => {
      if (settled) return false;
      settled = true;
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      return true;
    };
    const fail = (reason: string, detail?: SourceApiErrorDetail): void => {
      if (!finish()) return;
      req.destroy();
      reject(new SourceApiError(source, reason, detail));
    };
    const onAbort = (): void => fail('aborted');
    const onResponse = (res: IncomingMessage): void => {
      const status = res.statusCode ?? 0;
      if (status !== 200 && status !== 404) {
        res.on('error', () => undefined); // destroyed below; its error is this one
        res.resume();
        const redirect = status >= 300 && status < 400;
        fail(redirect ? `HTTP ${status} redirect` : `HTTP ${status}`, {
          httpStatus: status,
          ...retryAfter(res, status),
        });
        return;
      }
      readCappedBody(res, limits.maxBytes).then(
        (text) => {
          if (finish()) resolve({ status, text });
        },
        (err: BodyReadError) => fail(bodyFailure(err), { httpStatus: status }),
      );
    };
    let req: ClientRequest;
    try {
      req = request(target, { method: 'GET', headers }, onResponse);
    } catch {
      // node:http validates before sending (its message names a header, never its value).
      reject(new SourceApiError(source, 'request refused'));
      return;
    }
    const timer = setTimeout(() => fail('timeout'), limits.timeoutMs);
    signal.addEventListener('abort', onAbort, { once: true });
    req.on('error', (err: NodeJS.ErrnoException) => fail(`network ${typeof err.code === 'string' ? err.code : 'error'}`));
    req.end();
  });
}

function bodyFailure(err: BodyReadError): string {
  if (err.reason === 'too_large') return 'too large';
  if (err.reason === 'cut_short') return 'cut short';
  return `network ${err.code ?? 'interrupted'}`;
}

function retryAfter(res: IncomingMessage, status: number): { retryAfterMs?: number } {
  if (status !== 429 && status !== 503) return {};
  const value = headerValue(res, 'retry-after') ?? headerValue(res, 'ratelimit-reset');
  if (value === undefined) return {};
  if (/^\d{1,9}$/u.test(value)) return { retryAfterMs: Number(value) * 1000 };
  const at = Date.parse(value);
  return Number.isNaN(at) ? {} : { retryAfterMs: Math.max(0, at - Date.now()) };
}

function headerValue(res: IncomingMessage, name: string): string | undefined {
  const value = res.headers[name];
  return typeof value === 'string' ? value.trim() : undefined;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

function parseTime(text: string | null | undefined): number | undefined {
  return text === null || text === undefined ? undefined : parseRfc3339(text);
}
