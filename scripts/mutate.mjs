// `npm run mutate [-- [group…] [--concurrency N]]`: Stryker over each module group
// (stryker/groups.mjs), one after the other, incremental (stryker/incremental/<group>.json:
// unchanged code and tests are not re-run). Exits non-zero when a group scores under 85 %. Not
// part of `npm test`: a full run takes minutes. `--concurrency 1` keeps it to one core.
import { spawnSync } from 'node:child_process';
import process from 'node:process';
import { GROUPS } from '../stryker/groups.mjs';

const args = process.argv.slice(2);
const at = args.indexOf('--concurrency');
const passed = at === -1 ? [] : ['--concurrency', args[at + 1] ?? ''];
const wanted = args.filter((_, i) => at === -1 || (i !== at && i !== at + 1));
const groups = wanted.length > 0 ? wanted : Object.keys(GROUPS);
let failed = false;
for (const group of groups) {
  if (!(group in GROUPS)) {
    process.stderr.write(`unknown group ${group}; known: ${Object.keys(GROUPS).join(', ')}\n`);
    process.exit(2);
  }
  process.stderr.write(`\n== mutation group ${group}: ${GROUPS[group].join(' ')}\n`);
  const run = spawnSync(
    process.execPath,
    ['node_modules/@stryker-mutator/core/bin/stryker.js', 'run', `stryker/${group}.config.mjs`, ...passed],
    { stdio: 'inherit' },
  );
  if (run.status !== 0) failed = true;
}
process.exit(failed ? 1 : 0);
