/**
 * The grant flows in-process: the memory store, the real catalog, audit log and metrics, a clock
 * the test sets, and an in-process provider (`held`) that implements the public contract
 * (src/sdk.ts) and whose issue call the test can hold open, fail, or make answer something else.
 * Nothing sleeps: gates the test opens order the steps.
 */
import { stringify } from 'yaml';
import { z } from 'zod';
import { createAuditLog } from '../../src/audit/audit_log.js';
import { createCatalog } from '../../src/catalog/catalog.js';
import { parseConfig } from '../../src/config/load.js';
import type { DomainDeps } from '../../src/domain.js';
import type { GrantRequest, IssueOutcome } from '../../src/grants/issue_grant.js';
import type { AgentIdentity } from '../../src/identity/types.js';
import { createLogger } from '../../src/logging.js';
import { createMetrics } from '../../src/metrics.js';
import type { RevocationHandle } from '../../src/model.js';
import type { IssuedCredential, ProviderFactory } from '../../src/sdk.js';
import { createMemoryStore } from '../../src/store/memory_store.js';
import type { Store } from '../../src/store/store.js';
import { createLogCapture, type LogCapture } from '../support/log_capture.js';
import { testConfigObject } from '../support/test_config.js';

export const T0 = Date.UTC(2030, 0, 1);
export const INCIDENT = 'INC-GRANTS';
export const AGENT_ID = 'spiffe://dev.local/agent/triage';

/** What the upstream behind the provider saw, and how it answers. */
export interface Upstream {
  /** Grant ids of issue calls that reached the provider. */
  readonly issueCalls: string[];
  readonly revokeCalls: Array<{ grantId: string; handle: RevocationHandle }>;
  /** When set, the next issue call tells `started` and answers once `gate` opens. */
  hold: { started: () => void; gate: Promise<void> } | null;
  /** When set, issue calls answer this instead of the valid credential (a provider bug). */
  answer: ((valid: IssuedCredential) => unknown) | null;
  /** When set, issue calls fail with this. */
  failure: Error | null;
}

export interface HeldCall {
  /** Resolves once the held call has reached the provider. */
  readonly started: Promise<void>;
  release(): void;
}

/** Makes the next issue call wait until released. */
export function holdNextIssue(upstream: Upstream): HeldCall {
  let started!: () => void;
  let release!: () => void;
  const startedPromise = new Promise<void>((resolve) => {
    started = resolve;
  });
  const gate = new Promise<void>((resolve) => {
    release = resolve;
  });
  upstream.hold = { started, gate };
  return { started: startedPromise, release };
}

export const secretOf = (grantId: string): string => `secret-token-for-${grantId}`;

/** The issued outcome of a grant request; fails the test on any other. */
export function issuedOf(outcome: IssueOutcome): Extract<IssueOutcome, { status: 'issued' }> {
  if (outcome.status !== 'issued') throw new Error(`expected an issued grant, got ${outcome.status}`);
  return outcome;
}

function heldProvider(upstream: Upstream): ProviderFactory<Record<string, never>, Record<string, never>> {
  return {
    name: 'held',
    configSchema: z.object({}).strict() as z.ZodType<Record<string, never>>,
    profileParamsSchema: z.object({}).strict() as z.ZodType<Record<string, never>>,
    async create(_config, deps) {
      return {
        name: 'held',
        capabilities: { grantRevocation: 'upstream', incidentRevocation: false, minTtlSeconds: 1, maxTtlSeconds: 3600 },
        async issue(req) {
          upstream.issueCalls.push(req.grantId);
          const hold = upstream.hold;
          if (hold) {
            upstream.hold = null;
            hold.started();
            await hold.gate;
          }
          if (upstream.failure) throw upstream.failure;
          const valid: IssuedCredential = {
            credential: { token: secretOf(req.grantId), token_type: 'Bearer' },
            secretFields: ['token'],
            handle: { ref: req.grantId },
            expiresAt: deps.now() + req.ttlSeconds * 1000,
          };
          return (upstream.answer ? upstream.answer(valid) : valid) as IssuedCredential;
        },
        async revokeGrant(req) {
          upstream.revokeCalls.push({ grantId: req.grantId, handle: req.handle });
          return { grantId: req.grantId, outcome: 'revoked', confirmed: true };
        },
        async health() {
          return { ok: true };
        },
        async close() {},
      };
    },
  };
}

export const agentNamed = (name: string): AgentIdentity => {
  const id = `spiffe://dev.local/agent/${name}`;
  return {
    kind: 'agent',
    id,
    issuer: 'spiffe://dev.local',
    issuerName: 'dev.local',
    subject: id,
    expiresAt: T0 + 600_000,
    acceptedUntil: T0 + 630_000,
    fingerprint: `fp-${name}`,
    tokenId: `tok-${name}`,
  };
};
export const agent = agentNamed('triage');
export const request: GrantRequest = { incidentId: INCIDENT, profile: 'p', ttlSeconds: 300, purpose: 'read alerts' };

export interface GrantWorld {
  readonly upstream: Upstream;
  /** The memory store, with INCIDENT open. */
  readonly store: Store;
  /** Over `store`. */
  readonly deps: DomainDeps;
  /** What the flows logged (level warn and above). */
  readonly logs: LogCapture;
  /** The clock of the flows and the provider. */
  now: number;
  /** How often the flows woke the revocation worker. */
  readonly nudges: number;
  /** Deps over another store (a wrapper of `store` that injects a race or a fault). */
  depsOver(store: Store): Promise<DomainDeps>;
  /** The incident's audit events as [type, reason]. */
  auditTrail(): Promise<Array<[string, string | null]>>;
}

/** Profile `p` (provider `held`, maxTtl 900, defaultTtl 600) lets any lower-case agent name in. */
export async function createGrantWorld(): Promise<GrantWorld> {
  const upstream: Upstream = { issueCalls: [], revokeCalls: [], hold: null, answer: null, failure: null };
  const store = createMemoryStore();
  await store.createIncident({ id: INCIDENT, source: 'api', title: 't', severity: 'sev2', status: 'open', openedAt: T0, openedBy: 'op' });
  const config = parseConfig(
    stringify({
      ...testConfigObject({ revocation: { issueTimeoutSeconds: 30 } }),
      providers: { held: {} },
      profiles: { p: { provider: 'held', maxTtl: 900, defaultTtl: 600, tier: 'read', agents: ['spiffe://dev\\.local/agent/[a-z]+'] } },
    }),
  );
  const logs = createLogCapture();
  const logger = createLogger({ level: 'warn', destination: logs });
  const world = {
    upstream,
    store,
    logs,
    now: T0,
    nudges: 0,
    deps: undefined as unknown as DomainDeps,
    async depsOver(over: Store): Promise<DomainDeps> {
      const clock = (): number => world.now;
      const catalog = await createCatalog(config, [heldProvider(upstream)], { logger, now: clock, devMode: true, callTimeoutMs: 60_000 });
      return {
        config,
        store: over,
        catalog,
        audit: createAuditLog(over, logger),
        metrics: createMetrics({ defaultMetrics: false }),
        logger,
        now: clock,
        nudgeRevocation: () => {
          world.nudges += 1;
        },
      };
    },
    async auditTrail(): Promise<Array<[string, string | null]>> {
      return (await store.listAudit({ incidentId: INCIDENT, limit: 1000 })).map((e) => [e.type, e.reason ?? null]);
    },
  };
  world.deps = await world.depsOver(store);
  return world;
}
