/**
 * What every domain flow (incidents/, grants/, revocation/) works with. Built once in main.ts;
 * the HTTP routes and the CLI call the same flows with it.
 */
import type { ApprovalNotifier } from './approvals/notify.js';
import type { RevocationEvents } from './events/revocation_events.js';
import type { IncidentKill } from './revocation/incident_kill.js';
import type { AuditLog } from './audit/audit_log.js';
import type { Catalog } from './catalog/catalog.js';
import type { Config } from './config/schema.js';
import type { Detectors } from './deviation/detectors.js';
import type { Logger } from './logging.js';
import type { Metrics } from './metrics.js';
import type { PolicyEngine } from './policy/policy_engine.js';
import type { Store } from './store/store.js';
import type { SourceChecks } from './webhooks/source_checks.js';

export interface DomainDeps {
  readonly config: Config;
  readonly store: Store;
  readonly catalog: Catalog;
  readonly audit: AuditLog;
  readonly metrics: Metrics;
  readonly logger: Logger;
  readonly now: () => number;
  /** Wakes the revocation worker after new jobs were enqueued (no-op when none runs here). */
  readonly nudgeRevocation: () => void;
  /** Kills a closing incident upstream at once, beside the queue (revocation/incident_kill.ts); absent in flows that never close one. */
  readonly incidentKill?: Pick<IncidentKill, 'begin'> | null;
  /** The enforced Cedar policy set, with its shadow and reloads (src/policy/); absent when `policy.dir` is not configured. */
  readonly policy?: (Pick<PolicyEngine, 'decide' | 'annotations'> & Partial<Pick<PolicyEngine, 'decideSignal'>>) | null;
  /** Asking incident tools whether their incidents are open (webhooks/source_checks.ts); absent when no source has an API. */
  readonly sourceChecks?: SourceChecks | null;
  /** Pushes a SET to every receiver for each revoked grant (events/revocation_events.ts); absent without events.receivers. */
  readonly revocationEvents?: RevocationEvents | null;
  /** Tells approvers of a new approval request (approvals/notify.ts); absent when approvals.notify is not configured. */
  readonly approvalNotifier?: ApprovalNotifier | null;
  /** The broker's own deviation detectors (deviation/detectors.ts); absent in flows that do not watch. */
  readonly detectors?: Detectors | null;
}
