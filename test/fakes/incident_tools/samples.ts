/**
 * The vendors' own sample answers, which the fakes answer with (a copy per request, with the
 * incident's id and status put in). Kept as JSON files, exactly as extracted:
 *
 * - samples/pagerduty_get_incident.json: the "Response Example" of PagerDuty's "Get an incident"
 *   (https://developer.pagerduty.com/api-reference/005299e63c5e2-get-an-incident), from
 *   github.com/PagerDuty/api-schema reference/REST/openapiv3.json at commit
 *   2326e6b9f4737ca7f383214e1cd9d783c81fd2c6, `paths["/incidents/{id}"].get.responses["200"]`.
 * - samples/incidentio_incidents_v2_show.json: the example of incident.io's "Incidents V2 Show"
 *   (https://api-docs.incident.io/tag/Incidents-V2#operation/Incidents%20V2_Show), from incident.io's
 *   OpenAPI document as vendored in github.com/incident-io/terraform-provider-incident
 *   internal/apischema/public-schema-v3-including-secret-endpoints.json at commit
 *   a438c9e350fba07b3a228b94ec2d408cc91b2c5f, `paths["/v2/incidents/{id}"].get.responses["200"]`.
 *   (Its status pairs the name "Closed" with the category `triage`, as incident.io's examples do.)
 *
 * The error documents are the vendors' documented shapes:
 * - PagerDuty: `{ "error": { "message", "code", "errors"? } }` (components.responses.Conflict in the
 *   same OpenAPI; its example is `{"message":"Not Found","code":2100}`). The codes PagerDuty lists:
 *   2000 Internal Error, 2006 Authentication Failed, 2010 Access Denied, 2100 Not Found.
 *   Rate limiting (https://support.pagerduty.com/docs/rest-api-rate-limits): 429 with the
 *   `ratelimit-limit`, `ratelimit-remaining`, `ratelimit-reset` (seconds) headers.
 * - incident.io (https://docs.incident.io/api-reference/introduction): `{ "type", "status",
 *   "request_id", "errors": [{ "code", "message" }] }`; its 401 example (no key) is type
 *   `authentication_error`, code `missing_authorization_material`; its 429 example is type
 *   `too_many_requests` with a `rate_limit` object whose `retry_after` is an HTTP date.
 */
import { readFileSync } from 'node:fs';

type Json = Record<string, unknown>;

const load = (name: string): Json => JSON.parse(readFileSync(new URL(`./samples/${name}`, import.meta.url), 'utf8')) as Json;

const PAGERDUTY_INCIDENT = load('pagerduty_get_incident.json');
const INCIDENTIO_INCIDENT = load('incidentio_incidents_v2_show.json');

/** A fresh copy of PagerDuty's sample `{ incident: {...} }`. */
export const pagerDutySample = (): Json => structuredClone(PAGERDUTY_INCIDENT);

/** A fresh copy of incident.io's sample `{ incident: {...} }`. */
export const incidentIoSample = (): Json => structuredClone(INCIDENTIO_INCIDENT);

const PAGERDUTY_ERRORS: Readonly<Record<number, { readonly message: string; readonly code?: number }>> = {
  400: { message: 'Invalid Input Provided', code: 2001 },
  401: { message: 'Authentication failed', code: 2006 },
  403: { message: 'Access Denied', code: 2010 },
  404: { message: 'Not Found', code: 2100 },
  429: { message: 'Rate Limit Exceeded' }, // the code of a 429 is not documented
  500: { message: 'Internal Error', code: 2000 },
};

export function pagerDutyError(status: number): Json {
  return { error: PAGERDUTY_ERRORS[status] ?? { message: 'Internal Error', code: 2000 } };
}

const INCIDENTIO_TYPES: Readonly<Record<number, readonly [type: string, code: string, message: string]>> = {
  401: ['authentication_error', 'invalid_authorization_material', 'The API key provided is not valid'],
  403: ['authorization_error', 'missing_scope', 'The API key does not have the required scope'],
  404: ['not_found', 'not_found', 'Resource not found'],
  429: ['too_many_requests', 'too_many_requests', 'Too many requests. We recommend exponential backoff.'],
};

let requestCounter = 0;

export function incidentIoError(
  status: number,
  options: { readonly missingKey?: boolean; readonly retryAfterSeconds?: number } = {},
): Json {
  const [type, code, message] = options.missingKey
    ? (['authentication_error', 'missing_authorization_material', 'No authorization material provided in request'] as const)
    : (INCIDENTIO_TYPES[status] ?? (['internal_error', 'internal_error', 'Internal server error'] as const));
  requestCounter += 1;
  return {
    type,
    status,
    request_id: `00000000-0000-4000-8000-${String(requestCounter).padStart(12, '0')}`,
    ...(status === 429
      ? {
          rate_limit: {
            name: 'api_key_name',
            limit: 1200,
            remaining: 0,
            retry_after: new Date(Date.now() + (options.retryAfterSeconds ?? 60) * 1000).toUTCString(),
          },
        }
      : {}),
    errors: [{ code, message }],
  };
}
