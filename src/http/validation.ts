/** Request validation: zod schemas, strict objects, errors that name the offending field. */
import { z } from 'zod';
import { BrokerError } from '../errors.js';
import { hasUnsafeCharacters } from '../logging.js';
import { SEVERITIES, SIGNAL_SEVERITIES } from '../model.js';
import { isValidPattern } from '../patterns.js';

/** Incident ids come from external systems; keep them printable, bounded and key-safe. */
export const incidentIdSchema = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/, 'must be 1-128 characters of A-Z a-z 0-9 . _ : - starting with a letter or digit');
export const grantIdSchema = z.string().regex(/^grt_[A-Za-z0-9_-]{22}$/, 'not a grant id');
export const approvalIdSchema = z.string().regex(/^apr_[A-Za-z0-9_-]{22}$/, 'not an approval id');

/**
 * Free text from clients (titles, purposes) is shown in reports, logs and later a console: no
 * control or format characters (NUL, ANSI escapes, bidi overrides), as identity refuses them in
 * subjects (logging.ts hasUnsafeCharacters).
 */
const plainText = (max: number) =>
  z
    .string()
    .min(1)
    .max(max)
    .refine((text) => !hasUnsafeCharacters(text), 'must not contain control or format characters');

/** Agents assigned to an incident: anchored patterns over the agent id, as a profile's. */
const agentPatterns = z.array(plainText(512).refine(isValidPattern, 'must be a valid regular expression')).min(1).max(50);

export const openIncidentBody = z
  .object({
    id: incidentIdSchema,
    title: plainText(500),
    severity: z.enum(SEVERITIES),
    agents: agentPatterns.optional(),
  })
  .strict();

export const grantRequestBody = z
  .object({
    incident_id: incidentIdSchema,
    profile: z.string().min(1).max(64),
    ttl_seconds: z
      .number()
      .int()
      .positive()
      .max(7 * 86_400)
      .optional(),
    purpose: z.string().trim().pipe(plainText(500)),
  })
  .strict();

export const acknowledgeLossBody = z
  .object({
    /** Why serving on the emptied store is acceptable; kept in the audit log. */
    reason: plainText(500),
  })
  .strict();

export const emergencyDenyBody = z
  .object({
    /** What to deny, in the provider's terms: for aws_sts the role ARN. */
    target: z.string().min(1).max(2048),
    /** Why; kept in the audit log. */
    reason: plainText(500),
  })
  .strict();

export const reasonBody = z
  .object({
    /** Why; kept in the audit log. */
    reason: plainText(500),
  })
  .strict();

/** An agent id as agents are named: a SPIFFE ID or `issuer#subject`; in a path, percent-encoded. */
export const agentIdSchema = z
  .string()
  .min(1)
  .max(2048)
  .regex(/^[^\p{Cc}]+$/u, 'must not contain control characters');

/** A deviation signal (docs/deviation.md "Sending signals"). */
export const signalBody = z
  .object({
    /** The sender's id for this signal: a resend with the same id is a duplicate. */
    id: z
      .string()
      .regex(
        /^[A-Za-z0-9][A-Za-z0-9._:@/-]{0,127}$/u,
        'must be 1-128 characters of A-Z a-z 0-9 . _ : @ / - starting with a letter or digit',
      ),
    /** What was seen, in the sender's words: `cloudtrail.unusual_api`, `edr.process_injection`. */
    kind: z.string().regex(/^[a-z0-9][a-z0-9_.:-]{0,63}$/u, 'must be 1-64 characters of a-z 0-9 _ . : - starting with a letter or digit'),
    severity: z.enum(SIGNAL_SEVERITIES),
    /** Who or what it is about: `agent` (an agent id), `grant_id`, `jti`, or a provider's format (`aws_access_key_id`…). */
    subject: z
      .object({
        format: z.string().regex(/^[a-z][a-z0-9_]{0,31}$/u, 'must be a subject format'),
        id: z
          .string()
          .min(1)
          .max(2048)
          .regex(/^[^\p{Cc}]+$/u, 'must not contain control characters'),
      })
      .strict(),
    /** The incident it concerns; for a credential, it must be the one the credential was granted for. */
    incident_id: incidentIdSchema.optional(),
    summary: plainText(1000).optional(),
    /** References to the evidence (a SIEM search URL, an event id), at most 20. */
    evidence: z.array(plainText(2048)).max(20).optional(),
    /** When the sender saw it (RFC 3339). */
    observed_at: z.iso.datetime({ offset: true }).optional(),
  })
  .strict();

export const providerNameSchema = z.string().regex(/^[a-z][a-z0-9_]{0,63}$/u, 'must be a provider name');

export const updateIncidentBody = z
  .object({
    title: plainText(500).optional(),
    severity: z.enum(SEVERITIES).optional(),
    /** The agents assigned to it; null ends the assignment. */
    agents: agentPatterns.nullable().optional(),
  })
  .strict()
  .refine((body) => body.title !== undefined || body.severity !== undefined || body.agents !== undefined, 'give title, severity or agents');

/** `?grants=false` leaves the grant list out of an incident's report (pollers of large incidents). */
/** GET /v1/incidents: the newest `limit`, open, closed or both. */
export const incidentListQuery = z
  .object({
    status: z.enum(['open', 'closed']).optional(),
    limit: z.coerce.number().int().min(1).max(500).default(100),
  })
  .strict();

export const incidentReadQuery = z
  .object({
    grants: z.enum(['true', 'false']).default('true'),
  })
  .strict();

/** An agent lists its own grants, of one incident or of all. */
export const grantListQuery = z
  .object({
    incident_id: incidentIdSchema.optional(),
  })
  .strict();

export const auditQuery = z
  .object({
    incident: incidentIdSchema.optional(),
    after: z.coerce.number().int().min(0).optional(),
    limit: z.coerce.number().int().min(1).max(1000).default(100),
  })
  .strict();

export const approvalListQuery = z
  .object({
    status: z.enum(['pending', 'approved', 'issuing', 'open']).default('pending'),
    incident_id: incidentIdSchema.optional(),
  })
  .strict();

export const approvalPollQuery = z
  .object({
    /** Seconds to wait for a change (long-poll), capped by approvals.maxWaitSeconds; operators get the record at once. */
    wait: z.coerce.number().int().min(0).max(60).default(0),
  })
  .strict();

export const approvalDecisionBody = z
  .object({
    decision: z.enum(['approve', 'deny']),
    /** Required: kept in the audit log beside the approver's name. */
    reason: plainText(500),
  })
  .strict();

export const majorModeBody = z
  .object({
    /** Why; kept in the audit log and the report. */
    reason: plainText(500),
    /** How long the mode lasts, at most breakGlass.maxSeconds. */
    duration_seconds: z.number().int().min(60).max(86_400),
  })
  .strict();

export const reportQuery = z
  .object({
    format: z.enum(['json', 'markdown']).default('json'),
  })
  .strict();

/** A route that takes no query parameters refuses any. */
export const noQuery = z.object({}).strict();

export const auditExportQuery = z
  .object({
    /** Export the events after this seq (0: from the start). */
    after: z.coerce.number().int().min(0).default(0),
  })
  .strict();

export const auditCheckpointsQuery = z
  .object({
    after: z.coerce.number().int().min(0).default(0),
    limit: z.coerce.number().int().min(1).max(1000).default(100),
  })
  .strict();

export function parseWith<S extends z.ZodType>(schema: S, value: unknown, where: 'body' | 'query' | 'path'): z.output<S> {
  if (where === 'body' && (value === undefined || value === null)) {
    throw new BrokerError('ERR_UNSUPPORTED_MEDIA_TYPE', 415, 'expected a JSON body with Content-Type: application/json');
  }
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const first = result.error.issues.slice(0, 5).map((i) => `${[where, ...i.path.map(String)].join('.')}: ${i.message}`);
  throw new BrokerError('ERR_VALIDATION', 400, first.join('; '));
}

/**
 * POST /v1/console/dev-token: a subject and at least one role, each one the config knows
 * (`roles`; openapi.json describes any string).
 */
export const devTokenBody = (roles?: readonly string[]) =>
  z
    .object({
      subject: z.string().regex(/^[A-Za-z0-9._%+@-]{1,200}$/u, 'letters, digits and . _ % + @ - only (an e-mail address or a user name)'),
      roles: z
        .array(roles === undefined ? z.string().min(1) : z.enum(roles as [string, ...string[]]))
        .min(1)
        .max(roles?.length ?? 50),
    })
    .strict();
