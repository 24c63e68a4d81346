/**
 * Refusal counts (src/identity/refusal_counts.ts): every refused token is counted once, by endpoint
 * kind and error code, and the refusal itself reaches the caller unchanged; accepted tokens count
 * nothing.
 */
import { describe, expect, it } from 'vitest';
import { BrokerError } from '../../src/errors.js';
import { withRefusalCounts } from '../../src/identity/refusal_counts.js';
import { tokenError } from '../../src/identity/token_errors.js';
import type { AgentIdentity, Identity, OperatorIdentity } from '../../src/identity/types.js';

const agent = { kind: 'agent', id: 'spiffe://dev.local/agent/triage' } as AgentIdentity;
const operator = { kind: 'operator', subject: 'alice@example.com' } as OperatorIdentity;

/** An identity that accepts the token `good` and refuses every other with `refusal`. */
const fake = (refusal: unknown): Identity => ({
  authenticateAgent: (token) => (token === 'good' ? Promise.resolve(agent) : Promise.reject(refusal)),
  authenticateOperator: (token) => (token === 'good' ? Promise.resolve(operator) : Promise.reject(refusal)),
  authenticateIntrospectionCaller: (token) => (token === 'good' ? Promise.resolve(agent) : Promise.reject(refusal)),
  authenticateAgentOrOperator: (token) => (token === 'good' ? Promise.resolve(operator) : Promise.reject(refusal)),
});

describe('refusal counts', () => {
  it('counts nothing for accepted tokens and passes their identity through', async () => {
    const counted: string[] = [];
    const identity = withRefusalCounts(fake(tokenError('ERR_TOKEN_EXPIRED', 'x')), (kind, code) => counted.push(`${kind} ${code}`));
    await expect(identity.authenticateAgent('good')).resolves.toBe(agent);
    await expect(identity.authenticateOperator('good')).resolves.toBe(operator);
    await expect(identity.authenticateIntrospectionCaller('good')).resolves.toBe(agent);
    await expect(identity.authenticateAgentOrOperator('good')).resolves.toBe(operator);
    expect(counted).toEqual([]);
  });

  it('counts each refusal once by endpoint kind and code, and rethrows the same error', async () => {
    const counted: string[] = [];
    const refusal = tokenError('ERR_TOKEN_SIGNATURE', 'signature does not verify');
    const identity = withRefusalCounts(fake(refusal), (kind, code) => counted.push(`${kind} ${code}`));
    await expect(identity.authenticateAgent('bad')).rejects.toBe(refusal);
    await expect(identity.authenticateOperator('bad')).rejects.toBe(refusal);
    await expect(identity.authenticateOperator('bad')).rejects.toBe(refusal);
    await expect(identity.authenticateIntrospectionCaller('bad')).rejects.toBe(refusal);
    await expect(identity.authenticateAgentOrOperator('bad')).rejects.toBe(refusal);
    expect(counted).toEqual([
      'agent ERR_TOKEN_SIGNATURE',
      'operator ERR_TOKEN_SIGNATURE',
      'operator ERR_TOKEN_SIGNATURE',
      'introspection ERR_TOKEN_SIGNATURE',
      'either ERR_TOKEN_SIGNATURE',
    ]);
  });

  it('counts an error that is no BrokerError as ERR_INTERNAL', async () => {
    const counted: string[] = [];
    const bug = new TypeError('boom');
    const identity = withRefusalCounts(fake(bug), (kind, code) => counted.push(`${kind} ${code}`));
    await expect(identity.authenticateAgent('bad')).rejects.toBe(bug);
    expect(counted).toEqual(['agent ERR_INTERNAL']);
    const unavailable = new BrokerError('ERR_IDENTITY_UNAVAILABLE', 503, 'retry later');
    await expect(
      withRefusalCounts(fake(unavailable), (kind, code) => counted.push(`${kind} ${code}`)).authenticateOperator('bad'),
    ).rejects.toBe(unavailable);
    expect(counted).toEqual(['agent ERR_INTERNAL', 'operator ERR_IDENTITY_UNAVAILABLE']);
  });
});
