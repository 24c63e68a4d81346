/**
 * What the three mappers share: a zod parse that fails as WebhookPayloadError naming the field, a
 * strict RFC 3339 time, an http(s) link and the incident id a webhook may carry.
 */
import { z } from 'zod';
import { incidentIdSchema } from '../../http/validation.js';
import { WebhookPayloadError } from './event.js';

/** `{ key: value }`, or `{}` when the value is null or absent: optional fields stay absent (exactOptionalPropertyTypes). */
export const optional = <K extends string, V>(key: K, value: V | null | undefined): { [P in K]?: V } =>
  (value === null || value === undefined ? {} : { [key]: value }) as { [P in K]?: V };

/** Parses `value` with `schema` or throws WebhookPayloadError for the first issue, its path joined by dots. */
export function parsePayload<S extends z.ZodType>(schema: S, value: unknown): z.output<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  if (issue === undefined) throw new WebhookPayloadError('', 'payload: not valid');
  const segments = issue.path.map(String);
  // An unknown field of a strict object is reported on the object; name the field itself.
  if (issue.code === 'unrecognized_keys' && issue.keys[0] !== undefined) segments.push(issue.keys[0]);
  const path = segments.join('.');
  throw new WebhookPayloadError(path, `${path === '' ? 'payload' : path}: ${issue.message}`);
}

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(?:[Zz]|([+-])(\d{2}):(\d{2}))$/u;
const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31] as const;

const isLeapYear = (year: number): boolean => (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;

/**
 * An RFC 3339 date-time (the ISO 8601 profile with a mandatory time zone: `Z` or `±hh:mm`) as ms since
 * the epoch, or undefined. Strict: a date that does not exist (2021-02-29), a time without a zone, a
 * space for the `T`, a leap second (`:60`, which a JavaScript time cannot hold) are all refused.
 * Fractions beyond milliseconds are truncated (incident.io sends microseconds).
 */
export function parseRfc3339(text: string): number | undefined {
  const match = RFC3339.exec(text);
  if (match === null) return undefined;
  const [year, month, day, hour, minute, second] = match.slice(1, 7).map(Number) as [number, number, number, number, number, number];
  const fraction = match[7];
  const [sign, offsetHours, offsetMinutes] = [match[8], Number(match[9] ?? 0), Number(match[10] ?? 0)];
  if (month < 1 || month > 12 || day < 1 || hour > 23 || minute > 59 || second > 59) return undefined;
  const lastDay = month === 2 && isLeapYear(year) ? 29 : DAYS_IN_MONTH[month - 1];
  if (lastDay === undefined || day > lastDay) return undefined;
  if (offsetHours > 23 || offsetMinutes > 59) return undefined;
  const ms = fraction === undefined ? 0 : Number(fraction.padEnd(3, '0').slice(0, 3));
  const date = new Date(0);
  date.setUTCFullYear(year, month - 1, day); // not Date.UTC: it reads years 0-99 as 1900-1999
  date.setUTCHours(hour, minute, second, ms);
  const offset = (offsetHours * 60 + offsetMinutes) * 60_000;
  return date.getTime() - (sign === '-' ? -offset : offset);
}

/** An RFC 3339 date-time string, parsed to ms since the epoch. */
export const rfc3339 = z.string().transform((text, ctx) => {
  const ms = parseRfc3339(text);
  if (ms === undefined) {
    ctx.addIssue({ code: 'custom', message: 'must be an RFC 3339 date-time with a time zone, like 2024-05-01T12:00:00Z' });
    return z.NEVER;
  }
  return ms;
});

/** A link shown to humans: http or https only (never javascript:, data:, file:). */
export const httpUrl = z.url({ protocol: /^https?$/u }).max(2048);

/**
 * The incident's id at its source. It becomes the broker incident's id, so it must be what
 * POST /v1/incidents accepts (src/http/validation.ts incidentIdSchema): PagerDuty's
 * "Q2CKYRLH85UNN4" and incident.io's ULIDs are.
 */
export const sourceIncidentId = incidentIdSchema;
