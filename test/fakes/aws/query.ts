/**
 * The AWS Query protocol both STS and IAM speak: a form-encoded POST `/` of `Action`, `Version`
 * and the members, lists as `Name.member.N` (structures `Name.member.N.Field`, an empty list as
 * `Name=`), answered with `<ActionResponse><ActionResult>…</ActionResult><ResponseMetadata>` XML
 * or an `<ErrorResponse>`. https://docs.aws.amazon.com/IAM/latest/UserGuide/programming.html#query-requests,
 * the serializers in @aws-sdk/core (QueryShapeSerializer) and botocore (serialize.py QuerySerializer).
 *
 * Validation errors use the wording the services' request validation answers with, recorded from
 * AWS in localstack's snapshot tests (tests/aws/services/sts/test_sts.snapshot.json), e.g.
 * "1 validation error detected: Value 'a:b' at 'roleSessionName' failed to satisfy constraint:
 * Member must satisfy regular expression pattern: [\w+=,.@-]*".
 */
import type { AwsError, Service } from './state.js';
import { validationError } from './state.js';

export type QueryParams = ReadonlyMap<string, string>;

export const VERSIONS: Readonly<Record<Service, string>> = { sts: '2011-06-15', iam: '2010-05-08' };
export const NAMESPACES: Readonly<Record<Service, string>> = {
  sts: 'https://sts.amazonaws.com/doc/2011-06-15/',
  iam: 'https://iam.amazonaws.com/doc/2010-05-08/',
};

/** Form fields; `duplicates` names fields given twice (the fake keeps the last). */
export function parseForm(body: string): { params: Map<string, string>; duplicates: string[] } {
  const params = new Map<string, string>();
  const duplicates: string[] = [];
  for (const [key, value] of new URLSearchParams(body)) {
    if (params.has(key)) duplicates.push(key);
    params.set(key, value);
  }
  return { params, duplicates };
}

/** `Name.member.N` values in index order (`Name=` is an empty list). */
export function memberList(params: QueryParams, name: string): string[] {
  const found: Array<[number, string]> = [];
  for (const [key, value] of params) {
    const match = new RegExp(`^${name}\\.member\\.(\\d+)$`, 'u').exec(key);
    if (match) found.push([Number(match[1]), value]);
  }
  return found.sort((a, b) => a[0] - b[0]).map(([, v]) => v);
}

/** `Name.member.N.Field` structures in index order; fields not given are undefined. */
export function structList(params: QueryParams, name: string, fields: readonly string[]): Array<Record<string, string | undefined>> {
  const byIndex = new Map<number, Record<string, string | undefined>>();
  for (const [key, value] of params) {
    const match = new RegExp(`^${name}\\.member\\.(\\d+)\\.(\\w+)$`, 'u').exec(key);
    if (!match || !fields.includes(match[2] as string)) continue;
    const index = Number(match[1]);
    const entry = byIndex.get(index) ?? {};
    entry[match[2] as string] = value;
    byIndex.set(index, entry);
  }
  return [...byIndex.entries()].sort((a, b) => a[0] - b[0]).map(([, v]) => v);
}

/** Request fields outside `Action`, `Version` and the action's modelled members (and their list shapes). */
export function unmodelledFields(
  params: QueryParams,
  members: readonly string[],
  structFields: Readonly<Record<string, readonly string[]>>,
): string[] {
  const out: string[] = [];
  for (const key of params.keys()) {
    if (key === 'Action' || key === 'Version') continue;
    const [top, ...rest] = key.split('.');
    if (!members.includes(top as string)) {
      out.push(key);
      continue;
    }
    if (rest.length === 0) continue;
    const fields = structFields[top as string];
    const shapeOk =
      rest[0] === 'member' &&
      /^\d+$/u.test(rest[1] ?? '') &&
      (fields ? rest.length === 3 && fields.includes(rest[2] as string) : rest.length === 2);
    if (!shapeOk) out.push(key);
  }
  return out;
}

/** Collects constraint violations and throws them as one ValidationError, as the services do. */
export class Validation {
  private readonly errors: string[] = [];

  required(field: string, value: string | undefined): value is string {
    if (value !== undefined) return true;
    this.errors.push(`Value null at '${field}' failed to satisfy constraint: Member must not be null`);
    return false;
  }

  length(field: string, value: string | undefined, min: number, max: number): void {
    if (value === undefined) return;
    const n = [...value].length;
    if (n < min) this.fail(field, value, `Member must have length greater than or equal to ${min}`);
    else if (n > max) this.fail(field, value, `Member must have length less than or equal to ${max}`);
  }

  /** `pattern` is the model's (Java) regular expression, which must match the whole value. */
  pattern(field: string, value: string | undefined, pattern: string): void {
    if (value === undefined) return;
    if (!new RegExp(`^(?:${pattern})$`, 'u').test(value))
      this.fail(field, value, `Member must satisfy regular expression pattern: ${pattern}`);
  }

  /** An integer member; undefined when absent or not an integer. */
  integer(field: string, value: string | undefined, min: number, max: number): number | undefined {
    if (value === undefined) return undefined;
    if (!/^-?\d+$/u.test(value)) {
      this.fail(field, value, 'Member must be an integer');
      return undefined;
    }
    const n = Number(value);
    if (n < min) this.fail(field, value, `Member must have value greater than or equal to ${min}`);
    else if (n > max) this.fail(field, value, `Member must have value less than or equal to ${max}`);
    return n;
  }

  count(field: string, items: readonly unknown[], max: number): void {
    if (items.length > max) this.fail(field, `[${items.length} items]`, `Member must have length less than or equal to ${max}`);
  }

  throwIfAny(): void {
    const n = this.errors.length;
    if (n === 0) return;
    throw validationError(`${n} validation error${n === 1 ? '' : 's'} detected: ${this.errors.join('; ')}`);
  }

  private fail(field: string, value: string, constraint: string): void {
    this.errors.push(`Value '${value}' at '${field}' failed to satisfy constraint: ${constraint}`);
  }
}

export function escapeXml(text: string): string {
  return text.replace(/&/gu, '&amp;').replace(/</gu, '&lt;').replace(/>/gu, '&gt;').replace(/"/gu, '&quot;').replace(/'/gu, '&apos;');
}

/** `<name>value</name>`, escaped; nothing when value is undefined. */
export function el(name: string, value: string | number | boolean | undefined): string {
  return value === undefined ? '' : `<${name}>${escapeXml(String(value))}</${name}>`;
}

export function successXml(service: Service, action: string, result: string | null, requestId: string): string {
  const body = result === null ? '' : `<${action}Result>${result}</${action}Result>`;
  return (
    `<?xml version="1.0" encoding="UTF-8"?>\n<${action}Response xmlns="${NAMESPACES[service]}">${body}` +
    `<ResponseMetadata><RequestId>${requestId}</RequestId></ResponseMetadata></${action}Response>`
  );
}

export function errorXml(service: Service, error: AwsError, requestId: string): string {
  return (
    `<?xml version="1.0" encoding="UTF-8"?>\n<ErrorResponse xmlns="${NAMESPACES[service]}"><Error>` +
    `${el('Type', error.type)}${el('Code', error.code)}${el('Message', error.message)}</Error>` +
    `<RequestId>${requestId}</RequestId></ErrorResponse>`
  );
}
