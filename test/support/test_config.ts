/**
 * Builds a development config for tests: the embedded default's shape, with keys in a temp dir,
 * port 0 and the chosen store. Parsed by the real loader, so tests run what production validates.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { parseConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';

export interface TestConfigOptions {
  readonly store?:
    | { kind: 'memory' }
    | { kind: 'redis'; url: string; keyPrefix: string; sentinels?: readonly { host: string; port: number }[]; cluster?: boolean };
  readonly keyDir?: string;
  readonly revocation?: Record<string, number>;
  readonly profiles?: Record<string, unknown>;
  /** Extra provider sections (e.g. `vault`), next to the default jwt one. */
  readonly providers?: Record<string, unknown>;
  readonly logLevel?: string;
  readonly limits?: Record<string, unknown>;
  /** Extra `identity.operators` keys (permissions, allowedClients, amrAnyOf, …). */
  readonly operators?: Record<string, unknown>;
  /** `identity.introspection` (clients, audience). */
  readonly introspection?: Record<string, unknown>;
  /** Extra `server` keys (publicUrl, maxHeaderBytes). */
  readonly server?: Record<string, unknown>;
  /** `retention` (ended grants, dedupe keys, counted windows, the sweep). */
  readonly retention?: Record<string, number>;
  /** `webhooks` (sources with their secret files, limits). */
  readonly webhooks?: Record<string, unknown>;
  /** `audit` (the hash chain). */
  readonly audit?: Record<string, unknown>;
  /** `approvals` (the default rule, the sponsor claim, notifications). */
  readonly approvals?: Record<string, unknown>;
  /** `breakGlass`. */
  readonly breakGlass?: Record<string, unknown>;
  /** `events` (revocation SET receivers). */
  readonly events?: Record<string, unknown>;
  /** `deviation` (signal sources, detectors). Without it every detector is off: most tests issue many grants from one agent. */
  readonly deviation?: Record<string, unknown>;
  /** `console` (its assets directory, the IdP it signs in with). */
  readonly console?: Record<string, unknown>;
  /** `policy` (the Cedar policy directory). */
  readonly policy?: {
    readonly dir: string;
    readonly shadowDir?: string;
    readonly watch?: boolean;
    readonly agentClaims?: Record<string, string | string[]>;
  };
}

export const AGENT_ISSUER = 'https://dev.quartermaster.local/agents';
export const OPERATOR_ISSUER = 'https://dev.quartermaster.local/operators';
export const AUDIENCE = 'quartermaster';
/** identity.operators.audience by default: the operator API's own audience. */
export const OPERATOR_AUDIENCE = 'quartermaster/operators';
/** identity.introspection.audience by default: introspection clients' workload tokens. */
export const INTROSPECTION_AUDIENCE = 'quartermaster/introspect';

export function testConfigObject(options: TestConfigOptions = {}): Record<string, unknown> {
  const keyDir = options.keyDir ?? mkdtempSync(join(tmpdir(), 'qm-keys-'));
  return {
    mode: 'development',
    server: { host: '127.0.0.1', port: 0, ...options.server },
    logging: { level: options.logLevel ?? 'debug' },
    store: options.store ?? { kind: 'memory' },
    identity: {
      audience: AUDIENCE,
      agents: {
        spiffe: [
          {
            trustDomain: 'dev.local',
            issuer: AGENT_ISSUER,
            bundle: { file: join(keyDir, 'agent-bundle.json') },
            algorithms: ['ES256'],
            maxLifetimeSeconds: 3600,
          },
        ],
      },
      operators: {
        issuer: OPERATOR_ISSUER,
        keys: { file: join(keyDir, 'operator-jwks.json') },
        algorithms: ['ES256'],
        rolesClaim: 'roles',
        operatorRole: 'operator',
        ...options.operators,
      },
      ...(options.introspection ? { introspection: options.introspection } : {}),
    },
    devIssuer: { keyDir, agentIssuer: AGENT_ISSUER, operatorIssuer: OPERATOR_ISSUER },
    providers: {
      jwt: { issuer: 'http://127.0.0.1:8080', signingKeyFile: join(keyDir, 'jwt-signing-key.json'), generateKeyIfMissing: true },
      ...options.providers,
    },
    profiles: options.profiles ?? {
      demo: {
        provider: 'jwt',
        maxTtl: 900,
        defaultTtl: 300,
        tier: 'read',
        agents: ['spiffe://dev\\.local/agent/[A-Za-z0-9._-]+'],
        params: { audience: 'urn:quartermaster:demo-api', scope: 'alerts:read' },
      },
    },
    ...(options.retention ? { retention: options.retention } : {}),
    ...(options.webhooks ? { webhooks: options.webhooks } : {}),
    ...(options.policy ? { policy: options.policy } : {}),
    ...(options.audit ? { audit: options.audit } : {}),
    ...(options.approvals ? { approvals: options.approvals } : {}),
    ...(options.breakGlass ? { breakGlass: options.breakGlass } : {}),
    ...(options.events ? { events: options.events } : {}),
    ...(options.console ? { console: options.console } : {}),
    deviation: options.deviation ?? {
      detectors: Object.fromEntries(
        ['repeatedDenials', 'outOfScopeProfiles', 'requestRate', 'revokedTokenUse', 'requestsAfterClose'].map((d) => [
          d,
          { enabled: false },
        ]),
      ),
    },
    revocation: { pollIntervalMs: 50, backoffInitialMs: 50, backoffMaxMs: 500, leaseSeconds: 2, ...options.revocation },
    // Off unless a test is about them: other tests issue many grants from one agent.
    limits: options.limits ?? {
      grantRequests: { perAgent: { perSecond: 0, burst: 1 }, perSource: { perSecond: 0, burst: 1 } },
      activeGrants: { perIncident: 0, perAgent: 0 },
    },
  };
}

export function testConfig(options: TestConfigOptions = {}): { config: Config; keyDir: string; yaml: string } {
  const obj = testConfigObject(options);
  const yaml = stringify(obj);
  const keyDir = (obj.devIssuer as { keyDir: string }).keyDir;
  return { config: parseConfig(yaml, 'test'), keyDir, yaml };
}
