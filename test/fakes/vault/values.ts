/**
 * Small helpers shared by the fake Vault: ids shaped like Vault's, Go-style durations, and the
 * `{"errors":[…]}` error body every Vault endpoint answers with.
 * https://developer.hashicorp.com/vault/api-docs#error-response
 */
import { randomBytes, randomUUID } from 'node:crypto';

const BASE62 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/** Random base62 text, like Vault's token and accessor bodies. */
export function base62(length: number): string {
  const bytes = randomBytes(length);
  let out = '';
  for (const b of bytes) out += BASE62[b % 62];
  return out;
}

/** Service tokens look like `hvs.<base62>` since Vault 1.10. */
export const newTokenId = (): string => `hvs.${base62(24)}`;
export const newAccessor = (): string => base62(24);
export const newRequestId = (): string => randomUUID();

/** A client error a route handler throws; the server answers `{"errors":[message]}` with `status`. */
export class VaultHttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export const badRequest = (message: string): VaultHttpError => new VaultHttpError(400, message);
export const permissionDenied = (): VaultHttpError => new VaultHttpError(403, 'permission denied');

/**
 * Vault takes durations as integer seconds or Go duration strings ("90s", "1h30m"); "" and 0 mean
 * unset. https://developer.hashicorp.com/vault/docs/concepts/duration-format
 */
export function parseDurationSeconds(value: unknown, field: string): number {
  if (value === undefined || value === null || value === '') return 0;
  if (typeof value === 'number' && Number.isFinite(value) && value >= 0) return Math.floor(value);
  if (typeof value !== 'string') throw badRequest(`${field}: invalid duration`);
  if (/^\d+$/u.test(value)) return Number(value);
  const units: Record<string, number> = { h: 3600, m: 60, s: 1, ms: 0.001 };
  let total = 0;
  let rest = value;
  while (rest.length > 0) {
    const match = /^(\d+(?:\.\d+)?)(ms|h|m|s)/u.exec(rest);
    if (!match) throw badRequest(`${field}: invalid duration ${JSON.stringify(value)}`);
    total += Number(match[1]) * (units[match[2] as string] as number);
    rest = rest.slice(match[0].length);
  }
  return Math.floor(total);
}

export function stringList(value: unknown, field: string): string[] | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  // Vault accepts lists as JSON arrays or comma-separated strings.
  if (typeof value === 'string')
    return value
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s.length > 0);
  if (Array.isArray(value) && value.every((v) => typeof v === 'string')) return value as string[];
  throw badRequest(`${field}: expected a list of strings`);
}

export function stringMap(value: unknown, field: string): Record<string, string> {
  if (value === undefined || value === null) return {};
  if (typeof value !== 'object' || Array.isArray(value)) throw badRequest(`${field}: expected a map of strings`);
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(value)) {
    if (typeof v !== 'string') throw badRequest(`${field}.${k}: expected a string`);
    out[k] = v;
  }
  return out;
}

export const iso = (ms: number): string => new Date(ms).toISOString();
