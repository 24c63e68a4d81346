/**
 * The attack suite (issue 3, docs/security.md §1): one row per attack, each with a valid counterpart
 * that must pass first and an attack that changes one thing and must fail with the expected code
 * (SPIFFE conformance method, CONTRIBUTING.md #18). Rows run against a freshly booted verifier whose
 * verified-token cache already holds the valid token, so every attack also probes the cache.
 */
import { createPublicKey } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ProfileEntry } from '../../src/catalog/catalog.js';
import { claimSingleUse } from '../../src/grants/steps/claim_single_use.js';
import type { Identity } from '../../src/identity/types.js';
import { createMemoryStore } from '../../src/store/memory_store.js';
import { ATTACKS_ALG_AND_HEADER } from './attacks/alg_and_header.js';
import { ATTACKS_CLAIMS } from './attacks/claims.js';
import { ATTACKS_STRUCTURE_AND_SIGNATURE } from './attacks/structure_and_signature.js';
import { ATTACKS_SUBJECT_AND_TRUST } from './attacks/subject_and_trust.js';
import type { AttackCase } from './attacks/attack_case.js';
import { createWorld, refusal, START, type World } from './identity_world.js';

const ROWS: readonly AttackCase[] = [
  ...ATTACKS_ALG_AND_HEADER,
  ...ATTACKS_STRUCTURE_AND_SIGNATURE,
  ...ATTACKS_CLAIMS,
  ...ATTACKS_SUBJECT_AND_TRUST,
];

let now = START;
let world: World;
let identity: Identity;
beforeEach(async () => {
  now = START;
  world = createWorld(() => now);
  identity = await world.boot();
});
afterEach(() => world.cleanup());

const singleUseProfile = { name: 'one-shot', config: { singleUse: true } } as unknown as ProfileEntry;

describe('attack suite', () => {
  it('has at least 60 rows, every name unique', () => {
    expect(ROWS.length).toBeGreaterThanOrEqual(60);
    expect(new Set(ROWS.map((r) => r.name)).size).toBe(ROWS.length);
  });

  it.each(ROWS.map((r) => [r.name, r] as const))('refuses %s', async (_name, row) => {
    const authenticate = (token: string) =>
      row.endpoint === 'operator' ? identity.authenticateOperator(token) : identity.authenticateAgent(token);
    const store = createMemoryStore();
    const spend = async (token: string): Promise<void> => {
      const agent = await identity.authenticateAgent(token);
      await claimSingleUse({ store, now: () => now }, { agent, profile: singleUseProfile });
    };

    // The valid counterpart passes on the endpoint under test…
    const valid = row.valid();
    if (row.flow === 'single-use') await spend(valid);
    else await expect(authenticate(valid)).resolves.toMatchObject({ kind: row.endpoint ?? 'agent' });

    // …then one thing changes.
    const attack = row.attack(valid);
    const err = await refusal(row.flow === 'single-use' ? spend(attack) : authenticate(attack));
    expect({ code: err.code, detail: err.detail }).toMatchObject({ code: row.code });
    expect(err.status).toBe(401);
    expect(err.headers).toEqual({ 'WWW-Authenticate': 'Bearer error="invalid_token"' });
    expect(err.detail).toBeTruthy();
    // The client sees the class only; neither the token nor its signature is echoed anywhere.
    const signature = attack.split('.')[2] ?? '';
    for (const text of [err.message, err.detail ?? '', JSON.stringify(err.toBody())]) {
      if (attack.length > 40) expect(text).not.toContain(attack.slice(0, 40));
      if (signature.length > 20) expect(text).not.toContain(signature);
    }
  });
});

describe('key material the verifier must never accept', () => {
  it('cannot even load an HMAC or private key into a key set (boot refuses)', async () => {
    const { devEs } = (await import('./identity_world.js')).signers();
    world.write(world.files.dev, { keys: [{ kty: 'oct', k: 'c2VjcmV0', kid: 'hmac', use: 'jwt-svid' }] });
    expect((await refusal(world.boot())).code).toBe('ERR_CONFIG');
    world.write(world.files.dev, {
      keys: [{ ...(devEs.privateKey.export({ format: 'jwk' }) as object), kid: devEs.kid, use: 'jwt-svid' }],
    });
    expect((await refusal(world.boot())).code).toBe('ERR_CONFIG');
    // The public half of the same key is fine.
    world.write(world.files.dev, {
      keys: [{ ...(createPublicKey(devEs.privateKey).export({ format: 'jwk' }) as object), kid: devEs.kid, use: 'jwt-svid' }],
    });
    await expect(world.boot()).resolves.toBeTruthy();
  });
});
