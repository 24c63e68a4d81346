/**
 * The store contract for the audit chain's links and checkpoints (store.ts AuditChainStore): the
 * head moves only from where the sealer read it (no fork with sealers racing), links and
 * checkpoints are stored with it atomically, and the log's counter is what was handed out.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import type { AuditChainHead, Store } from '../../../src/store/store.js';
import { T0, type ContractWorld } from './world.js';

const hex = (c: string): string => c.repeat(64);

export function describeAuditChainContract(world: ContractWorld): void {
  let store!: Store;
  beforeEach(() => {
    store = world.store();
  });

  describe('audit chain', () => {
    const first: AuditChainHead = { seq: 2, hash: hex('b'), checkpointSeq: 2, checkpointAt: T0 };

    it('starts with no head, no links, no checkpoints, and counts the seqs it hands out', async () => {
      expect(await store.getAuditChainHead()).toBeNull();
      expect(await store.lastAuditSeq()).toBe(0);
      await store.appendAudit({ at: T0, type: 'incident.opened', actor: 'alice' });
      await store.appendAudit({ at: T0, type: 'incident.opened', actor: 'bob' });
      expect(await store.lastAuditSeq()).toBe(2);
      expect(await store.getAuditLinks(1, 2)).toEqual(new Map());
      expect(await store.listAuditCheckpoints(0, 10)).toEqual([]);
    });

    it('seals links, the head and a checkpoint together from the head it read', async () => {
      const links = [
        { seq: 1, hash: hex('a') },
        { seq: 2, hash: hex('b') },
      ];
      expect(await store.sealAudit(null, links, first, { seq: 2, jws: 'cp-2' })).toBe(true);
      expect(await store.getAuditChainHead()).toEqual(first);
      expect(await store.getAuditLinks(1, 3)).toEqual(
        new Map([
          [1, hex('a')],
          [2, hex('b')],
        ]),
      );
      expect(await store.getAuditLinks(2, 2)).toEqual(new Map([[2, hex('b')]]));
      expect(await store.getAuditLinks(3, 2)).toEqual(new Map());
      const next: AuditChainHead = { ...first, seq: 3, hash: hex('c') };
      expect(await store.sealAudit(first, [{ seq: 3, hash: hex('c') }], next)).toBe(true);
      expect(await store.getAuditChainHead()).toEqual(next);
      expect(await store.listAuditCheckpoints(0, 10)).toEqual([{ seq: 2, jws: 'cp-2' }]);
    });

    it('writes nothing when the head moved since it was read (a racing sealer lost)', async () => {
      expect(await store.sealAudit(null, [{ seq: 1, hash: hex('a') }], { ...first, seq: 1, hash: hex('a') })).toBe(true);
      const stale = await store.sealAudit(
        null,
        [{ seq: 1, hash: hex('f') }],
        { ...first, seq: 1, hash: hex('f') },
        { seq: 1, jws: 'stale' },
      );
      expect(stale).toBe(false);
      const other = await store.sealAudit({ ...first, seq: 1, hash: hex('f') }, [{ seq: 2, hash: hex('e') }], first);
      expect(other).toBe(false);
      expect(await store.getAuditChainHead()).toEqual({ ...first, seq: 1, hash: hex('a') });
      expect(await store.getAuditLinks(1, 2)).toEqual(new Map([[1, hex('a')]]));
      expect(await store.listAuditCheckpoints(0, 10)).toEqual([]);
    });

    it('lists checkpoints by seq after a seq, up to a limit', async () => {
      let head: AuditChainHead | null = null;
      for (const seq of [1, 2, 3]) {
        const next: AuditChainHead = { seq, hash: hex(String(seq)), checkpointSeq: seq, checkpointAt: T0 + seq };
        expect(await store.sealAudit(head, [{ seq, hash: next.hash }], next, { seq, jws: `cp-${seq}` })).toBe(true);
        head = next;
      }
      expect(await store.listAuditCheckpoints(0, 10)).toEqual([1, 2, 3].map((seq) => ({ seq, jws: `cp-${seq}` })));
      expect(await store.listAuditCheckpoints(1, 1)).toEqual([{ seq: 2, jws: 'cp-2' }]);
      expect(await store.listAuditCheckpoints(3, 10)).toEqual([]);
      expect(await store.listAuditCheckpoints(0, 0)).toEqual([]);
    });
  });
}
