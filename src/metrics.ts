/**
 * Prometheus metrics, one registry per broker instance (no module-level singletons, CONTRIBUTING.md #7).
 * Labels carry only bounded, non-secret values: profile, provider, error code, outcome.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export interface Metrics {
  readonly registry: Registry;
  readonly httpRequestSeconds: Histogram<'method' | 'route' | 'status'>;
  readonly httpParserRefusals: Counter<'code'>;
  readonly grantsIssued: Counter<'profile' | 'provider'>;
  readonly grantsDenied: Counter<'code'>;
  readonly revocations: Counter<'provider' | 'outcome'>;
  readonly revocationRetries: Counter<'provider' | 'code'>;
  readonly revocationOverdue: Counter<'provider'>;
  readonly closeToRevokedSeconds: Histogram<'provider'>;
  readonly incidentCloseToAllRevokedSeconds: Histogram;
  readonly incidentKillSeconds: Histogram<'provider' | 'outcome'>;
  readonly revocationQueueDepth: Gauge;
  readonly grantsExpired: Counter;
  readonly grantsForgotten: Counter;
  readonly webhookDeliveries: Counter<'source' | 'outcome'>;
  readonly policyReloads: Counter<'set' | 'outcome'>;
  readonly policyShadowDifferences: Counter<'enforced' | 'shadow'>;
  readonly webhookEvents: Counter<'source' | 'outcome'>;
  readonly tokenRefusals: Counter<'kind' | 'code'>;
  readonly introspections: Counter<'caller' | 'active'>;
  readonly keySetRefreshes: Counter<'key_set' | 'outcome'>;
  readonly storePersistent: Gauge;
  readonly storeDataLost: Gauge;
  readonly approvals: Counter<'outcome'>;
  readonly revocationEvents: Counter<'receiver' | 'outcome'>;
  readonly deviationSignals: Counter<'via' | 'outcome'>;
  readonly deviationDetections: Counter<'detector'>;
  readonly deviationOutcomes: Counter<'outcome' | 'detector'>;
  readonly auditChainSealedSeq: Gauge;
  readonly auditChainUnsealed: Gauge;
  readonly auditChainBroken: Gauge;
  readonly auditCheckpoints: Counter;
}

export function createMetrics(options: { defaultMetrics: boolean; queueDepth?: () => Promise<number> }): Metrics {
  const registry = new Registry();
  if (options.defaultMetrics) collectDefaultMetrics({ register: registry, prefix: 'quartermaster_' });
  const queueDepth = options.queueDepth;
  return {
    registry,
    httpRequestSeconds: new Histogram({
      name: 'quartermaster_http_request_duration_seconds',
      help: 'HTTP request latency by route template.',
      labelNames: ['method', 'route', 'status'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [registry],
    }),
    httpParserRefusals: new Counter({
      name: 'quartermaster_http_parser_refusals_total',
      help: "Requests Node's HTTP parser refused before routing (headers too large, timeout, malformed), by error code.",
      labelNames: ['code'],
      registers: [registry],
    }),
    grantsIssued: new Counter({
      name: 'quartermaster_grants_issued_total',
      help: 'Credentials handed out.',
      labelNames: ['profile', 'provider'],
      registers: [registry],
    }),
    grantsDenied: new Counter({
      name: 'quartermaster_grants_denied_total',
      help: 'Grant requests refused, by error code.',
      labelNames: ['code'],
      registers: [registry],
    }),
    revocations: new Counter({
      name: 'quartermaster_revocations_total',
      help: 'Grants that reached a terminal revocation outcome.',
      labelNames: ['provider', 'outcome'],
      registers: [registry],
    }),
    revocationRetries: new Counter({
      name: 'quartermaster_revocation_retries_total',
      help: 'Revocation attempts that failed and were rescheduled.',
      labelNames: ['provider', 'code'],
      registers: [registry],
    }),
    revocationOverdue: new Counter({
      name: 'quartermaster_revocation_overdue_total',
      help: 'Revocations still outstanding past the configured deadline (escalated).',
      labelNames: ['provider'],
      registers: [registry],
    }),
    incidentCloseToAllRevokedSeconds: new Histogram({
      name: 'quartermaster_incident_close_to_all_revoked_seconds',
      help: "From an incident's close to its last grant revoked (or expired), once per incident.",
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300, 900],
      registers: [registry],
    }),
    incidentKillSeconds: new Histogram({
      name: 'quartermaster_incident_kill_seconds',
      help: "From an incident's close to its provider's kill of it (outcome killed, nothing or failed), once per close and provider.",
      labelNames: ['provider', 'outcome'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    }),
    closeToRevokedSeconds: new Histogram({
      name: 'quartermaster_revocation_latency_seconds',
      help: 'Time from revocation request (close, release) to confirmed revocation.',
      labelNames: ['provider'],
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
      registers: [registry],
    }),
    revocationQueueDepth: new Gauge({
      name: 'quartermaster_revocation_queue_depth',
      help: 'Revocation jobs waiting or in flight.',
      registers: [registry],
      ...(queueDepth
        ? {
            async collect(this: Gauge) {
              this.set(await queueDepth().catch(() => -1));
            },
          }
        : {}),
    }),
    grantsExpired: new Counter({
      name: 'quartermaster_grants_expired_total',
      help: 'Grants that reached their TTL while active.',
      registers: [registry],
    }),
    grantsForgotten: new Counter({
      name: 'quartermaster_grants_forgotten_total',
      help: 'Ended grants removed from the ledger past retention.endedGrantsSeconds (their audit events stay).',
      registers: [registry],
    }),
    policyReloads: new Counter({
      name: 'quartermaster_policy_reloads_total',
      help: 'Policy set reloads (SIGHUP, a file changed), by set (enforced, shadow) and outcome (reloaded, failed: the previous set keeps serving).',
      labelNames: ['set', 'outcome'],
      registers: [registry],
    }),
    policyShadowDifferences: new Counter({
      name: 'quartermaster_policy_shadow_differences_total',
      help: 'Decisions where the shadow policy set disagrees with the enforced one (never enforced), by both effects.',
      labelNames: ['enforced', 'shadow'],
      registers: [registry],
    }),
    webhookDeliveries: new Counter({
      name: 'quartermaster_webhook_deliveries_total',
      help: 'Webhook deliveries by source and outcome: accepted (recorded), duplicate, ignored, or the refusal code.',
      labelNames: ['source', 'outcome'],
      registers: [registry],
    }),
    webhookEvents: new Counter({
      name: 'quartermaster_webhook_events_total',
      help: 'Webhook events applied from the inbox, by source and what they did (opened, updated, closed, reopened, unchanged, stale, failed).',
      labelNames: ['source', 'outcome'],
      registers: [registry],
    }),
    introspections: new Counter({
      name: 'quartermaster_introspections_total',
      help: 'Introspection answers, by caller (operator, or the configured introspection client name) and whether the token was active.',
      labelNames: ['caller', 'active'],
      registers: [registry],
    }),
    tokenRefusals: new Counter({
      name: 'quartermaster_token_refusals_total',
      help: 'Bearer tokens refused, by endpoint kind (agent, operator) and error code.',
      labelNames: ['kind', 'code'],
      registers: [registry],
    }),
    storePersistent: new Gauge({
      name: 'quartermaster_store_persistent',
      help: '1 when the store keeps acknowledged writes across a restart (Redis AOF with appendfsync everysec or always), 0 when it does not.',
      registers: [registry],
    }),
    storeDataLost: new Gauge({
      name: 'quartermaster_store_data_lost',
      help: '1 while a store data loss is detected and not yet acknowledged (every request is refused), 0 otherwise.',
      registers: [registry],
    }),
    deviationSignals: new Counter({
      name: 'quartermaster_deviation_signals_total',
      help: 'Signals received on POST /v1/signals, by how the sender authenticated (webhook, token) and outcome: accepted, duplicate, unresolved.',
      labelNames: ['via', 'outcome'],
      registers: [registry],
    }),
    deviationDetections: new Counter({
      name: 'quartermaster_deviation_detections_total',
      help: "Signals raised by the broker's own detectors, by detector (<detector>_failed: a count that could not be made).",
      labelNames: ['detector'],
      registers: [registry],
    }),
    deviationOutcomes: new Counter({
      name: 'quartermaster_deviation_outcomes_total',
      help: 'Signals decided by the policy, by outcome (none, revoke_in_incident, revoke_everywhere, quarantine) and whether a detector raised them.',
      labelNames: ['outcome', 'detector'],
      registers: [registry],
    }),
    revocationEvents: new Counter({
      name: 'quartermaster_revocation_events_total',
      help: 'Revocation SETs pushed to receivers, by receiver and outcome: delivered, retried, rejected (400: never resent), gave_up.',
      labelNames: ['receiver', 'outcome'],
      registers: [registry],
    }),
    approvals: new Counter({
      name: 'quartermaster_approvals_total',
      help: 'Approval requests by outcome: requested, approved, denied, expired, cancelled, issued.',
      labelNames: ['outcome'],
      registers: [registry],
    }),
    auditChainSealedSeq: new Gauge({
      name: 'quartermaster_audit_chain_sealed_seq',
      help: 'The last audit seq linked into the hash chain (seen by this replica).',
      registers: [registry],
    }),
    auditChainUnsealed: new Gauge({
      name: 'quartermaster_audit_chain_unsealed_events',
      help: "Audit events appended but not yet linked into the hash chain, at this replica's last pass.",
      registers: [registry],
    }),
    auditChainBroken: new Gauge({
      name: 'quartermaster_audit_chain_broken',
      help: '1 while the sealer finds the log does not continue its chain (a missing event after the sealed head): sealing stops, audit verify names the event.',
      registers: [registry],
    }),
    auditCheckpoints: new Counter({
      name: 'quartermaster_audit_checkpoints_total',
      help: 'Signed audit checkpoints this replica wrote.',
      registers: [registry],
    }),
    keySetRefreshes: new Counter({
      name: 'quartermaster_key_set_refreshes_total',
      help: 'Trusted key set fetches, by key set and outcome (ok, failed).',
      labelNames: ['key_set', 'outcome'],
      registers: [registry],
    }),
  };
}
