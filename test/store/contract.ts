/**
 * The one contract every Store implementation passes (docs/architecture.md "State",
 * CONTRIBUTING.md #17), one file per area of the port (test/store/contract/): the guarantees
 * written in src/store/store.ts and the behaviour the domain flows rely on. Times are passed
 * explicitly, so nothing here sleeps or reads a clock.
 */
import { afterEach, beforeEach, describe } from 'vitest';
import type { Store } from '../../src/store/store.js';
import { describeAuditContract } from './contract/audit.js';
import { describeAuditChainContract } from './contract/audit_chain.js';
import { describeCoordinationContract } from './contract/coordination.js';
import { describeInboxContract } from './contract/inbox.js';
import { describeLedgerContract } from './contract/ledger.js';
import { describeMetaContract } from './contract/meta.js';
import { describeQueueContract } from './contract/queue.js';
import { describeRecordsContract } from './contract/records.js';
import { contractWorld } from './contract/world.js';

export { grantFixture, incidentFixture } from './contract/world.js';

export interface StoreFixture {
  readonly store: Store;
  cleanup(): Promise<void>;
}

export function describeStoreContract(name: string, setup: () => Promise<StoreFixture>): void {
  describe(`${name} store contract`, () => {
    let fixture: StoreFixture;
    beforeEach(async () => {
      fixture = await setup();
    });
    afterEach(async () => {
      await fixture.cleanup();
    });
    const world = contractWorld(() => fixture.store);
    describeLedgerContract(world);
    describeQueueContract(world);
    describeAuditContract(world);
    describeAuditChainContract(world);
    describeCoordinationContract(world);
    describeMetaContract(world);
    describeRecordsContract(world);
    describeInboxContract(world);
  });
}
