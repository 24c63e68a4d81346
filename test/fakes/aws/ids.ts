/**
 * Identifiers and credentials shaped like the ones IAM and STS issue. The prefixes are the ones
 * IAM documents for unique IDs (AKIA long-term access key, ASIA temporary access key, AIDA user,
 * AROA role): https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_identifiers.html#identifiers-unique-ids
 */
import { randomBytes, randomUUID } from 'node:crypto';

const UPPER_ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
const SECRET_CHARS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

function pick(alphabet: string, length: number): string {
  let out = '';
  for (const b of randomBytes(length)) out += alphabet[b % alphabet.length];
  return out;
}

/** 20 characters, like every AWS access key id. */
export const newLongTermKeyId = (): string => `AKIA${pick(UPPER_ALNUM, 16)}`;
export const newTemporaryKeyId = (): string => `ASIA${pick(UPPER_ALNUM, 16)}`;
/** Secret access keys are 40 characters. */
export const newSecretKey = (): string => pick(SECRET_CHARS, 40);
/** Opaque and long (real ones run to several hundred characters and grow with session tags). */
export const newSessionToken = (): string => `IQoJb3JpZ2luX2Vj${randomBytes(300).toString('base64')}`;
/** Role ids are AROA and 17 more characters (21 in all), user ids AIDA and 17. */
export const newRoleId = (): string => `AROA${pick(UPPER_ALNUM, 17)}`;
export const newUserId = (): string => `AIDA${pick(UPPER_ALNUM, 17)}`;
export const newRequestId = (): string => randomUUID();

/** ISO 8601 at second precision, as STS writes Expiration and IAM writes CreateDate. */
export const isoSeconds = (ms: number): string => new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');
