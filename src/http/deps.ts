/** What the HTTP layer needs: the domain deps plus the identity verifier and the store's health. */
import type { AuditChain } from '../audit/audit_chain.js';
import type { WebhookReceivers } from '../webhooks/receive.js';
import type { DomainDeps } from '../domain.js';
import type { SignalSources } from '../deviation/signal_sources.js';
import type { Identity } from '../identity/types.js';
import type { StoreIntegrity } from '../store/integrity.js';
import type { StorePersistence } from '../store/store_meta.js';

export interface StoreHealth {
  readonly integrity: StoreIntegrity;
  /** Null for the memory store (development only). */
  readonly persistence: StorePersistence | null;
}

export interface HttpDeps extends DomainDeps {
  readonly identity: Identity;
  readonly storeHealth: StoreHealth;
  /** Null when `audit.chain.enabled` is false. */
  readonly auditChain: AuditChain | null;
  /** The configured webhook sources (webhooks/receive.ts). */
  readonly webhooks: WebhookReceivers;
  /** The signal sources that sign with Standard Webhooks (deviation/signal_sources.ts). */
  readonly signalSources: SignalSources;
}
