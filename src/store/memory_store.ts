/**
 * The in-process store for the embedded default and unit tests (docs/architecture.md "State"),
 * assembled from its areas: the incident ledger (memory_ledger.ts) and the revocation queue
 * (memory_queue.ts) over one shared state (memory_state.ts), the audit log (memory_audit.ts),
 * claims and locks (memory_coordination.ts). Each method does all its work before its first (and
 * only) resolution, so it is atomic the way the Redis store's Lua scripts are.
 *
 * Everything is lost on restart; config refuses this store in production mode.
 */
import { createMemoryAudit } from './memory_audit.js';
import { createMemoryCoordination } from './memory_coordination.js';
import { createMemoryInbox } from './memory_inbox.js';
import { createMemoryLedger } from './memory_ledger.js';
import { createMemoryMeta } from './memory_meta.js';
import { createMemoryQueue } from './memory_queue.js';
import { createMemoryState } from './memory_state.js';
import type { Store } from './store.js';

export function createMemoryStore(): Store {
  const state = createMemoryState();
  const ledger = createMemoryLedger(state);
  const coordination = createMemoryCoordination();
  return {
    kind: 'memory',
    meta: createMemoryMeta(),
    async ping() {},
    async close() {},
    ...ledger,
    ...createMemoryQueue(state),
    ...createMemoryAudit(),
    ...coordination,
    // Both synchronous underneath: the read runs after the intent, nothing in between.
    async createGrantIntentAndRead(grant, quota, registerKey) {
      const result = await ledger.createGrantIntent(grant, quota);
      return { result, register: await coordination.getRegister(registerKey) };
    },
    ...createMemoryInbox(),
  };
}
