/**
 * Vault behind TLS: a local HTTPS proxy (a self-signed certificate made with openssl) in front of
 * the fake Vault. With the certificate as caFile the provider works end to end; without it the
 * broker refuses to start with a config error naming caFile, instead of treating a certificate it
 * will never accept as "Vault is down, retry" (503 forever).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { createVaultProvider } from '../../providers/vault/index.js';
import { issueRequest, startVaultFixture, TOKEN_PARAMS, vaultConfig, type VaultFixture } from './vault_fixture.js';

let fixture: VaultFixture | undefined;
let proxy: Server | undefined;
afterEach(async () => {
  proxy?.closeAllConnections();
  await new Promise<void>((resolve) => (proxy ? proxy.close(() => resolve()) : resolve()));
  proxy = undefined;
  await fixture?.stop();
  fixture = undefined;
});

/** A self-signed certificate for 127.0.0.1 (openssl, as on every machine of this kind). */
function selfSigned(): { certFile: string; cert: string; key: string } {
  const dir = mkdtempSync(join(tmpdir(), 'qm-vault-tls-'));
  const certFile = join(dir, 'cert.pem');
  const keyFile = join(dir, 'key.pem');
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-keyout',
      keyFile,
      '-out',
      certFile,
      '-days',
      '1',
      '-subj',
      '/CN=127.0.0.1',
      '-addext',
      'subjectAltName=IP:127.0.0.1',
    ],
    { stdio: 'ignore' },
  );
  return { certFile, cert: readFileSync(certFile, 'utf8'), key: readFileSync(keyFile, 'utf8') };
}

/** HTTPS in front of the fake: every request forwarded as is. */
async function tlsProxy(target: string, tls: { cert: string; key: string }): Promise<string> {
  const upstream = new URL(target);
  proxy = createServer(tls, (req, res) => {
    const forward = httpRequest(
      { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    forward.on('error', () => res.destroy());
    req.pipe(forward);
  });
  await new Promise<void>((resolve) => proxy!.listen(0, '127.0.0.1', () => resolve()));
  return `https://127.0.0.1:${(proxy!.address() as AddressInfo).port}`;
}

it('issues through TLS when caFile holds the certificate', async () => {
  fixture = await startVaultFixture();
  const tls = selfSigned();
  const address = await tlsProxy(fixture.fake.url, tls);
  const provider = await fixture.provider({ address, caFile: tls.certFile });
  await expect(provider.issue(issueRequest(TOKEN_PARAMS))).resolves.toMatchObject({
    secretFields: ['vault_token'],
    credential: { vault_addr: address },
  });
});

it('refuses to start with a config error naming caFile when the certificate is not trusted', async () => {
  fixture = await startVaultFixture();
  const address = await tlsProxy(fixture.fake.url, selfSigned());
  const config = vaultConfig(address, fixture.provisioned.brokerTokenFile);
  await expect(createVaultProvider(config, { logger: fixture.log.logger, now: Date.now, devMode: true })).rejects.toMatchObject({
    code: 'ERR_CONFIG',
    message: expect.stringMatching(
      /^providers\.vault\.caFile: .*not trusted.*TLS certificate not accepted \(DEPTH_ZERO_SELF_SIGNED_CERT\)/u,
    ),
  });
});
