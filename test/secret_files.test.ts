/**
 * Secret files (src/secret_files.ts): read exactly, errors that name the setting and never the
 * content, and outside development mode only files their owner alone may read.
 */
import { chmodSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readSecretFile, readSecretText } from '../src/secret_files.js';

const dir = mkdtempSync(join(tmpdir(), 'qm-secrets-'));
const secretFile = (name: string, content: string, mode: number): string => {
  const file = join(dir, name);
  writeFileSync(file, content);
  chmodSync(file, mode);
  return file;
};
const strict = { setting: 'store.passwordFile', strictPermissions: true };

describe('secret files', () => {
  it('reads an owner-only file exactly, and its text trimmed', async () => {
    const file = secretFile('ok', 's3cret-value\n', 0o600);
    expect((await readSecretFile(file, strict)).toString()).toBe('s3cret-value\n');
    expect(await readSecretText(file, strict)).toBe('s3cret-value');
    expect(await readSecretText(secretFile('ro', 'x', 0o400), strict)).toBe('x');
  });

  it.each([
    ['others', 0o604],
    ['group', 0o640],
    ['everyone', 0o644],
  ])('refuses a file %s may read when strict, naming the setting and the mode, never the content', async (_who, mode) => {
    const file = secretFile(`loose-${mode}`, 's3cret-value', mode);
    const refusal = readSecretFile(file, strict);
    await expect(refusal).rejects.toMatchObject({
      code: 'ERR_CONFIG',
      message: expect.stringContaining(`store.passwordFile: ${file} may be read by group or others (mode 0${mode.toString(8)})`),
    });
    await expect(refusal).rejects.not.toThrow(/s3cret-value/u);
    // Development mode accepts it.
    expect(await readSecretText(file, { ...strict, strictPermissions: false })).toBe('s3cret-value');
  });

  it('refuses what is not a readable, bounded, non-empty regular file', async () => {
    const sub = join(dir, 'a-directory');
    mkdirSync(sub);
    await expect(readSecretFile(sub, strict)).rejects.toThrow(/is not a regular file/u);
    await expect(readSecretFile(join(dir, 'absent'), strict)).rejects.toThrow(/cannot be read \(ENOENT\)/u);
    await expect(readSecretFile(secretFile('big', 'x'.repeat(20_000), 0o600), strict)).rejects.toThrow(/larger than 16384 bytes/u);
    await expect(readSecretText(secretFile('blank', ' \n', 0o600), strict)).rejects.toThrow(/is empty/u);
  });
});
