/**
 * An operator acknowledges a store data loss (store/integrity.ts): the broker serves again on the
 * emptied store. Whoever acknowledges is named in the audit log, which after a wipe starts with
 * this event. Called the same way by HTTP (POST /v1/store/acknowledge-loss) and the CLI
 * (`quartermaster store acknowledge-loss`).
 */
import type { AuditLog } from '../audit/audit_log.js';
import { BrokerError } from '../errors.js';
import type { StoreIntegrity } from '../store/integrity.js';
import { actorOf, provenanceOf, type ActorRef } from '../model.js';
import type { StoreLoss } from '../store/store_meta.js';

export interface AcknowledgeDeps {
  readonly integrity: Pick<StoreIntegrity, 'acknowledge'>;
  readonly audit: Pick<AuditLog, 'record'>;
  readonly now: () => number;
}

export async function acknowledgeStoreLoss(deps: AcknowledgeDeps, by: ActorRef, reason: string): Promise<StoreLoss> {
  const actor = actorOf(by);
  const loss = await deps.integrity.acknowledge(actor.id, reason);
  if (!loss) throw new BrokerError('ERR_NO_STORE_LOSS', 409, 'no store data loss is recorded; nothing to acknowledge');
  await deps.audit.record(
    {
      at: deps.now(),
      type: 'store.loss_acknowledged',
      actor: actor.id,
      data: { lossId: loss.id, detectedAt: loss.detectedAt, reason, ...provenanceOf(actor) },
    },
    { dedupeKey: `store.loss_acknowledged:${loss.id}` },
  );
  return loss;
}
