/**
 * Secrets come as files (mounted Kubernetes Secrets), never inline config. Errors name the
 * setting, the file and the errno, never the content. Outside development mode a secret file that
 * group or others may read is refused: the broker's Redis password, its fingerprint key, the jwt
 * signing key and its Vault credentials must be readable by the broker's user alone (0400 or
 * 0600). A Kubernetes Secret volume is root's, so a non-root broker reads it only through
 * fsGroup (mode 0440, refused): the Helm chart copies Secrets into a volume the broker's user owns.
 */
import { stat, readFile } from 'node:fs/promises';
import { BrokerError } from './errors.js';

export interface SecretFileOptions {
  /** Where the path was configured, for errors: `store.passwordFile`. */
  readonly setting: string;
  /** Refuse a file group or others may read (every mode but development). */
  readonly strictPermissions: boolean;
  readonly maxBytes?: number;
}

const DEFAULT_MAX_BYTES = 16 * 1024;

const configError = (message: string): BrokerError => new BrokerError('ERR_CONFIG', 500, message);

/** Throws unless `mode` keeps the file to its owner (when strict). */
export function checkSecretFileMode(file: string, mode: number, options: Pick<SecretFileOptions, 'setting' | 'strictPermissions'>): void {
  if (!options.strictPermissions || (mode & 0o077) === 0) return;
  throw configError(
    `${options.setting}: ${file} may be read by group or others (mode ${(mode & 0o777).toString(8).padStart(4, '0')}); a secret file must be readable by its owner only (chmod 600; in Kubernetes see the Helm chart's secretFileCopy)`,
  );
}

/** The file's bytes, exactly. */
export async function readSecretFile(file: string, options: SecretFileOptions): Promise<Buffer> {
  let bytes: Buffer;
  try {
    const info = await stat(file);
    if (!info.isFile()) throw configError(`${options.setting}: ${file} is not a regular file`);
    checkSecretFileMode(file, info.mode, options);
    if (info.size > (options.maxBytes ?? DEFAULT_MAX_BYTES))
      throw configError(`${options.setting}: ${file} is larger than ${options.maxBytes ?? DEFAULT_MAX_BYTES} bytes`);
    bytes = await readFile(file);
  } catch (err) {
    if (err instanceof BrokerError) throw err;
    const code = (err as { code?: unknown }).code;
    throw configError(`${options.setting}: ${file} cannot be read (${typeof code === 'string' ? code : 'unknown error'})`);
  }
  return bytes;
}

/** The file's text without surrounding whitespace (a trailing newline), which must not be empty. */
export async function readSecretText(file: string, options: SecretFileOptions): Promise<string> {
  const value = (await readSecretFile(file, options)).toString('utf8').trim();
  if (value.length === 0) throw configError(`${options.setting}: ${file} is empty`);
  return value;
}
