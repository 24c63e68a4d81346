/**
 * The chart's init container (templates/deployment.yaml, `secret-files`) is the bridge between a
 * Kubernetes Secret volume — root's, mode 0440 through the pod's fsGroup — and the broker, which in
 * production reads a secret file only when its owner alone may. Its script is run here as the
 * template holds it, on a directory laid out as the kubelet lays out a Secret volume (`..data`
 * links), and the broker's own reader accepts what it wrote where it refuses the original.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { readSecretText } from '../../src/secret_files.js';

/** The `node -e` script of the init container, dedented, with its two directories moved to `into`. */
function copyScript(into: string): string {
  const template = readFileSync('helm/quartermaster/templates/deployment.yaml', 'utf8');
  const block = /- -e\n\s+- \|\n((?:\s{14}.*\n|\n)+)/u.exec(template)?.[1];
  if (block === undefined) throw new Error('the secret-files script is not in deployment.yaml');
  return block
    .split('\n')
    .map((line) => line.slice(14))
    .join('\n')
    .replaceAll('/qm-secrets/', `${into}/`);
}

it("copies a Secret volume into files only the broker's user may read, which the broker then accepts", async () => {
  const root = mkdtempSync(join(tmpdir(), 'qm-secret-copy-'));
  // A Secret volume as the kubelet writes it: the files in a timestamped dir, ..data pointing at it, links to them.
  const volume = join(root, 'in', 'broker');
  mkdirSync(join(volume, '..2026_12_02'), { recursive: true });
  writeFileSync(join(volume, '..2026_12_02', 'redis-password'), 's3cret-redis\n');
  chmodSync(join(volume, '..2026_12_02', 'redis-password'), 0o440);
  symlinkSync('..2026_12_02', join(volume, '..data'));
  symlinkSync('..data/redis-password', join(volume, 'redis-password'));
  mkdirSync(join(root, 'out', 'broker'), { recursive: true });

  const options = { setting: 'store.passwordFile', strictPermissions: true } as const;
  // The valid case fails first as it would in a pod: the volume's own file is group-readable.
  await expect(readSecretText(join(volume, 'redis-password'), options)).rejects.toThrow(/may be read by group or others \(mode 0440\)/u);

  const run = spawnSync(process.execPath, ['-e', copyScript(root)], { encoding: 'utf8' });
  expect(run.status, run.stderr).toBe(0);
  const copied = join(root, 'out', 'broker', 'redis-password');
  expect(statSync(copied).mode & 0o777).toBe(0o400);
  expect(await readSecretText(copied, options)).toBe('s3cret-redis');
  // The kubelet's own entries are not copied, and nothing but the file is.
  expect(spawnSync('ls', ['-A', join(root, 'out', 'broker')], { encoding: 'utf8' }).stdout.trim()).toBe('redis-password');
});
