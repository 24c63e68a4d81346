import { describe, expect, it } from 'vitest';
import { createMemoryStore } from '../../src/store/memory_store.js';
import { describeStoreContract } from './contract.js';

describeStoreContract('memory', async () => ({ store: createMemoryStore(), cleanup: async () => {} }));

describe('memory store', () => {
  it('reports its kind so production mode can refuse it', () => {
    expect(createMemoryStore().kind).toBe('memory');
  });
});
