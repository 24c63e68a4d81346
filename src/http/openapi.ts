/**
 * GET /openapi.json: the HTTP surface as an OpenAPI 3.1 document. Request bodies and query
 * parameters are generated from the very zod schemas the routes validate with, so they cannot
 * drift; test/http/openapi.test.ts checks that every route Express serves is described here and
 * nothing else is.
 */
import { z } from 'zod';
import { GRANT_STATES as MODEL_GRANT_STATES } from '../model.js';
import {
  acknowledgeLossBody,
  incidentListQuery,
  signalBody,
  emergencyDenyBody,
  reasonBody,
  auditCheckpointsQuery,
  auditExportQuery,
  auditQuery,
  approvalDecisionBody,
  approvalListQuery,
  approvalPollQuery,
  majorModeBody,
  noQuery,
  reportQuery,
  grantListQuery,
  grantRequestBody,
  incidentReadQuery,
  openIncidentBody,
  updateIncidentBody,
  devTokenBody,
} from './validation.js';

type Json = Record<string, unknown>;
type Auth = 'agent' | 'operator' | 'signature' | 'signature-or-operator' | 'none';

interface Operation {
  readonly method: 'get' | 'post' | 'patch' | 'delete';
  readonly path: string;
  readonly summary: string;
  readonly auth: Auth;
  readonly body?:
    { readonly schema: z.ZodType; readonly contentType?: string } | { readonly jsonSchema: Json; readonly contentType: string };
  readonly query?: z.ZodObject;
  readonly pathParams?: readonly string[];
  /** status → description and (optional) schema ref of the JSON body. */
  readonly responses: Readonly<Record<string, readonly [string, string?]>>;
}

const ref = (name: string): Json => ({ $ref: `#/components/schemas/${name}` });
const inputSchema = (schema: z.ZodType): Json => z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as Json;

const ERRORS_AUTH = { 401: ['token missing, invalid, expired or of the wrong kind', 'Error'] } as const;
const ERRORS_OPERATOR = { ...ERRORS_AUTH, 403: ['the operator role is required', 'Error'] } as const;

/** Every route the broker serves (src/http/routes/*). */
export const OPERATIONS: readonly Operation[] = [
  { method: 'get', path: '/healthz', summary: 'Liveness', auth: 'none', responses: { 200: ['alive', 'Status'] } },
  {
    method: 'get',
    path: '/readyz',
    summary: 'Readiness: the store is reachable and the broker is not shutting down',
    auth: 'none',
    responses: { 200: ['ready', 'Status'], 503: ['not ready', 'Status'] },
  },
  {
    method: 'get',
    path: '/metrics',
    summary: 'Prometheus metrics (text exposition format)',
    auth: 'none',
    responses: { 200: ['metrics'] },
  },
  { method: 'get', path: '/openapi.json', summary: 'This document', auth: 'none', responses: { 200: ['OpenAPI 3.1 document'] } },
  {
    method: 'get',
    path: '/.well-known/jwks.json',
    summary: 'Public keys of broker-signed tokens (jwt provider)',
    auth: 'none',
    responses: { 200: ['JWK Set', 'JwkSet'] },
  },
  {
    method: 'get',
    path: '/.well-known/ssf-configuration',
    summary: 'Shared Signals transmitter metadata: issuer, jwks_uri, push delivery (RFC 8935), the CAEP session-revoked event',
    auth: 'none',
    responses: { 200: ['transmitter metadata'], 404: ['no revocation event receivers are configured', 'Error'] },
  },
  {
    method: 'get',
    path: '/.well-known/ssf-jwks.json',
    summary: 'The Ed25519 public keys that verify the revocation SETs',
    auth: 'none',
    responses: { 200: ['JWK Set', 'JwkSet'], 404: ['no revocation event receivers are configured', 'Error'] },
  },
  {
    method: 'post',
    path: '/oauth2/introspect',
    summary: 'RFC 7662 token introspection of broker-issued tokens; inactive once the grant is revoked, released or expired',
    auth: 'operator',
    body: {
      contentType: 'application/x-www-form-urlencoded',
      jsonSchema: { type: 'object', required: ['token'], properties: { token: { type: 'string' } } },
    },
    responses: { 200: ['introspection answer', 'Introspection'], 400: ['no token parameter', 'Error'], ...ERRORS_OPERATOR },
  },
  {
    method: 'post',
    path: '/v1/incidents',
    summary: 'Open an incident',
    auth: 'operator',
    body: { schema: openIncidentBody },
    responses: {
      201: ['opened', 'IncidentEnvelope'],
      400: ['invalid body', 'Error'],
      409: ['an incident with this id already exists (ERR_INCIDENT_EXISTS)', 'Error'],
      ...ERRORS_OPERATOR,
    },
  },
  {
    method: 'get',
    path: '/v1/incidents',
    summary: 'Incidents newest first (status=open|closed, at most limit, default 100), each with its live grant count',
    auth: 'operator',
    query: incidentListQuery,
    responses: {
      200: ['the incidents', 'IncidentList'],
      400: ['invalid query', 'Error'],
      ...ERRORS_OPERATOR,
    },
  },
  {
    method: 'get',
    path: '/v1/incidents/{id}',
    summary: 'An incident with its grants and revocation report (grants=false: the report without the grant list)',
    auth: 'operator',
    pathParams: ['id'],
    query: incidentReadQuery,
    responses: { 200: ['the incident', 'IncidentReport'], 404: ['no such incident', 'Error'], ...ERRORS_OPERATOR },
  },
  {
    method: 'patch',
    path: '/v1/incidents/{id}',
    summary: "Change an open incident's severity or title",
    auth: 'operator',
    pathParams: ['id'],
    body: { schema: updateIncidentBody },
    responses: {
      200: ['updated', 'IncidentEnvelope'],
      400: ['invalid body', 'Error'],
      404: ['no such incident', 'Error'],
      409: ['the incident is closed (ERR_INCIDENT_CLOSED)', 'Error'],
      ...ERRORS_OPERATOR,
    },
  },
  {
    method: 'post',
    path: '/v1/incidents/{id}/close',
    summary: 'Close an incident: tombstone first, then every grant is revoked',
    auth: 'operator',
    pathParams: ['id'],
    responses: {
      202: ['closed now; revocation under way. `grants_to_revoke`: how many live grants the close turned to revoking', 'IncidentReport'],
      200: ['was already closed', 'IncidentReport'],
      404: ['no such incident', 'Error'],
      ...ERRORS_OPERATOR,
    },
  },
  {
    method: 'get',
    path: '/v1/incidents/{id}/report',
    summary:
      'The post-incident report: per agent its grants (purpose, deciding policies, accountable humans, break-glass, revocation time), approvals, refusals; break-glass windows; the revocation summary. format=markdown for the review',
    auth: 'operator',
    pathParams: ['id'],
    query: reportQuery,
    responses: {
      200: ['the report (JSON, or text/markdown)', 'PostIncidentReport'],
      404: ['no such incident', 'Error'],
      ...ERRORS_OPERATOR,
    },
  },
  {
    method: 'post',
    path: '/v1/incidents/{id}/major',
    summary:
      'Break-glass: put the incident in major-incident mode, with a reason, until duration_seconds from now (policies see it; its grants are marked)',
    auth: 'operator',
    pathParams: ['id'],
    body: { schema: majorModeBody },
    responses: {
      200: ['in major-incident mode', 'IncidentEnvelope'],
      400: ['invalid body, or longer than breakGlass.maxSeconds', 'Error'],
      404: ['no such incident', 'Error'],
      409: ['the incident is closed', 'Error'],
      ...ERRORS_OPERATOR,
    },
  },
  {
    method: 'post',
    path: '/v1/incidents/{id}/major/end',
    summary: 'End major-incident mode now; its grants are revoked (breakGlass.onEnd: revoke) or kept',
    auth: 'operator',
    pathParams: ['id'],
    body: { schema: reasonBody },
    responses: {
      200: ['ended', 'MajorEnded'],
      404: ['no such incident', 'Error'],
      409: ['not in major-incident mode (ERR_MAJOR_NOT_ACTIVE)', 'Error'],
      ...ERRORS_OPERATOR,
    },
  },
  {
    method: 'get',
    path: '/v1/approvals',
    summary: 'Approval requests waiting for a human (status=pending, the default), approved, issuing, or all open; oldest first',
    auth: 'operator',
    query: approvalListQuery,
    responses: { 200: ['approvals', 'ApprovalList'], 400: ['invalid query', 'Error'], ...ERRORS_OPERATOR },
  },
  {
    method: 'get',
    path: '/v1/approvals/{id}',
    summary:
      'An agent collects its approval: 200 with the state while it waits (wait= long-polls), 201 with the credential once when approved; an operator (approvals.read) reads it',
    auth: 'agent',
    pathParams: ['id'],
    query: approvalPollQuery,
    responses: {
      200: ['the approval as it stands', 'ApprovalEnvelope'],
      201: ['approved: the grant and its credential, this once', 'ApprovalIssued'],
      404: ['no such approval of this agent (ERR_APPROVAL_NOT_FOUND)', 'Error'],
      409: ['the incident closed meanwhile', 'Error'],
      ...ERRORS_AUTH,
    },
  },
  {
    method: 'post',
    path: '/v1/approvals/{id}/decision',
    summary: 'One human approves or denies, with a reason; quorum distinct approvers of a named role approve, one deny ends it',
    auth: 'operator',
    pathParams: ['id'],
    body: { schema: approvalDecisionBody },
    responses: {
      200: ['recorded', 'ApprovalEnvelope'],
      403: ['sponsor or requester (ERR_APPROVAL_SELF), or a role the rule does not name (ERR_APPROVER_NOT_NAMED)', 'Error'],
      404: ['no such approval', 'Error'],
      409: [
        'already decided by this approver (ERR_APPROVAL_DUPLICATE), no longer pending (ERR_APPROVAL_CLOSED), or the incident closed',
        'Error',
      ],
      ...ERRORS_AUTH,
    },
  },
  {
    method: 'get',
    path: '/v1/profiles',
    summary:
      'The credential profiles, and whether this agent may request each: by the profile patterns, and with incident_id by the incident binding and the policies too',
    auth: 'agent',
    query: grantListQuery,
    responses: { 200: ['profiles', 'Profiles'], 400: ['invalid query', 'Error'], ...ERRORS_AUTH },
  },
  {
    method: 'post',
    path: '/v1/grants',
    summary: 'Request a credential for an incident; the credential is in this response only',
    auth: 'agent',
    body: { schema: grantRequestBody },
    responses: {
      201: ['issued', 'IssuedGrant'],
      202: ['waiting for named humans: the approval to collect at GET /v1/approvals/{id}', 'ApprovalEnvelope'],
      400: ['invalid body', 'Error'],
      403: ['policy denies this agent the profile (decided_by names what decided)', 'Error'],
      404: ['no such incident or profile', 'Error'],
      409: ['the incident is closed', 'Error'],
      413: ['body too large', 'Error'],
      415: ['not JSON', 'Error'],
      429: ['too many grant requests from this agent or its source (Retry-After)', 'Error'],
      502: ['the provider failed', 'Error'],
      503: ['provider or store unavailable; retry later', 'Error'],
      ...ERRORS_AUTH,
    },
  },
  {
    method: 'get',
    path: '/v1/grants',
    summary: "The caller's own grants, of every incident or of one (incident_id)",
    auth: 'agent',
    query: grantListQuery,
    responses: { 200: ['grants, oldest first', 'GrantList'], 400: ['incident_id invalid', 'Error'], ...ERRORS_AUTH },
  },
  {
    method: 'get',
    path: '/v1/grants/{id}',
    summary: "One of the caller's grants (never the credential)",
    auth: 'agent',
    pathParams: ['id'],
    responses: { 200: ['the grant', 'GrantEnvelope'], 404: ['no such grant of this agent', 'Error'], ...ERRORS_AUTH },
  },
  {
    method: 'delete',
    path: '/v1/grants/{id}',
    summary: "Release one of the caller's grants early (idempotent)",
    auth: 'agent',
    pathParams: ['id'],
    responses: { 202: ['revocation under way or done', 'GrantEnvelope'], 404: ['no such grant of this agent', 'Error'], ...ERRORS_AUTH },
  },
  {
    method: 'get',
    path: '/v1/audit',
    summary: 'Audit events, oldest first, optionally of one incident; page with after=next_after',
    auth: 'operator',
    query: auditQuery,
    responses: { 200: ['events', 'AuditPage'], 400: ['invalid query', 'Error'], ...ERRORS_OPERATOR },
  },
  {
    method: 'get',
    path: '/v1/audit/verify',
    summary: 'Walks the whole audit log against its hash chain and signed checkpoints; names the first bad event',
    auth: 'operator',
    query: noQuery,
    responses: {
      200: ['the verdict (ok false names the first bad event)', 'AuditVerdict'],
      404: ['the chain is off (ERR_AUDIT_CHAIN_OFF)', 'Error'],
      ...ERRORS_OPERATOR,
    },
  },
  {
    method: 'get',
    path: '/v1/audit/export',
    summary:
      'The audit log as NDJSON (application/x-ndjson): event lines with their chain links, checkpoint lines after the event they sign',
    auth: 'operator',
    query: auditExportQuery,
    responses: {
      200: ['NDJSON lines'],
      400: ['invalid query', 'Error'],
      404: ['the chain is off (ERR_AUDIT_CHAIN_OFF)', 'Error'],
      ...ERRORS_OPERATOR,
    },
  },
  {
    method: 'get',
    path: '/v1/audit/keys',
    summary: 'The public keys that verify audit checkpoints (JWKS), the active one first',
    auth: 'operator',
    query: noQuery,
    responses: { 200: ['JWKS', 'Jwks'], 404: ['the chain is off (ERR_AUDIT_CHAIN_OFF)', 'Error'], ...ERRORS_OPERATOR },
  },
  {
    method: 'get',
    path: '/v1/audit/checkpoints',
    summary: 'Signed audit checkpoints (compact JWS, EdDSA), oldest first; page with after=next_after',
    auth: 'operator',
    query: auditCheckpointsQuery,
    responses: {
      200: ['checkpoints', 'AuditCheckpoints'],
      400: ['invalid query', 'Error'],
      404: ['the chain is off (ERR_AUDIT_CHAIN_OFF)', 'Error'],
      ...ERRORS_OPERATOR,
    },
  },
  {
    method: 'post',
    path: '/v1/providers/{name}/emergency-deny',
    summary:
      'Emergency: every credential of a provider target issued before now stops working (aws_sts: every session of the role, via a Deny on aws:TokenIssueTime); audited with the operator and reason',
    auth: 'operator',
    pathParams: ['name'],
    body: { schema: emergencyDenyBody },
    responses: {
      200: ['the deny is written; it takes effect after the provider propagates it', 'EmergencyDenied'],
      400: ['invalid body, unknown provider or target, or a provider without an emergency deny', 'Error'],
      502: ['the provider refused (ERR_PROVIDER_FAILED, ERR_PROVIDER_QUOTA)', 'Error'],
      503: ['the provider is unavailable', 'Error'],
      ...ERRORS_OPERATOR,
    },
  },
  {
    method: 'get',
    path: '/v1/agents/{agent}',
    summary: 'An agent (its id percent-encoded): its quarantine and its grants in every incident (never a credential)',
    auth: 'operator',
    pathParams: ['agent'],
    responses: { 200: ['the agent', 'AgentView'], 400: ['invalid agent id', 'Error'], ...ERRORS_OPERATOR },
  },
  {
    method: 'post',
    path: '/v1/agents/{agent}/quarantine',
    summary: 'Kill switch: revoke every grant of the agent in every incident and refuse it new ones (ERR_AGENT_QUARANTINED) until lifted',
    auth: 'operator',
    pathParams: ['agent'],
    body: { schema: reasonBody },
    responses: {
      201: ['quarantined now; its grants are being revoked', 'QuarantineAnswer'],
      200: ['was already quarantined; any live grant left is revoked again', 'QuarantineAnswer'],
      400: ['invalid agent id or body', 'Error'],
      ...ERRORS_OPERATOR,
    },
  },
  {
    method: 'post',
    path: '/v1/agents/{agent}/quarantine/lift',
    summary: 'Lift a quarantine, with a reason: the agent may be granted credentials again',
    auth: 'operator',
    pathParams: ['agent'],
    body: { schema: reasonBody },
    responses: {
      200: ['lifted', 'QuarantineAnswer'],
      400: ['invalid agent id or body', 'Error'],
      409: ['the agent is not quarantined (ERR_NOT_QUARANTINED)', 'Error'],
      ...ERRORS_OPERATOR,
    },
  },
  {
    method: 'post',
    path: '/v1/webhooks/{source}',
    summary:
      'An incident webhook (source pagerduty, incidentio or generic), signed over its raw body (docs/incidents.md); recorded durably, then applied',
    auth: 'signature',
    pathParams: ['source'],
    body: {
      jsonSchema: { type: 'object', description: "The source's own event payload (the generic shape: docs/incidents.md)" },
      contentType: 'application/json',
    },
    responses: {
      202: ['accepted (recorded in the inbox), or ignored (nothing to do for this event)', 'WebhookReceipt'],
      200: ['a duplicate delivery: nothing changes', 'WebhookReceipt'],
      400: ['malformed headers or payload (ERR_WEBHOOK_MALFORMED, ERR_WEBHOOK_PAYLOAD)', 'Error'],
      401: ['the signature does not verify, or the timestamp is out of its window (ERR_WEBHOOK_SIGNATURE)', 'Error'],
      404: ['the source is not configured (ERR_WEBHOOK_NOT_CONFIGURED)', 'Error'],
      413: ['the body is larger than webhooks.bodyLimitBytes', 'Error'],
      415: ['the body is not application/json', 'Error'],
      503: ['the store is unavailable: retry', 'Error'],
    },
  },
  {
    method: 'post',
    path: '/v1/signals',
    summary:
      'A deviation signal from a detection system (docs/deviation.md): signed with Standard Webhooks under a deviation.sources secret, or sent with an operator-issuer token granting signals.send; queued durably, decided by policy',
    auth: 'signature-or-operator',
    body: { schema: signalBody },
    responses: {
      202: ['accepted: queued; the policy decides the outcome at once (audited as deviation.decided)', 'SignalReceipt'],
      200: ['a duplicate (same source and id): nothing changes', 'SignalReceipt'],
      400: ['malformed headers or body, or a subject format nobody declares (ERR_WEBHOOK_MALFORMED, ERR_VALIDATION)', 'Error'],
      401: ['no signature and no token, a signature that does not verify, or an invalid token', 'Error'],
      403: ['the token lacks the signals.send permission', 'Error'],
      404: [
        'the subject names no grant or agent the broker issued for (ERR_SIGNAL_SUBJECT_UNKNOWN, ERR_INCIDENT_NOT_FOUND); audited',
        'Error',
      ],
      413: ['the body is larger than webhooks.bodyLimitBytes', 'Error'],
      415: ['the body is not application/json', 'Error'],
      422: ['the credential was granted for another incident than the one named (ERR_SIGNAL_MISMATCH)', 'Error'],
      503: ['the store is unavailable: retry', 'Error'],
    },
  },
  {
    method: 'get',
    path: '/v1/session',
    summary: 'Who the operator token names and what its roles permit (the console shows only what the API would accept)',
    auth: 'operator',
    query: noQuery,
    responses: { 200: ['the session', 'Session'], 400: ['a query parameter was given', 'Error'], ...ERRORS_AUTH },
  },
  {
    method: 'get',
    path: '/v1/console/sign-in',
    summary:
      'How the console signs people in (docs/console.md): the human IdP (authorization code with PKCE) or, in development mode, the dev issuer',
    auth: 'none',
    query: noQuery,
    responses: { 200: ['the sign-in method', 'ConsoleSignIn'], 404: ['the console is off (ERR_CONSOLE_OFF)', 'Error'] },
  },
  {
    method: 'post',
    path: '/v1/console/dev-token',
    summary:
      'Development sign-in: an operator token from the development issuer for the subject and roles given (development mode with devIssuer only)',
    auth: 'none',
    body: { schema: devTokenBody() },
    responses: {
      200: ['the token (Cache-Control: no-store)', 'DevToken'],
      400: ['invalid body, or a role the config does not know', 'Error'],
      404: ['not development mode, or no devIssuer', 'Error'],
      415: ['the body is not application/json', 'Error'],
    },
  },
  {
    method: 'post',
    path: '/v1/store/acknowledge-loss',
    summary:
      'Acknowledge a detected store data loss (Redis lost its data): the broker serves again on the emptied store; audited with the operator and reason',
    auth: 'operator',
    body: { schema: acknowledgeLossBody },
    responses: {
      200: ['acknowledged', 'LossAcknowledged'],
      400: ['invalid body', 'Error'],
      409: ['no loss is recorded (ERR_NO_STORE_LOSS)', 'Error'],
      ...ERRORS_OPERATOR,
    },
  },
];

const GRANT_STATES = [...MODEL_GRANT_STATES];
const dateTime = { type: 'string', format: 'date-time' };

const SCHEMAS: Json = {
  Error: {
    type: 'object',
    required: ['error'],
    properties: {
      error: {
        type: 'object',
        required: ['code', 'message'],
        properties: {
          code: { type: 'string', pattern: '^ERR_[A-Z_]+$' },
          message: { type: 'string' },
          decided_by: {
            type: 'array',
            items: { type: 'string' },
            description: 'ERR_POLICY_DENIED: the ids of the policies (or config rules) that denied',
          },
        },
      },
    },
  },
  Status: {
    type: 'object',
    required: ['status'],
    properties: {
      status: { type: 'string' },
      store: { type: 'string' },
      persistence: { enum: ['durable', 'volatile'] },
      reason: { enum: ['store_unreachable', 'store_data_lost', 'store_unverified'] },
      loss_detected_at: dateTime,
    },
  },
  Quarantine: {
    type: 'object',
    required: ['state'],
    properties: {
      state: { type: 'string', enum: ['none', 'quarantined', 'lifted'] },
      agent: { type: 'string' },
      at: dateTime,
      by: { type: 'string' },
      reason: { type: 'string' },
      since: dateTime,
    },
  },
  QuarantineAnswer: {
    type: 'object',
    required: ['quarantine'],
    properties: { quarantine: ref('Quarantine'), grants_to_revoke: { type: 'integer' } },
  },
  AgentView: {
    type: 'object',
    required: ['agent', 'quarantine', 'grants'],
    properties: { agent: { type: 'string' }, quarantine: ref('Quarantine'), grants: { type: 'array', items: ref('Grant') } },
  },
  SignalReceipt: {
    type: 'object',
    required: ['status', 'signal'],
    properties: {
      status: { type: 'string', enum: ['accepted', 'duplicate'] },
      signal: {
        type: 'object',
        required: ['id', 'source', 'agent'],
        properties: {
          id: { type: 'string' },
          source: { type: 'string', description: 'The deviation.sources name that signed it, or the operator token subject.' },
          agent: { type: 'string', description: 'The agent the subject resolved to.' },
          incident_id: { type: 'string' },
          grant_id: { type: 'string' },
        },
      },
    },
  },
  WebhookReceipt: {
    type: 'object',
    required: ['status', 'delivery_id'],
    properties: {
      status: { type: 'string', enum: ['accepted', 'duplicate', 'ignored'] },
      delivery_id: { type: 'string' },
      reason: { type: 'string', description: 'Why an ignored event needs nothing.' },
    },
  },
  EmergencyDenied: {
    type: 'object',
    required: ['denied'],
    properties: {
      denied: {
        type: 'object',
        required: ['provider', 'target', 'denied_before', 'until', 'by', 'reason'],
        properties: {
          provider: { type: 'string' },
          target: { type: 'string' },
          denied_before: dateTime,
          until: dateTime,
          by: { type: 'string' },
          reason: { type: 'string' },
        },
      },
    },
  },
  LossAcknowledged: {
    type: 'object',
    required: ['acknowledged'],
    properties: {
      acknowledged: {
        type: 'object',
        required: ['loss_id', 'detected_at', 'by', 'reason'],
        properties: { loss_id: { type: 'string' }, detected_at: dateTime, by: { type: 'string' }, reason: { type: 'string' } },
      },
    },
  },
  Session: {
    type: 'object',
    required: ['subject', 'issuer', 'roles', 'permissions', 'expires_at'],
    properties: {
      subject: { type: 'string' },
      issuer: { type: 'string' },
      roles: { type: 'array', items: { type: 'string' } },
      permissions: { type: 'array', items: { type: 'string' } },
      expires_at: dateTime,
    },
  },
  ConsoleSignIn: {
    type: 'object',
    required: ['kind'],
    properties: {
      kind: { enum: ['oidc', 'development'] },
      roles: { type: 'array', items: { type: 'string' }, description: 'development: the roles a person may sign in with' },
      issuer: { type: 'string', description: 'oidc: the authorization server' },
      client_id: { type: 'string' },
      scopes: { type: 'array', items: { type: 'string' } },
      token: { enum: ['access_token', 'id_token'], description: 'oidc: which token the console sends to the broker' },
      authorization_params: { type: 'object', additionalProperties: { type: 'string' } },
    },
  },
  DevToken: {
    type: 'object',
    required: ['token', 'token_type', 'expires_in'],
    properties: { token: { type: 'string' }, token_type: { const: 'Bearer' }, expires_in: { type: 'integer' } },
  },
  JwkSet: { type: 'object', required: ['keys'], properties: { keys: { type: 'array', items: { type: 'object' } } } },
  Introspection: {
    type: 'object',
    required: ['active'],
    properties: {
      active: { type: 'boolean' },
      token_type: { type: 'string' },
      scope: { type: 'string' },
      iss: { type: 'string' },
      sub: { type: 'string' },
      aud: {},
      exp: { type: 'integer' },
      iat: { type: 'integer' },
      jti: { type: 'string' },
      act: { type: 'object' },
      incident: { type: 'string' },
      grant: { type: 'string' },
      profile: { type: 'string' },
    },
  },
  Incident: {
    type: 'object',
    required: ['id', 'source', 'title', 'severity', 'status', 'opened_at', 'opened_by'],
    properties: {
      id: { type: 'string' },
      source: { type: 'string' },
      title: { type: 'string' },
      severity: { enum: ['sev1', 'sev2', 'sev3', 'sev4', 'sev5'] },
      status: { enum: ['open', 'closed'] },
      opened_at: dateTime,
      opened_by: { type: 'string' },
      closed_at: dateTime,
      closed_by: { type: 'string' },
      agents: {
        type: 'array',
        items: { type: 'string' },
        description: 'Agents assigned to the incident (anchored patterns); absent: every agent a profile allows',
      },
      major: {
        type: 'object',
        description: 'Break-glass: major-incident mode, while on',
        properties: { started_at: dateTime, ends_at: dateTime, by: { type: 'string' }, reason: { type: 'string' } },
      },
    },
  },
  IncidentEnvelope: { type: 'object', required: ['incident'], properties: { incident: ref('Incident') } },
  IncidentList: {
    type: 'object',
    required: ['incidents'],
    properties: {
      incidents: {
        type: 'array',
        items: {
          allOf: [
            ref('Incident'),
            {
              type: 'object',
              required: ['live_grants'],
              properties: { live_grants: { type: 'integer', description: 'grants issued or being revoked, not yet expired' } },
            },
          ],
        },
      },
    },
  },
  Grant: {
    type: 'object',
    required: ['id', 'incident_id', 'profile', 'provider', 'agent', 'purpose', 'state', 'ttl_seconds', 'created_at', 'expires_at'],
    properties: {
      id: { type: 'string', pattern: '^grt_[A-Za-z0-9_-]{22}$' },
      incident_id: { type: 'string' },
      profile: { type: 'string' },
      provider: { type: 'string' },
      agent: { type: 'string' },
      purpose: { type: 'string' },
      state: { enum: GRANT_STATES },
      ttl_seconds: { type: 'integer' },
      created_at: dateTime,
      expires_at: dateTime,
      revoke_reason: { type: 'string' },
      revoke_requested_at: dateTime,
      ended_at: dateTime,
      revocation_confirmed: { type: 'boolean' },
      revocation_effect: {
        type: 'string',
        enum: ['denied_pending_propagation'],
        description: 'In an incident report: revoked by a Deny that takes effect after upstream propagation (AWS STS).',
      },
    },
  },
  GrantEnvelope: { type: 'object', required: ['grant'], properties: { grant: ref('Grant') } },
  GrantList: { type: 'object', required: ['grants'], properties: { grants: { type: 'array', items: ref('Grant') } } },
  IssuedGrant: {
    type: 'object',
    required: ['grant', 'credential'],
    properties: {
      grant: ref('Grant'),
      credential: {
        type: 'object',
        description:
          "The provider's credential (e.g. access_token, or vault_token, or a dynamic secret's fields, or AWS AccessKeyId, SecretAccessKey, SessionToken, Expiration and credential_process). Shown once.",
        additionalProperties: true,
      },
      ttl: {
        type: 'object',
        required: ['granted_seconds', 'lifetime_seconds'],
        description: 'What was asked, what was granted and how long the credential really lives; `adjusted` says why they differ.',
        properties: {
          requested_seconds: { type: 'integer' },
          granted_seconds: { type: 'integer' },
          lifetime_seconds: { type: 'integer' },
          adjusted: { type: 'string', enum: ['raised_to_provider_minimum', 'capped_to_maximum', 'shortened_by_provider'] },
        },
      },
    },
  },
  IncidentReport: {
    type: 'object',
    required: ['incident', 'revocation'],
    properties: {
      incident: ref('Incident'),
      grants: { type: 'array', items: ref('Grant'), description: 'Absent with grants=false.' },
      revocation: {
        type: 'object',
        required: [
          'total',
          'by_state',
          'by_provider',
          'confirmed',
          'unconfirmed',
          'denied_pending_propagation',
          'outstanding',
          'first_revoked_at',
          'last_revoked_at',
          'close_to_all_revoked_ms',
        ],
        properties: {
          total: { type: 'integer' },
          by_state: { type: 'object', additionalProperties: { type: 'integer' } },
          by_provider: {
            type: 'object',
            description: 'per provider, its grants by state (states without grants left out)',
            additionalProperties: { type: 'object', additionalProperties: { type: 'integer' } },
          },
          confirmed: { type: 'integer' },
          unconfirmed: { type: 'integer' },
          denied_pending_propagation: {
            type: 'integer',
            description: 'Unconfirmed grants revoked by a Deny effective after propagation (AWS STS).',
          },
          outstanding: { type: 'integer' },
          first_revoked_at: { type: ['string', 'null'], format: 'date-time' },
          last_revoked_at: { type: ['string', 'null'], format: 'date-time' },
          close_to_all_revoked_ms: { type: ['integer', 'null'] },
        },
      },
    },
  },
  Profiles: {
    type: 'object',
    required: ['profiles'],
    properties: {
      profiles: {
        type: 'array',
        items: {
          type: 'object',
          required: ['name', 'provider', 'tier', 'max_ttl_seconds', 'allowed', 'decided_by', 'approval_required'],
          properties: {
            name: { type: 'string' },
            description: { type: 'string' },
            provider: { type: 'string' },
            tier: { type: 'string' },
            max_ttl_seconds: { type: 'integer' },
            allowed: { type: 'boolean' },
            approval_required: { type: 'boolean', description: 'Allowed, but a grant waits for named humans to approve it first (202).' },
            decided_by: {
              type: 'array',
              items: { type: 'string' },
              description: 'What decided: the profile patterns, the incident binding, policies (policy:<id>).',
            },
          },
        },
      },
    },
  },
  Approval: {
    type: 'object',
    required: ['id', 'state', 'incident_id', 'agent', 'profile', 'tier', 'ttl_seconds', 'purpose', 'quorum', 'approvals'],
    properties: {
      id: { type: 'string' },
      state: { type: 'string', enum: ['pending', 'approved', 'issuing', 'issued', 'denied', 'expired', 'cancelled'] },
      incident_id: { type: 'string' },
      agent: { type: 'string' },
      profile: { type: 'string' },
      provider: { type: 'string' },
      tier: { type: 'string' },
      scope: { type: 'object' },
      ttl_seconds: { type: 'integer' },
      purpose: { type: 'string' },
      created_at: dateTime,
      expires_at: dateTime,
      quorum: { type: 'integer' },
      approvals: { type: 'integer' },
      grant_id: { type: 'string' },
      end_reason: { type: 'string' },
      approvers: { type: 'array', items: { type: 'string' }, description: 'Operators only: the roles that may approve.' },
      decisions: { type: 'array', items: { type: 'object' }, description: 'Operators only: who decided what, why and when.' },
    },
  },
  ApprovalEnvelope: { type: 'object', required: ['approval'], properties: { approval: ref('Approval') } },
  ApprovalList: { type: 'object', required: ['approvals'], properties: { approvals: { type: 'array', items: ref('Approval') } } },
  ApprovalIssued: {
    type: 'object',
    required: ['approval', 'grant', 'credential'],
    properties: { approval: ref('Approval'), grant: { type: 'object' }, credential: { type: 'object' } },
  },
  MajorEnded: {
    type: 'object',
    required: ['incident', 'grants_revoking'],
    properties: { incident: ref('Incident'), grants_revoking: { type: 'integer' } },
  },
  PostIncidentReport: {
    type: 'object',
    required: ['incident', 'generated_at', 'agents', 'break_glass', 'revocation'],
    properties: {
      incident: { type: 'object' },
      generated_at: dateTime,
      agents: { type: 'array', items: { type: 'object' } },
      break_glass: { type: 'array', items: { type: 'object' } },
      revocation: { type: 'object' },
    },
  },
  AuditVerdict: {
    type: 'object',
    required: ['ok', 'events', 'last_seq', 'sealed_through', 'unsealed', 'checkpoints', 'checkpoints_matched', 'first_bad'],
    properties: {
      ok: { type: 'boolean' },
      events: { type: 'integer', description: 'Events walked.' },
      last_seq: { type: 'integer' },
      sealed_through: { type: 'integer', description: 'The last seq whose stored chain link was checked.' },
      unsealed: { type: 'integer', description: 'Events appended but not linked yet (the sealer runs every audit.chain.sealIntervalMs).' },
      checkpoints: { type: 'integer' },
      checkpoints_matched: { type: 'integer' },
      first_bad: {
        type: ['object', 'null'],
        required: ['seq', 'problem', 'detail'],
        properties: {
          seq: { type: 'integer' },
          problem: {
            type: 'string',
            enum: ['modified', 'missing', 'out_of_order', 'checkpoint_mismatch', 'bad_checkpoint', 'truncated', 'unreadable'],
          },
          detail: { type: 'string' },
        },
      },
    },
  },
  Jwks: {
    type: 'object',
    required: ['keys'],
    properties: { keys: { type: 'array', items: { type: 'object' } } },
  },
  AuditCheckpoints: {
    type: 'object',
    required: ['checkpoints', 'next_after'],
    properties: {
      checkpoints: {
        type: 'array',
        items: { type: 'object', required: ['seq', 'jws'], properties: { seq: { type: 'integer' }, jws: { type: 'string' } } },
      },
      next_after: { type: ['integer', 'null'] },
    },
  },
  AuditPage: {
    type: 'object',
    required: ['events', 'next_after'],
    properties: {
      events: {
        type: 'array',
        items: {
          type: 'object',
          required: ['seq', 'at', 'type', 'actor'],
          properties: {
            seq: { type: 'integer' },
            at: dateTime,
            type: { type: 'string' },
            actor: { type: 'string' },
            incidentId: { type: 'string' },
            grantId: { type: 'string' },
            profile: { type: 'string' },
            reason: { type: 'string' },
            data: { type: 'object' },
          },
        },
      },
      next_after: { type: ['integer', 'null'] },
    },
  },
};

function operationObject(op: Operation): Json {
  const parameters: Json[] = [
    ...(op.pathParams ?? []).map((name) => ({ name, in: 'path', required: true, schema: { type: 'string' } })),
    ...queryParameters(op.query),
  ];
  const body =
    op.body === undefined
      ? undefined
      : 'schema' in op.body
        ? { required: true, content: { [op.body.contentType ?? 'application/json']: { schema: inputSchema(op.body.schema) } } }
        : { required: true, content: { [op.body.contentType]: { schema: op.body.jsonSchema } } };
  const responses = Object.fromEntries(
    Object.entries(op.responses).map(([status, [description, schema]]) => [
      status,
      schema === undefined ? { description } : { description, content: { 'application/json': { schema: ref(schema) } } },
    ]),
  );
  return {
    summary: op.summary,
    // A webhook is authenticated by its signature over the body, which OpenAPI has no scheme for.
    ...(op.auth === 'none' || op.auth === 'signature'
      ? { security: [] }
      : op.auth === 'signature-or-operator'
        ? { security: [{}, { operatorToken: [] }] }
        : { security: [{ [op.auth === 'agent' ? 'agentToken' : 'operatorToken']: [] }] }),
    ...(parameters.length > 0 ? { parameters } : {}),
    ...(body ? { requestBody: body } : {}),
    responses,
  };
}

function queryParameters(query: z.ZodObject | undefined): Json[] {
  if (!query) return [];
  const schema = inputSchema(query) as { properties?: Record<string, Json>; required?: string[] };
  return Object.entries(schema.properties ?? {}).map(([name, s]) => ({
    name,
    in: 'query',
    required: (schema.required ?? []).includes(name),
    schema: s,
  }));
}

/** The version of the v1 HTTP API this document describes (not the package version). */
const API_VERSION = '1.0.0';

export function buildOpenApi(): Json {
  const paths: Record<string, Json> = {};
  for (const op of OPERATIONS) paths[op.path] = { ...paths[op.path], [op.method]: operationObject(op) };
  return {
    openapi: '3.1.0',
    info: {
      title: 'Quartermaster',
      version: API_VERSION,
      description: 'Ephemeral credential broker for incident-response agents. Errors are {"error":{"code","message"}} with a stable code.',
    },
    paths,
    components: {
      schemas: SCHEMAS,
      securitySchemes: {
        agentToken: {
          type: 'http',
          scheme: 'bearer',
          bearerFormat: 'JWT',
          description: 'An agent workload token: a SPIFFE JWT-SVID or a token of a configured OIDC issuer',
        },
        operatorToken: {
          type: 'http',
          scheme: 'bearer',
          bearerFormat: 'JWT',
          description: 'A human operator token from the configured operator issuer, with the operator role',
        },
      },
    },
  };
}
