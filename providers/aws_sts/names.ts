/**
 * The names and tags a session carries, within STS's limits
 * (https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRole.html,
 * https://docs.aws.amazon.com/IAM/latest/UserGuide/id_session-tags.html):
 *
 *  - RoleSessionName: 2–64 of `[\w+=,.@-]`: `qm-<grant id>` (a grant id is `grt_` + base64url);
 *  - SourceIdentity: 2–64 of `[\w+=,.@-]`, not starting with `aws:`; it follows the session
 *    through role chaining and into CloudTrail, so it names the agent;
 *  - session tag values: up to 256 of letters, digits, spaces and `_ . : / = + - @`.
 *
 * Where an id does not fit, the readable part is kept and a digest of the whole id is appended,
 * so two different ids never share a tag value or a source identity. The Deny statements list
 * the very same tag values (tagValue), so what is denied is exactly what was tagged.
 */
import { createHash } from 'node:crypto';

const SESSION_NAME_MAX = 64;
const TAG_VALUE_MAX = 256;

const digest = (text: string): string => createHash('sha256').update(text).digest('hex').slice(0, 12);

/** `text` made of `allowed` characters and at most `max` long; changed or cut text gets `<sep><digest>`. */
function fit(text: string, allowed: RegExp, max: number, sep: string): string {
  const kept = [...text].map((c) => (allowed.test(c) ? c : '_')).join('');
  if (kept === text && kept.length <= max) return kept;
  const suffix = `${sep}${digest(text)}`;
  return `${[...kept].slice(0, max - suffix.length).join('')}${suffix}`;
}

export const sessionNameOf = (grantId: string): string => fit(`qm-${grantId}`, /^[\w+=,.@-]$/u, SESSION_NAME_MAX, '-');

/** The agent as a source identity: its id without the URL scheme, `/` and `#` as `.` and `@`. */
export function sourceIdentityOf(agentId: string): string {
  const bare = agentId
    .replace(/^[a-z][a-z0-9+.-]*:\/\//iu, '')
    .replaceAll('/', '.')
    .replaceAll('#', '@');
  const id = fit(bare, /^[\w+=,.@-]$/u, SESSION_NAME_MAX, '-');
  return id.toLowerCase().startsWith('aws:') || id.length < 2 ? fit(`qm-${id}`, /^[\w+=,.@-]$/u, SESSION_NAME_MAX, '-') : id;
}

/** A session tag value (and the value a Deny statement lists for it). */
export const tagValue = (text: string): string => fit(text, /^[\p{L}\p{Z}\p{N}_.:/=+@-]$/u, TAG_VALUE_MAX, '+');

/** The session tags every credential carries; the incident's is what closes it. */
export const TAG_KEYS = { incident: 'incident_id', grant: 'grant_id', agent: 'agent' } as const;
