/**
 * The fake Vault checked by a client we did not write: Debian's python3-hvac drives it through
 * token create/lookup, a child beneath a parent, a lease read with the child, the parent's
 * revocation killing child and lease, a sync lease revoke, and num_uses. .ci/run installs
 * python3-hvac, so a missing module fails here loudly instead of skipping.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startFakeVault, type FakeVault } from '../fakes/vault/server.js';

const run = promisify(execFile);
const SCRIPT = fileURLToPath(new URL('../fakes/vault/hvac_check.py', import.meta.url));
/** Debian's python3-hvac lives in the system interpreter's dist-packages, not in a pyenv or venv python. */
const PYTHON = '/usr/bin/python3';

let fake: FakeVault;
beforeAll(async () => {
  fake = await startFakeVault({ databaseRoles: { readonly: { ttlSeconds: 60 } } });
});
afterAll(async () => fake?.stop());

it('passes a check driven by python3-hvac, an independent Vault client', async () => {
  const probe = await run(PYTHON, ['-c', 'import hvac']).then(
    () => null,
    (err: { stderr?: string }) => err.stderr ?? String(err),
  );
  expect(probe, `python3-hvac is required (apt-get install python3-hvac; .ci/run installs it): ${probe}`).toBeNull();
  const { stdout } = await run(PYTHON, [SCRIPT], {
    env: { PATH: process.env.PATH ?? '', VAULT_ADDR: fake.url, VAULT_TOKEN: fake.rootToken },
    timeout: 20_000,
  });
  expect(JSON.parse(stdout.trim())).toEqual({
    ok: true,
    steps: [
      'root lookup-self',
      'policy written',
      'token created and looked up',
      'child created beneath parent; lease read with child',
      'child policies outside the parent refused',
      'parent revoked: child and its lease dead',
      'lease revoked on its own with sync; its token lives on',
      'num_uses exhausted',
    ],
  });
  expect(fake.unexpected).toEqual([]);
});
