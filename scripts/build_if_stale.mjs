// `npm start` runs this first: build (the server with tsc, the console with vite) only when
// something the build reads changed since the last successful build. A full compile takes ~9-14 s
// and even a no-op incremental tsc ~3 s; this check takes a few milliseconds. Directory times are
// part of the check, so a deleted or renamed source file counts as a change. `npm run build`
// always builds.
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import process from 'node:process';

const STAMP = 'dist/.build-stamp';
const INPUTS = ['src', 'providers', 'console', 'tsconfig.json', 'tsconfig.build.json', 'package-lock.json'];

const mtimeOf = (path) => {
  try {
    return statSync(path).mtimeMs;
  } catch {
    return null;
  }
};

function newest(path) {
  const stat = statSync(path);
  if (!stat.isDirectory()) return stat.mtimeMs;
  let latest = stat.mtimeMs;
  for (const entry of readdirSync(path)) latest = Math.max(latest, newest(join(path, entry)));
  return latest;
}

const built = mtimeOf(STAMP);
const stale =
  built === null ||
  mtimeOf('dist/src/main.js') === null ||
  mtimeOf('dist/console/index.html') === null ||
  INPUTS.some((input) => newest(input) > built);
if (stale) {
  const started = Date.now();
  const tsc = spawnSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.build.json'], { stdio: 'inherit' });
  if (tsc.status !== 0) process.exit(tsc.status ?? 1);
  const vite = spawnSync(process.execPath, ['node_modules/vite/bin/vite.js', 'build', '--config', 'console/vite.config.ts'], {
    stdio: 'inherit',
  });
  if (vite.status !== 0) process.exit(vite.status ?? 1);
  writeFileSync(STAMP, `${new Date(started).toISOString()}\n`);
  // The stamp says when the build started: an edit made during the compile is seen next time.
  utimesSync(STAMP, started / 1000, started / 1000);
}
