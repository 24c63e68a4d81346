import { describe, expect, it } from 'vitest';
import { checkIssued, wrapProviderError } from '../../src/catalog/provider_boundary.js';
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
    expect(() => checkIssued('p', { ...valid, expiresAt: NOW }, 300, NOW)).toThrow(expect.objectContaining({ code: 'ERR_PROVIDER_FAILED', detail: 'provider(p): issue returned an already-expired credential' }));
  });
  it('rejects a credential that outlives the granted TTL', () => {
    expect(() => checkIssued('p', { ...valid, expiresAt: NOW + 400_000 }, 300, NOW)).toThrow(expect.objectContaining({ code: 'ERR_PROVIDER_FAILED' }));
  });
  it('rejects a handle that contains the secret', () => {
    expect(() => checkIssued('p', { ...valid, handle: { jti: 'x', copy: 'secret-value-123456' } }, 300, NOW)).toThrow(/credential provider failed/);
  });
  it('rejects a missing secret field', () => {
    expect(() => checkIssued('p', { ...valid, secretFields: ['token'] }, 300, NOW)).toThrow(expect.objectContaining({ code: 'ERR_PROVIDER_FAILED' }));
  });
  it('prefixes provider errors and keeps their code; unknown errors become ERR_PROVIDER_FAILED', () => {
    expect(wrapProviderError('vault', 'issue', providerUnavailable('sealed'), false)).toMatchObject({ code: 'ERR_PROVIDER_UNAVAILABLE', status: 503, detail: 'provider(vault): issue: sealed' });
    expect(wrapProviderError('vault', 'issue', new TypeError('boom'), false)).toMatchObject({ code: 'ERR_PROVIDER_FAILED', status: 502 });
    expect(wrapProviderError('vault', 'issue', new Error('aborted'), true)).toMatchObject({ code: 'ERR_PROVIDER_UNAVAILABLE', detail: 'provider(vault): issue timed out' });
  });
  it('never shows a 5xx cause to clients', () => {
    const err = wrapProviderError('vault', 'issue', new TypeError('connect ECONNREFUSED 10.0.0.7:8200'), false);
    expect(JSON.stringify(err.toBody())).not.toContain('10.0.0.7');
  });
});
