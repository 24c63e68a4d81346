/**
 * Sets a Vault up the way providers/vault/README.md tells operators to, over the plain HTTP API,
 * so the same steps run against the fake and against a real `vault server -dev`: the broker's
 * minimum policy, the incident-parent policy, agent policies, the orphan token role, and a broker
 * token holding nothing but the broker policy.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const PARENT_ROLE = 'quartermaster-incident';

/** The broker's own minimum policy (README.md "Vault setup"), in Vault's JSON policy syntax. */
export const BROKER_POLICY = {
  path: {
    [`auth/token/create/${PARENT_ROLE}`]: { capabilities: ['update'] },
    'auth/token/revoke-accessor': { capabilities: ['update'] },
    'auth/token/lookup-accessor': { capabilities: ['update'] },
    'sys/leases/revoke': { capabilities: ['update'] },
    'sys/leases/lookup': { capabilities: ['update'] },
  },
};

/** What every incident parent needs besides the children's policies: creating children. */
export const PARENT_POLICY = { path: { 'auth/token/create': { capabilities: ['update'] } } };

export const AGENT_POLICIES: Record<string, unknown> = {
  'qm-agent-read': { path: { 'secret/data/incidents/*': { capabilities: ['read'] } } },
  'qm-db-readonly': { path: { 'database/creds/readonly': { capabilities: ['read'] } } },
  'qm-pki-agent': { path: { 'pki/issue/agent': { capabilities: ['update'] } } },
};

export const PARENT_POLICIES = ['quartermaster-incident-parent', ...Object.keys(AGENT_POLICIES)];

export interface Provisioned {
  /** A file holding a token with only the broker policy (for `auth.method: token`). */
  readonly brokerTokenFile: string;
  readonly brokerToken: string;
}

export async function vaultApi(url: string, token: string, method: string, path: string, body?: unknown, namespace?: string): Promise<any> {
  const headers: Record<string, string> = { 'x-vault-token': token };
  if (namespace) headers['x-vault-namespace'] = namespace;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(`${url}/v1/${path}`, { method, headers, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
  const text = await res.text();
  if (!res.ok) throw new Error(`vault ${method} ${path}: HTTP ${res.status} ${text.slice(0, 200)}`);
  return text.length > 0 ? JSON.parse(text) : undefined;
}

export async function provisionVault(
  url: string,
  rootToken: string,
  options: { parentMaxTtlSeconds?: number; brokerTtlSeconds?: number } = {},
): Promise<Provisioned> {
  const put = (path: string, body: unknown): Promise<unknown> => vaultApi(url, rootToken, 'POST', path, body);
  await put('sys/policies/acl/quartermaster-broker', { policy: JSON.stringify(BROKER_POLICY) });
  await put('sys/policies/acl/quartermaster-incident-parent', { policy: JSON.stringify(PARENT_POLICY) });
  for (const [name, policy] of Object.entries(AGENT_POLICIES)) await put(`sys/policies/acl/${name}`, { policy: JSON.stringify(policy) });
  await put(`auth/token/roles/${PARENT_ROLE}`, {
    allowed_policies: PARENT_POLICIES,
    orphan: true,
    renewable: false,
    token_explicit_max_ttl: options.parentMaxTtlSeconds ?? 86_400,
  });
  const created = await vaultApi(url, rootToken, 'POST', 'auth/token/create-orphan', {
    policies: ['quartermaster-broker'],
    ttl: `${options.brokerTtlSeconds ?? 3600}s`,
    renewable: true,
    display_name: 'quartermaster-broker',
  });
  const brokerToken = created.auth.client_token as string;
  const dir = mkdtempSync(join(tmpdir(), 'qm-vault-'));
  const brokerTokenFile = join(dir, 'broker-token');
  writeFileSync(brokerTokenFile, `${brokerToken}\n`, { mode: 0o600 });
  return { brokerTokenFile, brokerToken };
}
