/**
 * Step claimSingleUse (grants/steps/claim_single_use.ts): a single-use profile spends the agent
 * token on its first grant request; any later request with the same token id is a replay.
 */
import { describe, expect, it } from 'vitest';
import type { ProfileEntry } from '../../src/catalog/catalog.js';
import { BrokerError } from '../../src/errors.js';
import { claimSingleUse } from '../../src/grants/steps/claim_single_use.js';
import type { AgentIdentity } from '../../src/identity/types.js';
import { createMemoryStore } from '../../src/store/memory_store.js';

const T0 = Date.UTC(2030, 0, 1);
const profile = (singleUse: boolean, name = 'p'): ProfileEntry => ({ name, config: { singleUse } }) as unknown as ProfileEntry;
const agent = (tokenId: string): AgentIdentity => ({
  kind: 'agent',
  id: 'spiffe://dev.local/a',
  issuer: 'i',
  issuerName: 'dev.local',
  subject: 'spiffe://dev.local/a',
  expiresAt: T0 + 60_000,
  acceptedUntil: T0 + 90_000,
  fingerprint: 'f',
  tokenId,
});

describe('claimSingleUse step', () => {
  it('lets any number of requests through a profile that is not single-use', async () => {
    const deps = { store: createMemoryStore(), now: () => T0 };
    for (let i = 0; i < 3; i++)
      await expect(claimSingleUse(deps, { agent: agent('t1'), profile: profile(false) })).resolves.toBeUndefined();
  });

  it('spends a token on its first request and refuses the replay with 401 ERR_TOKEN_REPLAYED', async () => {
    const deps = { store: createMemoryStore(), now: () => T0 };
    await claimSingleUse(deps, { agent: agent('t1'), profile: profile(true) });
    const err = await claimSingleUse(deps, { agent: agent('t1'), profile: profile(true) }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BrokerError);
    expect(err).toMatchObject({ code: 'ERR_TOKEN_REPLAYED', status: 401, headers: { 'WWW-Authenticate': 'Bearer error="invalid_token"' } });
    // The operator's detail: which profile, which token, and whether its record is keyed on a jti.
    expect(err).toMatchObject({ detail: 'profiles.p is single-use and token f (no jti) was already used' });
    await expect(claimSingleUse(deps, { agent: agent('t2'), profile: profile(true) })).resolves.toBeUndefined();
  });

  it('says in the detail when the spent token carried a jti (its record is keyed on it)', async () => {
    const deps = { store: createMemoryStore(), now: () => T0 };
    const withJti: AgentIdentity = { ...agent('t1'), jti: 'j-1' };
    await claimSingleUse(deps, { agent: withJti, profile: profile(true) });
    await expect(claimSingleUse(deps, { agent: withJti, profile: profile(true) })).rejects.toMatchObject({
      code: 'ERR_TOKEN_REPLAYED',
      detail: 'profiles.p is single-use and token f (jti) was already used',
    });
  });

  it('spends the token, not the profile: a second single-use profile refuses it too', async () => {
    const deps = { store: createMemoryStore(), now: () => T0 };
    await claimSingleUse(deps, { agent: agent('t1'), profile: profile(true, 'a') });
    await expect(claimSingleUse(deps, { agent: agent('t1'), profile: profile(false, 'b') })).resolves.toBeUndefined();
    await expect(claimSingleUse(deps, { agent: agent('t1'), profile: profile(true, 'c') })).rejects.toMatchObject({
      code: 'ERR_TOKEN_REPLAYED',
    });
  });

  it('keeps the record until the last instant the verifier accepts the token (exp + leeway)', async () => {
    let now = T0;
    const deps = { store: createMemoryStore(), now: () => now };
    await claimSingleUse(deps, { agent: agent('t1'), profile: profile(true) });
    now = T0 + 89_999;
    await expect(claimSingleUse(deps, { agent: agent('t1'), profile: profile(true) })).rejects.toMatchObject({
      code: 'ERR_TOKEN_REPLAYED',
    });
  });
});
