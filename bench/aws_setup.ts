/**
 * What the AWS STS benches share: the STS + IAM fake in its own process (aws_fake_child.ts), the
 * broker child configured with the `aws_sts` provider and an `aws-read` profile on one role, and,
 * for baselines, the same provider created in the bench process against the same fake, a raw
 * STS client and a raw IAM client built as the provider builds its own (providers/aws_sts/clients.ts),
 * and probes that tell whether an issued session still works.
 *
 * The provider reads the broker's own AWS credentials from the SDK's default chain, so the bench
 * process points the environment at the fake's admin keys (as test/providers/aws_sts_fixture.ts
 * does) before it starts the broker child, which inherits it, and before it creates its own clients.
 */
import { setMaxListeners } from 'node:events';
import { Agent } from 'node:http';
import { GetRoleCommand, IAMClient } from '@aws-sdk/client-iam';
import { STSClient } from '@aws-sdk/client-sts';
import { awsStsConfigSchema, awsStsProfileParamsSchema, type AwsStsConfig, type AwsStsProfileParams } from '../providers/aws_sts/config.js';
import { awsStsProvider } from '../providers/aws_sts/index.js';
import type { Provider } from '../src/sdk.js';
import { startRedisServer, type RedisServer } from '../test/support/redis_server.js';
import { benchTokens, httpCall, startBrokerChild, type BrokerChild, type LogLevel } from './broker_child.js';
import { startFakeAwsChild, type FakeAwsChild } from './aws_fake_child.js';

export const AGENT_ID = 'spiffe://dev.local/agent/triage';
export const REGION = 'eu-west-1';
export const ROLE_NAME = 'ir-readonly';
export const AWS_PROFILE = 'aws-read';
/** The profile's defaultTtl: STS's minimum session, what every bench grant asks for. */
export const GRANT_TTL_SECONDS = 900;
/** The broker's key prefix when it runs on the bench's Redis. */
export const AWS_KEY_PREFIX = 'qm-bench-aws:';
const agents = ['spiffe://dev\\.local/agent/[A-Za-z0-9._-]+'];

/** The provider section: endpoints on the fake, everything else the production defaults. */
export function awsSection(fake: FakeAwsChild): Record<string, unknown> {
  return { region: REGION, stsEndpoint: fake.url, iamEndpoint: fake.url };
}

export const roleArnOf = (fake: FakeAwsChild): string => fake.roleArns[ROLE_NAME] as string;

export function awsProfiles(fake: FakeAwsChild): Record<string, unknown> {
  return {
    [AWS_PROFILE]: {
      provider: 'aws_sts',
      maxTtl: 3600,
      defaultTtl: GRANT_TTL_SECONDS,
      tier: 'read',
      agents,
      params: { roleArn: roleArnOf(fake) },
    },
  };
}

export const profileParams = (fake: FakeAwsChild): AwsStsProfileParams => awsStsProfileParamsSchema.parse({ roleArn: roleArnOf(fake) });

const CHAIN_VARIABLES = [
  'AWS_SESSION_TOKEN',
  'AWS_PROFILE',
  'AWS_WEB_IDENTITY_TOKEN_FILE',
  'AWS_ROLE_ARN',
  'AWS_CONTAINER_CREDENTIALS_FULL_URI',
];

/** Points the SDK's default chain (this process and children started now) at the fake's admin keys; returns what puts it back. */
export function useFakeAwsEnv(fake: FakeAwsChild): () => void {
  const env: Record<string, string> = {
    AWS_ACCESS_KEY_ID: fake.adminCredentials.accessKeyId,
    AWS_SECRET_ACCESS_KEY: fake.adminCredentials.secretAccessKey,
    AWS_EC2_METADATA_DISABLED: 'true',
    AWS_REGION: REGION,
  };
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

const noopLogger = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };

/** A never-firing signal for direct provider calls, shared by concurrent requests as core's is. */
export function directSignal(): AbortSignal {
  const { signal } = new AbortController();
  setMaxListeners(256, signal);
  return signal;
}

/**
 * The provider as the catalog creates it (its factory, providers/aws_sts/index.ts), in this process:
 * the direct baseline. Without the broker's store its locks are local and it keeps no incident records.
 */
export function directAwsProvider(fake: FakeAwsChild): Promise<Provider<AwsStsProfileParams>> {
  const config: AwsStsConfig = awsStsConfigSchema.parse(awsSection(fake));
  return awsStsProvider.create(config, { logger: noopLogger, now: Date.now, devMode: true });
}

/** SDK client options as providers/aws_sts/clients.ts builds them from the default config. */
function clientOptions(fake: FakeAwsChild) {
  const config = awsStsConfigSchema.parse(awsSection(fake));
  return {
    region: config.region,
    endpoint: fake.url,
    maxAttempts: config.maxAttempts,
    retryMode: 'standard',
    requestHandler: { connectionTimeout: Math.min(config.requestTimeoutMs, 3000), requestTimeout: config.requestTimeoutMs },
  } as const;
}

/** Raw clients with the broker's own credentials (the default chain, i.e. the fake's admin keys). */
export const rawStsClient = (fake: FakeAwsChild): STSClient => new STSClient(clientOptions(fake));
export const rawIamClient = (fake: FakeAwsChild): IAMClient => new IAMClient(clientOptions(fake));

/** An issued session's keys, as the broker's 201 body and the provider's IssuedCredential carry them. */
export interface SessionKeys {
  readonly AccessKeyId: string;
  readonly SecretAccessKey: string;
  readonly SessionToken: string;
}

export function sessionKeys(credential: Record<string, unknown>): SessionKeys {
  const { AccessKeyId, SecretAccessKey, SessionToken } = credential;
  if (typeof AccessKeyId !== 'string' || typeof SecretAccessKey !== 'string' || typeof SessionToken !== 'string') {
    throw new Error('credential without AccessKeyId / SecretAccessKey / SessionToken');
  }
  return { AccessKeyId, SecretAccessKey, SessionToken };
}

/**
 * Whether AWS (the fake) still accepts the session: IAM GetRole on the role, a call the role allows
 * and an explicit Deny stops. The same call and verdict as credentialWorks
 * (test/providers/aws_sts_fixture.ts: true, or false on AccessDenied), but one client per
 * credential kept across checks, so repeated checks measure the policy, not client set-up.
 * Any other answer throws.
 */
export interface SessionProbe {
  works(): Promise<boolean>;
  close(): void;
}

export function sessionProbe(fake: FakeAwsChild, keys: SessionKeys): SessionProbe {
  const client = new IAMClient({
    region: REGION,
    endpoint: fake.url,
    maxAttempts: 1,
    credentials: { accessKeyId: keys.AccessKeyId, secretAccessKey: keys.SecretAccessKey, sessionToken: keys.SessionToken },
  });
  return {
    async works() {
      try {
        await client.send(new GetRoleCommand({ RoleName: ROLE_NAME }));
        return true;
      } catch (err) {
        const name = (err as { name?: string }).name ?? 'Unknown';
        if (name === 'AccessDenied') return false;
        throw new Error(`probe GetRole answered ${name}`, { cause: err });
      }
    },
    close: () => client.destroy(),
  };
}

export type BenchStore = 'memory' | 'redis';

/** One bench run's world: the fake child, the broker child on it, the direct provider, tokens and one open incident. */
export interface AwsBench {
  readonly fake: FakeAwsChild;
  readonly broker: BrokerChild;
  readonly provider: Provider<AwsStsProfileParams>;
  readonly http: Agent;
  readonly operatorHeaders: Record<string, string>;
  readonly agentHeaders: Record<string, string>;
  readonly incidentId: string;
  readonly roleArn: string;
  /** The bench's own redis-server, when the broker runs on Redis. */
  readonly redisUrl: string | null;
  /** Opens another incident on the broker (as the operator). */
  openIncident(id: string): Promise<void>;
  /** Stops everything; throws if the fake saw a request it did not understand. */
  stop(): Promise<void>;
}

export async function startAwsBench(options: {
  latencyMs: number;
  logLevel: LogLevel;
  maxSockets: number;
  incidentId: string;
  store?: BenchStore;
  cpuProfDir?: string;
}): Promise<AwsBench> {
  const fake = await startFakeAwsChild({ latencyMs: options.latencyMs, roles: [{ name: ROLE_NAME, maxSessionDuration: 3600 }] });
  const restoreEnv = useFakeAwsEnv(fake);
  let redis: RedisServer | null = null;
  let broker: BrokerChild | null = null;
  let provider: Provider<AwsStsProfileParams> | null = null;
  const http = new Agent({ keepAlive: true, maxSockets: options.maxSockets });
  const stop = async (): Promise<void> => {
    http.destroy();
    await provider?.close();
    await broker?.stop();
    await redis?.stop();
    const unexpected = await fake.unexpected().catch(() => [] as string[]);
    await fake.stop();
    restoreEnv();
    if (unexpected.length > 0) throw new Error(`the fake aws saw requests it does not model: ${unexpected.join('; ')}`);
  };
  try {
    redis = options.store === 'redis' ? await startRedisServer() : null;
    const store = redis ? { store: { kind: 'redis' as const, url: redis.url, keyPrefix: AWS_KEY_PREFIX } } : {};
    broker = await startBrokerChild({
      logLevel: options.logLevel,
      ...store,
      ...(options.cpuProfDir ? { cpuProfDir: options.cpuProfDir } : {}),
      configure: (config) => ({
        ...config,
        providers: { ...(config.providers as Record<string, unknown>), aws_sts: awsSection(fake) },
        profiles: awsProfiles(fake),
      }),
    });
    provider = await directAwsProvider(fake);
    const { operator, agent: agentToken } = await benchTokens(broker.keyDir, AGENT_ID);
    const operatorHeaders = { authorization: `Bearer ${operator}`, 'content-type': 'application/json' };
    const brokerUrl = broker.url;
    const openIncident = async (id: string): Promise<void> => {
      const body = JSON.stringify({ id, title: 'bench', severity: 'sev3' });
      const opened = await httpCall(http, `${brokerUrl}/v1/incidents`, 'POST', operatorHeaders, body);
      if (opened.status !== 201) throw new Error(`open incident ${id} answered ${opened.status}: ${opened.body}`);
    };
    await openIncident(options.incidentId);
    return {
      fake,
      broker,
      provider,
      http,
      operatorHeaders,
      agentHeaders: { authorization: `Bearer ${agentToken}`, 'content-type': 'application/json' },
      incidentId: options.incidentId,
      roleArn: roleArnOf(fake),
      redisUrl: redis?.url ?? null,
      openIncident,
      stop,
    };
  } catch (err) {
    await stop().catch(() => undefined);
    throw err;
  }
}
