import { describe, expect, it } from 'vitest';
import { checkIssued, isProviderSubjectFormat, subjectsOf, wrapProviderError } from '../../src/catalog/provider_boundary.js';
import { providerUnavailable, type IssuedCredential } from '../../src/sdk.js';

const NOW = 1_700_000_000_000;
const valid: IssuedCredential = {
  credential: { access_token: 'secret-value-123456' },
  handle: { jti: 'grt_1' },
  expiresAt: NOW + 300_000,
  secretFields: ['access_token'],
};

describe('provider boundary checks', () => {
  it('accepts a credential within its TTL with a secret-free handle', () => {
    expect(() => checkIssued('p', valid, 300, NOW)).not.toThrow();
  });
  it('rejects an already-expired credential', () => {
    expect(() => checkIssued('p', { ...valid, expiresAt: NOW }, 300, NOW)).toThrow(
      expect.objectContaining({ code: 'ERR_PROVIDER_FAILED', detail: 'provider(p): issue returned an already-expired credential' }),
    );
  });
  it('rejects a credential that outlives the granted TTL, naming the provider and the TTL in the detail', () => {
    expect(() => checkIssued('p', { ...valid, expiresAt: NOW + 400_000 }, 300, NOW)).toThrow(
      expect.objectContaining({
        code: 'ERR_PROVIDER_FAILED',
        status: 502,
        detail: 'provider(p): issue returned a credential outliving its 300s TTL',
      }),
    );
  });
  it('tolerates up to 2 s of clock skew past the TTL, and not a millisecond more', () => {
    expect(() => checkIssued('p', { ...valid, expiresAt: NOW + 300_000 + 2000 }, 300, NOW)).not.toThrow();
    expect(() => checkIssued('p', { ...valid, expiresAt: NOW + 300_000 + 2001 }, 300, NOW)).toThrow(
      expect.objectContaining({ code: 'ERR_PROVIDER_FAILED', detail: 'provider(p): issue returned a credential outliving its 300s TTL' }),
    );
  });
  it('rejects a credential without a revocation handle (undefined, null, an array or a string): the worker could never revoke it', () => {
    // The valid case passes (first test); here only the handle changes.
    for (const handle of [undefined, null, [], ['grt_1'], 'grt_1', 42]) {
      const issued = { ...valid, handle } as unknown as IssuedCredential;
      expect(() => checkIssued('p', issued, 300, NOW), JSON.stringify(handle) ?? 'undefined').toThrow(
        expect.objectContaining({ code: 'ERR_PROVIDER_FAILED', status: 502, detail: 'provider(p): issue returned no revocation handle' }),
      );
    }
  });
  it('rejects a handle that contains the secret', () => {
    expect(() => checkIssued('p', { ...valid, handle: { jti: 'x', copy: 'secret-value-123456' } }, 300, NOW)).toThrow(
      expect.objectContaining({
        code: 'ERR_PROVIDER_FAILED',
        status: 502,
        detail: 'provider(p): issue returned a secret inside the revocation handle',
      }),
    );
  });
  it('treats a secret value of 8 characters or more inside the handle as a leak, a shorter one as a coincidence', () => {
    // A Vault dynamic secret: the username is secret too, and may also name the role in the lease path.
    const dynamic = (username: string): IssuedCredential => ({
      credential: { username, password: 'A1a-very-long-database-password' },
      handle: { kind: 'vault_dynamic', leaseId: `database/creds/${username}/Xk3s9Qm2` },
      expiresAt: NOW + 300_000,
      secretFields: ['username', 'password'],
    });
    expect(() => checkIssued('p', dynamic('ro-1234'), 300, NOW)).not.toThrow();
    expect(() => checkIssued('p', dynamic('ro-12345'), 300, NOW)).toThrow(
      expect.objectContaining({ code: 'ERR_PROVIDER_FAILED', detail: 'provider(p): issue returned a secret inside the revocation handle' }),
    );
  });
  it('rejects a missing secret field, naming it', () => {
    expect(() => checkIssued('p', { ...valid, secretFields: ['token'] }, 300, NOW)).toThrow(
      expect.objectContaining({
        code: 'ERR_PROVIDER_FAILED',
        status: 502,
        detail: 'provider(p): issue returned no value for secret field token',
      }),
    );
  });
  it('prefixes provider errors and keeps their code; unknown errors become ERR_PROVIDER_FAILED', () => {
    expect(wrapProviderError('vault', 'issue', providerUnavailable('sealed'), false)).toMatchObject({
      code: 'ERR_PROVIDER_UNAVAILABLE',
      status: 503,
      detail: 'provider(vault): issue: sealed',
    });
    expect(wrapProviderError('vault', 'issue', new TypeError('boom'), false)).toMatchObject({
      code: 'ERR_PROVIDER_FAILED',
      status: 502,
      detail: 'provider(vault): issue: TypeError: boom',
    });
    expect(wrapProviderError('vault', 'issue', new Error('aborted'), true)).toMatchObject({
      code: 'ERR_PROVIDER_UNAVAILABLE',
      detail: 'provider(vault): issue timed out',
    });
  });
  it('never shows a 5xx cause to clients', () => {
    const err = wrapProviderError('vault', 'issue', new TypeError('connect ECONNREFUSED 10.0.0.7:8200'), false);
    expect(JSON.stringify(err.toBody())).not.toContain('10.0.0.7');
  });
});

describe('credential subjects at the boundary', () => {
  it('names each declared subject from its handle field, and none when none is declared', () => {
    const handle = { accessKeyId: 'ASIAEXAMPLE', sessionName: 'qm-grt_1' };
    expect(subjectsOf('aws_sts', { aws_access_key_id: 'accessKeyId' }, handle)).toEqual(['aws_access_key_id:ASIAEXAMPLE']);
    expect(subjectsOf('jwt', undefined, handle)).toEqual([]);
    // The longest accepted value; one more character is refused (below).
    expect(subjectsOf('aws_sts', { aws_access_key_id: 'accessKeyId' }, { accessKeyId: 'A'.repeat(1024) })).toHaveLength(1);
  });
  it('refuses a handle that lacks a declared field, or has it empty or not a string', () => {
    for (const handle of [{ sessionName: 'x' }, { accessKeyId: '' }, { accessKeyId: 42 }, { accessKeyId: 'A'.repeat(1025) }]) {
      expect(() => subjectsOf('aws_sts', { aws_access_key_id: 'accessKeyId' }, handle)).toThrow(
        expect.objectContaining({
          code: 'ERR_PROVIDER_FAILED',
          detail: 'provider(aws_sts): issue returned a handle without its aws_access_key_id subject (field accessKeyId)',
        }),
      );
    }
  });
  it('lets providers declare their own formats only, never core’s', () => {
    expect(isProviderSubjectFormat('vault_accessor')).toBe(true);
    for (const format of ['agent', 'grant_id', 'jti', 'Vault', '1x', '', 'a'.repeat(33), 'a-b'])
      expect(isProviderSubjectFormat(format)).toBe(false);
  });
});
