/**
 * The aws_sts provider against the STS + IAM fake (test/fakes/aws/): the broker's own credentials
 * come from the SDK's default chain, here the environment, set to the fake's admin keys (no real
 * AWS is ever reached: both endpoints are the fake's loopback URL, and instance metadata is off).
 */
import { IAMClient, GetRoleCommand } from '@aws-sdk/client-iam';
import { createAwsStsProvider } from '../../providers/aws_sts/provider.js';
import { awsStsConfigSchema, type AwsStsProfileParams } from '../../providers/aws_sts/config.js';
import type { IncidentRecords, IssuedCredential, Provider, ProviderDeps } from '../../src/sdk.js';
import { startAwsFake, type AwsFake, type AwsFakeOptions } from '../fakes/aws/server.js';

export const REGION = 'eu-west-1';

export const silentLogger = { debug() {}, info() {}, warn() {}, error() {} };

/** The environment the SDK's default chain reads the broker's credentials from. */
export function brokerAwsEnv(fake: AwsFake): Record<string, string> {
  return {
    AWS_ACCESS_KEY_ID: fake.adminCredentials.accessKeyId,
    AWS_SECRET_ACCESS_KEY: fake.adminCredentials.secretAccessKey,
    AWS_EC2_METADATA_DISABLED: 'true',
    AWS_REGION: REGION,
  };
}

const CHAIN_VARIABLES = [
  'AWS_SESSION_TOKEN',
  'AWS_PROFILE',
  'AWS_WEB_IDENTITY_TOKEN_FILE',
  'AWS_ROLE_ARN',
  'AWS_CONTAINER_CREDENTIALS_FULL_URI',
];

/** Points the SDK's default chain at this fake's admin keys; returns what puts the environment back. */
export function useBrokerAwsEnv(fake: AwsFake): () => void {
  const env = brokerAwsEnv(fake);
  const saved = Object.fromEntries([...CHAIN_VARIABLES, ...Object.keys(env)].map((k) => [k, process.env[k]]));
  for (const key of CHAIN_VARIABLES) delete process.env[key];
  Object.assign(process.env, env);
  return () => {
    for (const [key, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
  };
}

export interface AwsFixture {
  readonly fake: AwsFake;
  /** The provider config section for this fake (parsed, defaults filled). */
  readonly config: ReturnType<typeof awsStsConfigSchema.parse>;
  provider(
    deps?: Partial<ProviderDeps>,
    overrides?: Record<string, unknown>,
  ): Promise<Provider<AwsStsProfileParams> & { collectGarbage(): Promise<void> }>;
  params(roleName?: string, extra?: Partial<AwsStsProfileParams>): AwsStsProfileParams;
  stop(): Promise<void>;
}

export async function startAwsFixture(options: AwsFakeOptions = {}): Promise<AwsFixture> {
  const fake = await startAwsFake(options);
  // A second fixture in one file (another clock, role chaining) gives the environment back when it stops.
  const restoreEnv = useBrokerAwsEnv(fake);
  fake.createRole('ir-readonly', { maxSessionDuration: 3600 });
  const section = { region: REGION, stsEndpoint: fake.url, iamEndpoint: fake.url, maxAttempts: 3, requestTimeoutMs: 2000 };
  const config = awsStsConfigSchema.parse(section);
  const providers: Provider[] = [];
  return {
    fake,
    config,
    async provider(deps = {}, overrides = {}) {
      const provider = await createAwsStsProvider(awsStsConfigSchema.parse({ ...section, ...overrides }), {
        logger: silentLogger,
        now: Date.now,
        devMode: true,
        ...deps,
      });
      providers.push(provider);
      return provider as Provider<AwsStsProfileParams> & { collectGarbage(): Promise<void> };
    },
    params: (roleName = 'ir-readonly', extra = {}) => ({
      roleArn: `arn:aws:iam::${fake.accountId}:role/${roleName}`,
      policyArns: [],
      transitiveTags: false,
      ...extra,
    }),
    async stop() {
      for (const p of providers) await p.close();
      await fake.stop();
      restoreEnv();
    },
  };
}

/** Whether AWS (the fake) accepts a call made with the issued credential: IAM GetRole, a call an explicit Deny stops. */
export async function credentialWorks(fake: AwsFake, issued: IssuedCredential, roleName = 'ir-readonly'): Promise<boolean | string> {
  const c = issued.credential;
  const client = new IAMClient({
    region: REGION,
    endpoint: fake.url,
    maxAttempts: 1,
    credentials: { accessKeyId: String(c.AccessKeyId), secretAccessKey: String(c.SecretAccessKey), sessionToken: String(c.SessionToken) },
  });
  try {
    await client.send(new GetRoleCommand({ RoleName: roleName }));
    return true;
  } catch (err) {
    const name = (err as { name?: string }).name ?? 'Unknown';
    return name === 'AccessDenied' ? false : name;
  } finally {
    client.destroy();
  }
}

/** Incident records in memory, as the store keeps them (src/incident_records.ts), with closed incidents named by the test. */
export function memoryRecords(closed: Set<string>): IncidentRecords {
  const byIncident = new Map<string, Set<string>>();
  return {
    async add(incidentId, value) {
      const set = byIncident.get(incidentId) ?? new Set<string>();
      set.add(value);
      byIncident.set(incidentId, set);
    },
    async of(incidentId) {
      return [...(byIncident.get(incidentId) ?? [])];
    },
    async ofEndedIncidents() {
      return [...byIncident].filter(([id]) => closed.has(id)).map(([incidentId, values]) => ({ incidentId, values: [...values] }));
    },
    async remove(incidentId, values) {
      const set = byIncident.get(incidentId);
      for (const v of values) set?.delete(v);
      if (set?.size === 0) byIncident.delete(incidentId);
    },
  };
}

/** A broker profile (`profiles.<name>` in the config) issuing sessions of `roleArn` to the dev agents. */
export const awsProfileConfig = (roleArn: string): Record<string, unknown> => ({
  provider: 'aws_sts',
  maxTtl: 3600,
  defaultTtl: 900,
  tier: 'read',
  agents: ['spiffe://dev\\.local/agent/[a-z]+'],
  params: { roleArn },
});
