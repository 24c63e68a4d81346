/**
 * The broker's configuration file, validated once at boot (CONTRIBUTING.md #10). Every object is
 * `.strict()`; secrets are file paths, never inline values. Provider sections and profile params
 * are validated by their provider's own schema in catalog/, so this file knows no provider fields.
 */
import { z } from 'zod';
import { SEVERITIES, SIGNAL_SEVERITIES } from '../model.js';
import { anchoredPattern, isValidPattern } from '../patterns.js';
import { isLoopbackHost, isLoopbackUrl } from '../urls.js';
import { identitySchema } from './identity_schema.js';

const duration = z.number().int().positive();
/** A token bucket: refill rate per second (0: no limit) and the most that can be spent at once. */
const bucket = z.object({ perSecond: z.number().min(0).max(100_000), burst: z.number().int().min(1).max(1_000_000) }).strict();
/** Request line and headers other than Authorization: `Bearer `, Host, Content-Type, proxies' X-Forwarded-*… */
export const HEADER_ROOM_BYTES = 4096;
const filePath = z.string().min(1);
/** One webhook source: its signing secrets, one per file, several during a rotation. */
const webhookSource = z
  .object({
    /** Files each holding one secret (PagerDuty's as shown; Standard Webhooks' `whsec_…`); any one of them verifies. */
    secretFiles: z.array(filePath).min(1).max(4),
  })
  .strict();
/** How long delivery or signal ids are remembered (at least this, at most twice): an hour to 30 days, 3 days by default. */
const dedupeWindow = z
  .number()
  .int()
  .min(3600)
  .max(30 * 86_400)
  .default(3 * 86_400);
const signalSourceName = z.string().regex(/^[a-z0-9][a-z0-9_.-]{0,62}$/u);
/** One of the broker's deviation detectors: it fires when `threshold` of its events fall within `windowSeconds`, once per window. */
const detector = (defaults: { threshold: number; windowSeconds: number; severity: (typeof SIGNAL_SEVERITIES)[number] }) =>
  z
    .object({
      enabled: z.boolean().default(true),
      threshold: z.number().int().min(1).max(1_000_000).default(defaults.threshold),
      windowSeconds: z.number().int().min(1).max(86_400).default(defaults.windowSeconds),
      /** The signal's severity; the policy decides what it leads to. */
      severity: z.enum(SIGNAL_SEVERITIES).default(defaults.severity),
    })
    .strict()
    .prefault({});
/** The source's REST API (PagerDuty, incident.io): asked before issuing, and by the reconciler. */
const sourceApi = z
  .object({
    /** File holding a read-only API token (PagerDuty REST API key, incident.io API key). */
    tokenFile: filePath,
    /** Default the vendor's public API (https://api.pagerduty.com, https://api.incident.io). */
    baseUrl: z.url({ protocol: /^https?$/u }).optional(),
    timeoutMs: z.number().int().min(100).max(30_000).default(3000),
    /** Confirm the incident is open at its source before every grant for it (answers cached cacheSeconds); fail closed. */
    checkBeforeIssue: z.boolean().default(true),
    cacheSeconds: z.number().int().min(0).max(600).default(30),
  })
  .strict();
const webhookSourceWithApi = webhookSource.extend({ api: sourceApi.optional() }).strict();
/** An outbound notice signed as Standard Webhooks prescribe (webhooks/outbound.ts). */
const signedNotice = z
  .object({
    url: z.url({ protocol: /^https?$/u }),
    /** File holding the signing secret, `whsec_` followed by base64. */
    secretFile: filePath,
    timeoutMs: z.number().int().min(100).max(30_000).default(5000),
  })
  .strict();
/**
 * Who must approve a grant before it is issued (docs/approvals.md): operators holding one of
 * `approvers` (values of the operator token's roles claim) and the approvals.decide permission,
 * `quorum` of them, distinct, within `expiresSeconds` of the request.
 */
export const approvalRuleSchema = z
  .object({
    approvers: z.array(z.string().min(1).max(128)).min(1).max(16),
    quorum: z.number().int().min(1).max(5).default(1),
    expiresSeconds: z.number().int().min(60).max(86_400).default(900),
  })
  .strict();
export const profileSchema = z
  .object({
    provider: z.string().min(1),
    description: z.string().default(''),
    /** Upper bound of any grant's TTL, seconds. */
    maxTtl: duration,
    /** Default TTL when the request names none; clamped to maxTtl. */
    defaultTtl: duration.optional(),
    tier: z.enum(['read', 'contain', 'remediate']),
    /**
     * Which agents may request the profile: regular expressions over the agent id, anchored by the
     * broker (`^(?:…)$`) so `spiffe://a/b` never matches `spiffe://a/b-evil`.
     */
    agents: z.array(z.string().min(1)).min(1),
    /** Provider-specific parameters, validated by the provider's schema. */
    params: z.record(z.string(), z.unknown()).default({}),
    /**
     * The agent token may back one grant request only (grants/steps/claim_single_use.ts): a
     * replayed token is refused with ERR_TOKEN_REPLAYED even if its signature was re-encoded.
     */
    singleUse: z.boolean().default(false),
    /** Every grant of the profile waits for this approval (a policy may also ask for one: docs/approvals.md). */
    approval: approvalRuleSchema.optional(),
  })
  .strict();

/** Authorization request parameters the console's PKCE flow sets (console.oidc.authorizationParams may not). */
const CONSOLE_FLOW_PARAMS: ReadonlySet<string> = new Set([
  'client_id',
  'redirect_uri',
  'response_type',
  'response_mode',
  'scope',
  'state',
  'nonce',
  'code_challenge',
  'code_challenge_method',
]);

const configBase = z
  .object({
    mode: z.enum(['development', 'production']),
    server: z
      .object({
        host: z.string().default('127.0.0.1'),
        port: z.number().int().min(0).max(65_535).default(8080),
        /**
         * The broker's public base URL (https://quartermaster.example.com): the default `iss` of
         * broker-signed tokens, and where links point. Development mode uses the listen address.
         */
        publicUrl: z
          .url({ protocol: /^https?$/ })
          .refine((url) => {
            const u = new URL(url);
            return u.username === '' && u.password === '' && u.search === '' && u.hash === '';
          }, 'must be a base URL without credentials, query or fragment')
          .optional(),
        bodyLimitBytes: duration.max(1024 * 1024).default(64 * 1024),
        /**
         * Node's limit on the request line plus all headers (http.createServer maxHeaderSize); above
         * it Node answers 431 before routing. Must leave room for a bearer token of
         * identity.maxTokenBytes.
         */
        maxHeaderBytes: z
          .number()
          .int()
          .min(8192)
          .max(256 * 1024)
          .default(16 * 1024),
        shutdownGraceSeconds: duration.default(20),
        trustProxy: z.boolean().default(false),
        /**
         * Development mode listens on loopback only: its dev token issuer's keys sit in a local
         * directory, so anyone who can reach it can mint agents. True lets a development broker
         * listen elsewhere (a shared test box), knowingly.
         */
        allowNonLoopbackInDevelopment: z.boolean().default(false),
        /**
         * Serve /metrics on its own listener (and not on the API's): scrape it from inside the
         * cluster while agents and webhooks reach only the API. Absent: /metrics is on the API port.
         */
        metricsListener: z
          .object({
            host: z.string().default('127.0.0.1'),
            port: z.number().int().min(0).max(65_535),
          })
          .strict()
          .optional(),
      })
      .strict()
      .prefault({}),
    logging: z
      .object({
        level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
      })
      .strict()
      .prefault({}),
    store: z.discriminatedUnion('kind', [
      z.object({ kind: z.literal('memory') }).strict(),
      z
        .object({
          kind: z.literal('redis'),
          /** Without a password: that comes from passwordFile (secrets are files, never inline). */
          url: z
            .url({ protocol: /^rediss?$/ })
            .refine((url) => new URL(url).password === '', 'must not contain a password; use store.passwordFile'),
          /** File holding the Redis password (mounted Secret); never inline. */
          passwordFile: filePath.optional(),
          /**
           * Redis Sentinel: the sentinels to ask where the primary is. The url's host is then the
           * name they monitor it by (`rediss://mymaster/0`), its scheme (TLS to the primary and the
           * sentinels), user and db apply as usual. After a failover the broker follows the new primary.
           */
          sentinels: z
            .array(z.object({ host: z.string().min(1), port: z.number().int().min(1).max(65_535).default(26_379) }).strict())
            .min(1)
            .max(16)
            .optional(),
          /** File holding the sentinels' own password (`requirepass` on the sentinels), when they have one. */
          sentinelPasswordFile: filePath.optional(),
          /**
           * Redis Cluster: the url names one node of it (a configuration endpoint or a Service in
           * front of the nodes); the broker learns the others and the slot map from it, follows
           * MOVED and ASK redirections and a failover of any shard. Every key of one incident
           * shares a hash slot, so each operation stays on one node. A cluster has only db 0.
           */
          cluster: z.boolean().default(false),
          keyPrefix: z
            .string()
            .regex(/^[A-Za-z0-9:_-]*$/)
            .default('qm:'),
          /**
           * Production refuses a Redis without AOF persistence (appendonly yes, appendfsync everysec
           * or always): its restart would wipe every grant and close tombstone. True lets it start,
           * and readiness and quartermaster_store_persistent say so.
           */
          allowVolatile: z.boolean().default(false),
          /** How often every broker checks the store's identity marker (store/integrity.ts). */
          integrityCheckSeconds: duration.max(300).default(5),
        })
        .strict(),
    ]),
    identity: identitySchema,
    /** Local token issuer for agents and operators; development mode only. */
    devIssuer: z
      .object({
        keyDir: filePath,
        agentIssuer: z.string().min(1),
        operatorIssuer: z.string().min(1),
      })
      .strict()
      .optional(),
    /** The responder console at /console (docs/console.md): who signs in there, and how. */
    console: z
      .object({
        /** Off: /console and the console's sign-in endpoints answer 404. */
        enabled: z.boolean().default(true),
        /** Built assets (`npm run build` writes them to dist/console); default: that directory of this package. */
        assetsDir: filePath.optional(),
        /**
         * Production sign-in: the human IdP's authorization-code flow with PKCE, run by the console
         * in the browser (a public client: no secret). Without it the console signs in only through
         * the development issuer (devIssuer), in development mode.
         */
        oidc: z
          .object({
            /** The authorization server's issuer; its metadata is read from `<issuer>/.well-known/openid-configuration`. */
            issuer: z.url({ protocol: /^https?$/ }),
            /** The console's OIDC client (public, PKCE, redirect URI `<public URL>/console/`). */
            clientId: z.string().min(1).max(256),
            scopes: z
              .array(z.string().regex(/^[\x21\x23-\x5b\x5d-\x7e]+$/, 'a scope token (RFC 6749 §3.3)'))
              .min(1)
              .default(['openid']),
            /** Which token of the token response the console sends as the operator token (docs/console.md). */
            token: z.enum(['access_token', 'id_token']).default('access_token'),
            /** More authorization request parameters, e.g. `{ audience: … }` (Auth0) or `{ resource: … }` (RFC 8707). */
            authorizationParams: z
              .record(z.string().regex(/^[a-z_]{1,64}$/), z.string().max(2048))
              .refine((params) => !Object.keys(params).some((name) => CONSOLE_FLOW_PARAMS.has(name)), {
                message: `must not set a parameter the console's code flow sets itself (${[...CONSOLE_FLOW_PARAMS].join(', ')})`,
              })
              .default({}),
            /** Origins besides the issuer's the browser must reach (a token endpoint on another host): the CSP's connect-src. */
            connectOrigins: z.array(z.url({ protocol: /^https?$/ })).default([]),
          })
          .strict()
          .optional(),
      })
      .strict()
      .prefault({}),
    providers: z.record(z.string(), z.unknown()).default({}),
    profiles: z.record(z.string().regex(/^[a-z0-9][a-z0-9_-]{0,62}$/), profileSchema),
    /**
     * Limits an attacker holding a valid agent token cannot exceed. Grant requests are refused with
     * 429 ERR_RATE_LIMITED (and Retry-After) past a token bucket per agent and one per source (the
     * agent's SPIFFE trust domain or OIDC issuer), shared by every replica through the store.
     * `perSecond: 0` turns a bucket off.
     */
    limits: z
      .object({
        grantRequests: z
          .object({
            perAgent: bucket.prefault({ perSecond: 20, burst: 100 }),
            perSource: bucket.prefault({ perSecond: 200, burst: 1000 }),
          })
          .strict()
          .prefault({}),
        /**
         * Live grants (issuing, active or revoking, until their expiry) one incident, and one agent
         * across every incident, may hold at once; past it a grant request answers 429
         * ERR_GRANT_QUOTA. Counted by the store, so replicas share them. 0 turns a quota off.
         */
        activeGrants: z
          .object({
            perIncident: z.number().int().min(0).max(1_000_000).default(1000),
            perAgent: z.number().int().min(0).max(1_000_000).default(100),
          })
          .strict()
          .prefault({}),
      })
      .strict()
      .prefault({}),
    /**
     * Cedar policy (docs/policy.md): the directory of `schema.cedarschema` and `*.cedar` files
     * enforced at every grant request, relative to the working directory. Absent: the profiles'
     * agent patterns and the incident binding decide alone.
     */
    policy: z
      .object({
        dir: filePath,
        /** A second set evaluated beside the enforced one, never enforced: its differences are logged and counted. */
        shadowDir: filePath.optional(),
        /** Reload a set when a file of its directory changes (SIGHUP reloads either way). */
        watch: z.boolean().default(true),
        /**
         * Verified agent-token claims policies may read as `principal.claims.<attribute>`:
         * attribute → the claim's name, or its path into nested objects (`[kubernetes.io,
         * namespace]`). The schema must declare each attribute on `Agent.claims`, optional.
         */
        agentClaims: z
          .record(
            z.string().regex(/^[A-Za-z_][A-Za-z0-9_]{0,63}$/u, 'a Cedar attribute name (letters, digits, _)'),
            z.union([z.string().min(1).max(256), z.array(z.string().min(1).max(256)).min(1).max(8)]),
          )
          .refine((m) => Object.keys(m).length <= 32, 'at most 32 claims')
          .default({}),
      })
      .strict()
      .optional(),
    /**
     * Incident tools that post signed webhooks (docs/incidents.md). A source without `secretFiles`
     * is off: its endpoint answers 404 ERR_WEBHOOK_NOT_CONFIGURED.
     */
    webhooks: z
      .object({
        pagerduty: webhookSourceWithApi.optional(),
        incidentio: webhookSourceWithApi.optional(),
        generic: webhookSource.optional(),
        /**
         * How often one replica re-checks the open incidents of sources with an `api`, so a missed
         * close webhook still revokes; 0 turns it off.
         */
        reconcileSeconds: z.number().int().min(0).max(86_400).default(60),
        /** Raw bodies above this are refused (413) before their signature is checked. */
        bodyLimitBytes: z
          .number()
          .int()
          .min(1024)
          .max(4 * 1024 * 1024)
          .default(256 * 1024),
        /** Standard Webhooks timestamps may differ from the broker's clock by this much. */
        toleranceSeconds: z.number().int().min(30).max(3600).default(300),
        /** A PagerDuty event (no signed timestamp) older than this by its occurred_at is refused as a replay. */
        maxEventAgeSeconds: z
          .number()
          .int()
          .min(60)
          .max(7 * 86_400)
          .default(86_400),
        /** Delivery and event ids are remembered at least this long (at most twice): a redelivery inside it is a duplicate. */
        dedupeSeconds: dedupeWindow,
        /** The severity of an incident whose source says none. */
        defaultSeverity: z.enum(SEVERITIES).default('sev3'),
      })
      .strict()
      .prefault({}),
    /**
     * Revocation events out (docs/deviation.md "Revocation events"): every revoked grant is pushed
     * to each receiver as a signed Security Event Token (RFC 8417, CAEP session-revoked) by RFC 8935
     * push, durably, with retries, until `giveUpSeconds`.
     */
    events: z
      .object({
        receivers: z
          .array(
            z
              .object({
                /** Names the receiver in logs, metrics and the queue. */
                name: z.string().regex(/^[a-z0-9][a-z0-9_-]{0,62}$/u),
                /** The receiver's RFC 8935 push endpoint. */
                url: z.url({ protocol: /^https?$/u }),
                /** The SET's `aud`: the receiver's own name for itself. */
                audience: z.string().min(1).max(512),
                /** File holding a bearer token the endpoint requires, if it does. */
                authorizationFile: filePath.optional(),
                timeoutMs: z.number().int().min(100).max(30_000).default(5000),
              })
              .strict(),
          )
          .max(16)
          .default([]),
        /**
         * The Ed25519 private JWK that signs SETs; its public half is at /.well-known/ssf-jwks.json.
         * Required in production with receivers.
         */
        keyFile: filePath.optional(),
        previousPublicKeyFiles: z.array(filePath).max(8).default([]),
        /** A SET not accepted this long after the revocation is dropped, with an audit event and a metric. */
        giveUpSeconds: z
          .number()
          .int()
          .min(60)
          .max(7 * 86_400)
          .default(86_400),
      })
      .strict()
      .prefault({}),
    /**
     * Deviation (docs/deviation.md): signals from detection systems (`POST /v1/signals`) and the
     * broker's own detectors, each decided by the policy set's outcome actions.
     */
    deviation: z
      .object({
        /**
         * Detection systems that sign their signals with Standard Webhooks, by name (the signal's
         * `source` in policy and audit). Operator-issuer tokens with the signals.send permission
         * may send signals too, named by their subject.
         */
        sources: z
          .array(z.object({ name: signalSourceName, ...webhookSource.shape }).strict())
          .max(32)
          .default([]),
        /** A signal id is remembered at least this long (at most twice) per source: a resend inside it is a duplicate. */
        dedupeSeconds: dedupeWindow,
        /** The broker's own detectors; each counts in the store, so every replica sees one window. */
        detectors: z
          .object({
            /** Grant requests the policy (or a profile's or incident's agents) denied, per agent. */
            repeatedDenials: detector({ threshold: 5, windowSeconds: 300, severity: 'medium' }),
            /**
             * Requests for profiles the agent may not have in the incident (a profile's agents, the
             * incident's assignment, no such profile), per agent and incident.
             */
            outOfScopeProfiles: detector({ threshold: 3, windowSeconds: 300, severity: 'medium' }),
            /** Grant requests, allowed or not, per agent. */
            requestRate: detector({ threshold: 300, windowSeconds: 60, severity: 'high' }),
            /** Introspections of a broker-signed token whose grant was revoked or released, per grant. */
            revokedTokenUse: detector({ threshold: 3, windowSeconds: 600, severity: 'medium' }),
            /** Grant requests for an incident that has closed, per agent and incident. */
            requestsAfterClose: detector({ threshold: 3, windowSeconds: 300, severity: 'low' }),
          })
          .strict()
          .prefault({}),
      })
      .strict()
      .prefault({}),
    /** Break-glass: major-incident mode (docs/approvals.md "Break-glass"). */
    breakGlass: z
      .object({
        /** The longest an operator may put an incident in major-incident mode for at once. */
        maxSeconds: z
          .number()
          .int()
          .min(60)
          .max(86_400)
          .default(4 * 3600),
        /** When the mode ends (at its expiry or by an operator), the grants issued under it are revoked, or kept to their own TTL. */
        onEnd: z.enum(['revoke', 'keep']).default('revoke'),
      })
      .strict()
      .prefault({}),
    /** Human approval of grants (docs/approvals.md). */
    approvals: z
      .object({
        /**
         * The rule for a grant a policy allows only once approved (`context.approved`) and whose
         * profile names no `approval`. Policies may raise the quorum or name the approvers with
         * annotations on the policy that asks (docs/approvals.md).
         */
        defaultRule: approvalRuleSchema.prefault({ approvers: ['approver'] }),
        /**
         * The agent token claim naming the human who sponsors the agent (a subject of the
         * operator issuer): that human may never approve the agent's requests.
         */
        sponsorClaim: z.string().min(1).max(256).optional(),
        /** GET /v1/approvals/:id waits at most this long for a change (long-poll). */
        maxWaitSeconds: z.number().int().min(0).max(60).default(25),
        /** How long a poll that claimed the issuance of an approved grant holds it before another may. */
        issueLeaseSeconds: z.number().int().min(5).max(300).default(30),
        /**
         * Tell approvers what waits: one signed (Standard Webhooks), Slack-compatible JSON POST per
         * approval request, to a Slack relay or chat-ops bridge. Best effort: GET /v1/approvals is
         * the record.
         */
        notify: signedNotice.optional(),
      })
      .strict()
      .prefault({}),
    /** The tamper-evident audit log (docs/audit.md). */
    audit: z
      .object({
        chain: z
          .object({
            /**
             * Link every event into a SHA-256 hash chain and sign checkpoints. Off, events are still
             * appended, but nothing can prove later that none was changed.
             */
            enabled: z.boolean().default(true),
            /**
             * The Ed25519 private JWK that signs checkpoints (readable by the broker only). Required
             * in production; in development it defaults to `<devIssuer.keyDir>/audit-checkpoint.jwk`,
             * generated on first start.
             */
            keyFile: filePath.optional(),
            /** Public JWKs of retired checkpoint keys, still served at GET /v1/audit/keys so older checkpoints verify. */
            previousPublicKeyFiles: z.array(filePath).max(8).default([]),
            /** How often each replica links new events into the chain. */
            sealIntervalMs: z.number().int().min(10).max(60_000).default(1000),
            /** A checkpoint is signed after this many events, or `checkpointSeconds`, whichever comes first. */
            checkpointEvery: z.number().int().min(1).max(1_000_000).default(1000),
            checkpointSeconds: z.number().int().min(1).max(86_400).default(60),
          })
          .strict()
          .prefault({}),
      })
      .strict()
      .prefault({}),
    /** How long the store keeps what is only history (docs/operations.md "Retention"). The audit log itself is kept. */
    retention: z
      .object({
        /** A grant that ended (revoked, released, expired, failed) stays in the ledger this long; its audit events stay. */
        endedGrantsSeconds: duration.max(10 * 365 * 86_400).default(30 * 86_400),
        /** Audit dedupe keys (exactly-once events of retried work) are remembered at least this long, at most twice. */
        auditDedupeSeconds: z
          .number()
          .int()
          .min(3600)
          .max(365 * 86_400)
          .default(7 * 86_400),
        /**
         * Refusals of grant requests, and introspections, are audited once per kind in a window of
         * this length, plus one summary counting the repeats; 0 audits every one.
         */
        repeatWindowSeconds: z.number().int().min(0).max(3600).default(60),
        /** How often each broker forgets ended grants and closes counted windows. */
        sweepSeconds: duration.max(3600).default(30),
      })
      .strict()
      .prefault({}),
    revocation: z
      .object({
        /** Jobs revoked in parallel by one broker. */
        concurrency: duration.max(256).default(16),
        batchSize: duration.max(1000).default(64),
        pollIntervalMs: duration.default(250),
        /**
         * A claimed job's lease: a worker renews it every third of this while the job is in flight, so
         * only a broker that died (or stalled this long) loses it, and another takes the job over after
         * at most this long. Shorter = faster takeover; a broker frozen longer than this may cause a
         * duplicate delivery, which is harmless (revocation is idempotent).
         */
        leaseSeconds: duration.default(5),
        backoffInitialMs: duration.default(1000),
        backoffMaxMs: duration.default(60_000),
        /** Per-broker ceiling on revocation calls per second; 0 = unlimited. Protects providers in close storms. */
        maxPerSecond: z.number().int().min(0).default(0),
        /** Past this, an outstanding revocation is escalated (audit + metric). */
        deadlineSeconds: duration.default(300),
        /**
         * Optional: where an overdue (or blocked) revocation is announced, once per grant, as a
         * Standard Webhooks-signed JSON POST (src/revocation/overdue_notice.ts).
         */
        overdueNotification: signedNotice.optional(),
        /** An intent without a committed handle after this was never handed out. */
        issueTimeoutSeconds: duration.default(30),
        expirySweepSeconds: duration.default(5),
        /**
         * While the broker serves any request, at most this many background provider calls
         * (revocation receipts) run at once; with none in flight they are not narrowed.
         */
        receiptLanesWhileServing: z.number().int().min(1).max(256).default(2),
      })
      .strict()
      .prefault({}),
  })
  .strict();

export const configSchema = configBase.superRefine((cfg, ctx) => {
  // A token the verifier would accept must fit in a request Node's parser accepts, with room for
  // the request line and the other headers; otherwise such agents get a bare 431.
  if (cfg.identity.maxTokenBytes + HEADER_ROOM_BYTES > cfg.server.maxHeaderBytes) {
    ctx.addIssue({
      code: 'custom',
      path: ['identity', 'maxTokenBytes'],
      message: `must be at most server.maxHeaderBytes (${cfg.server.maxHeaderBytes}) minus ${HEADER_ROOM_BYTES} bytes for the request line and other headers; raise server.maxHeaderBytes`,
    });
  }
  if (cfg.mode === 'production' && cfg.store.kind === 'memory') {
    ctx.addIssue({
      code: 'custom',
      path: ['store', 'kind'],
      message: 'the memory store loses every grant on restart; production mode requires redis',
    });
  }
  if (cfg.store.kind === 'redis' && cfg.store.sentinelPasswordFile !== undefined && cfg.store.sentinels === undefined) {
    ctx.addIssue({ code: 'custom', path: ['store', 'sentinelPasswordFile'], message: 'is for store.sentinels; none are configured' });
  }
  if (cfg.store.kind === 'redis' && cfg.store.cluster) {
    if (cfg.store.sentinels !== undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['store', 'cluster'],
        message: 'a Redis Cluster fails over by itself; set store.cluster or store.sentinels, not both',
      });
    }
    const db = new URL(cfg.store.url).pathname.replace(/^\//u, '');
    if (db !== '' && db !== '0') {
      ctx.addIssue({ code: 'custom', path: ['store', 'url'], message: `names db ${db}; a Redis Cluster has only db 0` });
    }
  }
  if (cfg.mode === 'production' && cfg.devIssuer) {
    ctx.addIssue({ code: 'custom', path: ['devIssuer'], message: 'the development token issuer is refused in production mode' });
  }
  if (cfg.mode === 'production' && cfg.audit.chain.enabled && cfg.audit.chain.keyFile === undefined) {
    ctx.addIssue({
      code: 'custom',
      path: ['audit', 'chain', 'keyFile'],
      message:
        'the audit chain signs checkpoints with an Ed25519 private JWK: set keyFile (generate one with `quartermaster audit keygen`)',
    });
  }
  if (cfg.mode === 'development' && !isLoopbackHost(cfg.server.host) && !cfg.server.allowNonLoopbackInDevelopment) {
    ctx.addIssue({
      code: 'custom',
      path: ['server', 'host'],
      message: `development mode listens on loopback only (its development token issuer mints agents for anyone who reaches it); got ${cfg.server.host}. Set server.allowNonLoopbackInDevelopment: true to listen there anyway`,
    });
  }
  if (cfg.mode === 'production') productionRefusals(cfg, ctx);
  const signalSources = new Set<string>();
  cfg.deviation.sources.forEach((source, i) => {
    if (signalSources.has(source.name) || source.name === 'quartermaster')
      ctx.addIssue({
        code: 'custom',
        path: ['deviation', 'sources', i, 'name'],
        message: `${source.name} is taken (by another source, or by the broker's own detectors: quartermaster)`,
      });
    signalSources.add(source.name);
  });
  for (const [name, p] of Object.entries(cfg.profiles)) {
    if (p.defaultTtl !== undefined && p.defaultTtl > p.maxTtl) {
      ctx.addIssue({ code: 'custom', path: ['profiles', name, 'defaultTtl'], message: 'must not exceed maxTtl' });
    }
    p.agents.forEach((pattern, i) => {
      if (!isValidPattern(pattern))
        ctx.addIssue({ code: 'custom', path: ['profiles', name, 'agents', i], message: 'invalid regular expression' });
    });
  }
});

export type Config = z.infer<typeof configSchema>;
export type { IdentityConfig, OidcIssuerConfig, OperatorIssuerConfig, SpiffeTrustDomainConfig } from './identity_schema.js';
export type ProfileConfig = z.infer<typeof profileSchema>;
export type RevocationConfig = Config['revocation'];

/** Agent ids in a trust domain and an issuer nobody configures: a pattern matching one pins neither. */
const UNPINNED_PROBES = ['spiffe://qm-probe.invalid/ns/probe/sa/probe', 'https://qm-probe.invalid#probe', 'qm-probe'];

/**
 * Production means TLS and narrow trust (docs/security.md "Production refusals"): no plain
 * connection leaves the host (Redis, issuers, the public URL; providers check their own, such as
 * Vault's address), and no profile admits agents of any trust domain or issuer.
 */
function productionRefusals(cfg: z.infer<typeof configBase>, ctx: z.RefinementCtx): void {
  const plain = (url: string): boolean => url.startsWith('http://') && !isLoopbackUrl(url);
  if (cfg.identity.fingerprintKeyFile === undefined) {
    ctx.addIssue({
      code: 'custom',
      path: ['identity', 'fingerprintKeyFile'],
      message: 'production mode needs a fingerprint key shared by every replica, so token fingerprints in logs and audit match across them',
    });
  }
  // Through Sentinel, the primary is wherever the sentinels say: loopback only if they all are.
  // A cluster's other nodes are wherever its slot map says, whatever the seed: never loopback.
  const offLoopback = (store: Extract<typeof cfg.store, { kind: 'redis' }>): boolean =>
    store.cluster ? true : store.sentinels ? store.sentinels.some((s) => !isLoopbackHost(s.host)) : !isLoopbackUrl(store.url);
  if (cfg.store.kind === 'redis' && cfg.store.url.startsWith('redis://') && offLoopback(cfg.store)) {
    ctx.addIssue({
      code: 'custom',
      path: ['store', 'url'],
      message: 'production mode reaches Redis over TLS (rediss://) unless it is on loopback',
    });
  }
  if (cfg.server.publicUrl !== undefined && plain(cfg.server.publicUrl)) {
    ctx.addIssue({
      code: 'custom',
      path: ['server', 'publicUrl'],
      message: 'production mode needs an https public URL (tokens name it as their issuer)',
    });
  }
  if (cfg.events.receivers.length > 0 && cfg.events.keyFile === undefined) {
    ctx.addIssue({
      code: 'custom',
      path: ['events', 'keyFile'],
      message: 'revocation events are signed with an Ed25519 private JWK: set events.keyFile',
    });
  }
  const notices: Array<[PropertyKey[], string | undefined]> = [
    ...cfg.events.receivers.map((r, i): [PropertyKey[], string] => [['events', 'receivers', i, 'url'], r.url]),
    [['approvals', 'notify', 'url'], cfg.approvals.notify?.url],
    [['revocation', 'overdueNotification', 'url'], cfg.revocation.overdueNotification?.url],
  ];
  for (const [path, url] of notices) {
    if (url !== undefined && plain(url))
      ctx.addIssue({ code: 'custom', path, message: 'production mode sends notices over https only (http on loopback only)' });
  }
  const issuers: Array<[PropertyKey[], string | undefined]> = [
    [['identity', 'operators', 'issuer'], cfg.identity.operators.issuer],
    [['console', 'oidc', 'issuer'], cfg.console.oidc?.issuer],
    ...(cfg.console.oidc?.connectOrigins ?? []).map((o, i): [PropertyKey[], string] => [['console', 'oidc', 'connectOrigins', i], o]),
    ...cfg.identity.agents.oidc.map((o, i): [PropertyKey[], string] => [['identity', 'agents', 'oidc', i, 'issuer'], o.issuer]),
    ...cfg.identity.agents.spiffe.map((s, i): [PropertyKey[], string | undefined] => [
      ['identity', 'agents', 'spiffe', i, 'issuer'],
      s.issuer,
    ]),
  ];
  for (const [path, issuer] of issuers) {
    if (issuer !== undefined && plain(issuer))
      ctx.addIssue({ code: 'custom', path, message: 'production mode trusts only https issuers (http on loopback only)' });
  }
  for (const [name, profile] of Object.entries(cfg.profiles)) {
    profile.agents.forEach((pattern, i) => {
      if (!isValidPattern(pattern)) return; // reported as an invalid regular expression
      const matcher = anchoredPattern(pattern);
      const probe = UNPINNED_PROBES.find((id) => matcher.test(id));
      if (probe !== undefined) {
        ctx.addIssue({
          code: 'custom',
          path: ['profiles', name, 'agents', i],
          message: `matches agents of any trust domain or issuer (it matches ${probe}); production mode needs each pattern pinned to one`,
        });
      }
    });
  }
}
