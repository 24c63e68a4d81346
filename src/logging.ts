/**
 * pino with redaction paths defined in this one place (CONTRIBUTING.md #14). Anything that might carry a
 * secret is censored by path; code logs fingerprints, ids and codes instead of values.
 * Attacker-controlled strings are cleaned of control characters before they are logged.
 */
import { pino, type DestinationStream, type Logger, type LevelWithSilent } from 'pino';

export type { Logger } from 'pino';

export const REDACT_PATHS: readonly string[] = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-pagerduty-signature"]',
  'req.headers["webhook-signature"]',
  'headers.authorization',
  'authorization',
  'token',
  'accessToken',
  'access_token',
  'credential',
  'secret',
  'password',
  'clientSecret',
  '*.token',
  '*.accessToken',
  '*.access_token',
  '*.credential',
  '*.secret',
  '*.password',
  '*.privateKey',
  '*.d',
  // AWS session credentials (aws_sts), by their SDK and credential_process names.
  'SecretAccessKey',
  'SessionToken',
  'secretAccessKey',
  'sessionToken',
  '*.SecretAccessKey',
  '*.SessionToken',
  '*.secretAccessKey',
  '*.sessionToken',
  '*.credential_process',
];

export interface LoggerOptions {
  level: LevelWithSilent;
  /** Where lines go; stdout when absent. Tests pass a capturing stream. */
  destination?: DestinationStream;
}

export function createLogger(options: LoggerOptions): Logger {
  return pino(
    {
      level: options.level,
      base: { service: 'quartermaster' },
      redact: { paths: [...REDACT_PATHS], censor: '[redacted]' },
      formatters: { level: (label) => ({ level: label }) },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    options.destination ?? pino.destination({ dest: 1, sync: false }),
  );
}

/**
 * Control and format characters (bidi overrides, zero-width marks), the line/paragraph separators,
 * and lone UTF-16 surrogates (JSON's `\\ud800` escape makes one; it is no Unicode character, and
 * every UTF-8 encoder turns each into U+FFFD, so two different strings would print the same).
 */
const UNSAFE_CHARACTERS = '[\\p{Cc}\\p{Cf}\\p{Cs}\\u2028\\u2029]';
const UNSAFE_CHARACTER = new RegExp(UNSAFE_CHARACTERS, 'u');
const UNSAFE_CHARACTERS_ALL = new RegExp(UNSAFE_CHARACTERS, 'gu');

/** True when text could show one thing and be another, or forge a log line. */
export const hasUnsafeCharacters = (text: string): boolean => UNSAFE_CHARACTER.test(text);

/** Replaces control and format characters (bidi overrides included) and bounds length, for strings an attacker chose. */
export function cleanForLog(value: string, max = 256): string {
  const cleaned = value.replace(UNSAFE_CHARACTERS_ALL, '?');
  return cleaned.length > max ? `${cleaned.slice(0, max)}…` : cleaned;
}
