// The Debian packages `npm test` needs beyond Node and npm, each with how to tell it is there.
// README.md shows installLine() (a test keeps them equal); scripts/check_system.mjs and .ci/run
// use the same list, so the three cannot drift apart.
import { spawnSync } from 'node:child_process';

const runs = (command, args) => {
  const result = spawnSync(command, args, { stdio: 'ignore' });
  return result.error === undefined && result.status === 0;
};

export const SYSTEM_PACKAGES = [
  // Tests start their own redis-server on a free port (never the shared one on 6379).
  { name: 'redis-server', present: () => runs('redis-server', ['--version']) },
  // The fake Vault is checked by an independent client: Debian's python3-hvac under /usr/bin/python3.
  { name: 'python3-hvac', present: () => runs('/usr/bin/python3', ['-c', 'import hvac']) },
  // The Vault TLS test makes a self-signed certificate with the openssl CLI.
  { name: 'openssl', present: () => runs('openssl', ['version']) },
  // The fake AWS STS + IAM is checked by independent clients: Debian's boto3 and the AWS CLI.
  { name: 'python3-boto3', present: () => runs('/usr/bin/python3', ['-c', 'import boto3']) },
  // Debian's AWS CLI v2 at /usr/bin/aws (the tests call it there): another aws on PATH (a pyenv v1) does not count.
  { name: 'awscli', present: () => runs('/usr/bin/aws', ['--version']) },
  // The console's browser tests drive Debian's chromium at /usr/bin/chromium through playwright-core.
  { name: 'chromium', present: () => runs('/usr/bin/chromium', ['--version']) },
  // The fake OpenID Provider (test/fakes/oidc/) is checked by an independent client: Debian's python3-authlib.
  { name: 'python3-authlib', present: () => runs('/usr/bin/python3', ['-c', 'import authlib']) },
];

export const installLine = () => `apt-get install -y ${SYSTEM_PACKAGES.map((p) => p.name).join(' ')}`;

export const missingPackages = () => SYSTEM_PACKAGES.filter((p) => !p.present()).map((p) => p.name);
