/**
 * The broker-owned inline policy of a role (`revocationPolicyName`): compact Deny statements that
 * end STS sessions, which cannot be revoked one by one
 * (https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_use_revoke-sessions.html).
 *
 *  - closed incidents: `aws:PrincipalTag/incident_id` StringEquals [many incident tag values];
 *  - single grants (released, deviating): `aws:userid` StringEquals [`<RoleId>:<session name>`…];
 *  - the emergency: `aws:TokenIssueTime` DateLessThan <T>: every session of the role issued before T.
 *
 * An entry is needed only while a credential it denies can still be valid, so entries are kept in
 * statements by the UTC hour they are needed until (`QmIncidents2026120115` = until the end of
 * 15:00–16:00 UTC on 2026-12-01): garbage collection drops whole statements whose hour has passed,
 * and the policy stays a handful of statements however many incidents closed. The document says
 * everything about itself, so any replica (or a broker that lost its store) reads and extends it.
 * Statements the broker did not write are kept as they are.
 */

const HOUR_MS = 3_600_000;

export type DenyKind = 'incidents' | 'grants' | 'emergency';

const SID = /^Qm(Incidents|Grants|Emergency)(\d{10})$/u;
const KIND_OF_SID = { Incidents: 'incidents', Grants: 'grants', Emergency: 'emergency' } as const;
const SID_OF_KIND = { incidents: 'Incidents', grants: 'Grants', emergency: 'Emergency' } as const;
const CONDITION_KEY = { incidents: 'aws:PrincipalTag/incident_id', grants: 'aws:userid' } as const;

export interface DenyPolicy {
  /** kind → hour bucket (the hour's end, ms) → values (tag values, user ids). */
  readonly entries: Record<Exclude<DenyKind, 'emergency'>, Map<number, Set<string>>>;
  /** The emergency deny: sessions issued before `before` (ms), needed until the bucket `until`. */
  emergency: { before: number; until: number } | null;
  /** Statements of this document the broker did not write, kept verbatim. */
  readonly foreign: unknown[];
}

export const emptyDenyPolicy = (): DenyPolicy => ({ entries: { incidents: new Map(), grants: new Map() }, emergency: null, foreign: [] });

/** The end of the UTC hour that contains `ms` (an entry needed until `ms` lives in this bucket). */
export const bucketOf = (ms: number): number => Math.ceil(ms / HOUR_MS) * HOUR_MS;

const hourStamp = (bucketEnd: number): string => new Date(bucketEnd - HOUR_MS).toISOString().replace(/[-T:]/gu, '').slice(0, 10);
function bucketOfStamp(stamp: string): number {
  const ms = Date.UTC(Number(stamp.slice(0, 4)), Number(stamp.slice(4, 6)) - 1, Number(stamp.slice(6, 8)), Number(stamp.slice(8, 10)));
  return ms + HOUR_MS;
}

const asList = (value: unknown): string[] =>
  Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : typeof value === 'string' ? [value] : [];

/** Reads a policy document (IAM's JSON text, already URL-decoded); null or empty text is an empty policy. */
export function parseDenyPolicy(text: string | null): DenyPolicy {
  const policy = emptyDenyPolicy();
  if (text === null || text.trim() === '') return policy;
  const doc = JSON.parse(text) as { Statement?: unknown };
  const statements = Array.isArray(doc.Statement) ? doc.Statement : doc.Statement === undefined ? [] : [doc.Statement];
  for (const statement of statements) {
    const sid = typeof (statement as { Sid?: unknown })?.Sid === 'string' ? SID.exec((statement as { Sid: string }).Sid) : null;
    if (!sid) {
      policy.foreign.push(statement);
      continue;
    }
    const kind = KIND_OF_SID[sid[1] as keyof typeof KIND_OF_SID];
    const bucket = bucketOfStamp(sid[2] as string);
    const condition = (statement as { Condition?: Record<string, Record<string, unknown>> }).Condition ?? {};
    if (kind === 'emergency') {
      const before = Date.parse(String(condition.DateLessThan?.['aws:TokenIssueTime'] ?? ''));
      if (Number.isFinite(before)) addEmergency(policy, before, bucket);
      continue;
    }
    for (const value of asList(condition.StringEquals?.[CONDITION_KEY[kind]])) addEntry(policy, kind, value, bucket);
  }
  return policy;
}

/** Adds `value` needed until `neededUntil` (ms); an entry already there in a later bucket stays there. */
export function addEntry(policy: DenyPolicy, kind: Exclude<DenyKind, 'emergency'>, value: string, neededUntil: number): void {
  const buckets = policy.entries[kind];
  const bucket = bucketOf(neededUntil);
  for (const [at, values] of buckets) {
    if (!values.has(value)) continue;
    if (at >= bucket) return;
    values.delete(value);
    if (values.size === 0) buckets.delete(at);
  }
  const values = buckets.get(bucket) ?? new Set<string>();
  values.add(value);
  buckets.set(bucket, values);
}

/** Denies every session issued before `before`; a later cutoff (it denies more) and a later need win. */
export function addEmergency(policy: DenyPolicy, before: number, neededUntil: number): void {
  const until = bucketOf(neededUntil);
  policy.emergency = policy.emergency
    ? { before: Math.max(policy.emergency.before, before), until: Math.max(policy.emergency.until, until) }
    : { before, until };
}

export function hasEntry(policy: DenyPolicy, kind: Exclude<DenyKind, 'emergency'>, value: string): boolean {
  return [...policy.entries[kind].values()].some((values) => values.has(value));
}

/** Drops every statement whose hour has passed at `now`: no credential it denies can still be valid. Returns how many values went. */
export function collectDenyPolicy(policy: DenyPolicy, now: number): number {
  let dropped = 0;
  for (const buckets of Object.values(policy.entries)) {
    for (const [at, values] of buckets) {
      if (at > now) continue;
      dropped += values.size;
      buckets.delete(at);
    }
  }
  if (policy.emergency && policy.emergency.until <= now) {
    policy.emergency = null;
    dropped += 1;
  }
  return dropped;
}

export const isEmptyDenyPolicy = (policy: DenyPolicy): boolean =>
  policy.entries.incidents.size === 0 && policy.entries.grants.size === 0 && policy.emergency === null && policy.foreign.length === 0;

/** The document as IAM stores it: compact JSON, statements in a stable order (kind, then hour; values sorted). */
export function renderDenyPolicy(policy: DenyPolicy): string {
  const statement = (kind: DenyKind, bucket: number, condition: Record<string, Record<string, unknown>>) => ({
    Sid: `Qm${SID_OF_KIND[kind]}${hourStamp(bucket)}`,
    Effect: 'Deny',
    Action: '*',
    Resource: '*',
    Condition: condition,
  });
  const statements: unknown[] = [];
  for (const kind of ['incidents', 'grants'] as const) {
    for (const [bucket, values] of [...policy.entries[kind]].sort(([a], [b]) => a - b)) {
      statements.push(statement(kind, bucket, { StringEquals: { [CONDITION_KEY[kind]]: [...values].sort() } }));
    }
  }
  if (policy.emergency) {
    // IAM dates have whole seconds: round up, so a session issued in the cutoff's second is denied too.
    const before = new Date(Math.ceil(policy.emergency.before / 1000) * 1000).toISOString().replace(/\.\d{3}Z$/u, 'Z');
    statements.push(statement('emergency', policy.emergency.until, { DateLessThan: { 'aws:TokenIssueTime': before } }));
  }
  return JSON.stringify({ Version: '2012-10-17', Statement: [...policy.foreign, ...statements] });
}

/** What IAM counts against its inline-policy quota: the document's characters, whitespace not counted. */
export const policySize = (text: string): number => text.replace(/\s/gu, '').length;
