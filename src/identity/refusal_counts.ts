/**
 * Counts refused bearer tokens per endpoint kind and error code (quartermaster_token_refusals_total),
 * so a key-set outage (ERR_IDENTITY_UNAVAILABLE) or a wave of bad tokens shows on a dashboard.
 */
import { BrokerError } from '../errors.js';
import type { Identity } from './types.js';

export function withRefusalCounts(
  identity: Identity,
  count: (kind: 'agent' | 'operator' | 'introspection' | 'either', code: string) => void,
): Identity {
  const counted = async <T>(kind: 'agent' | 'operator' | 'introspection' | 'either', verification: Promise<T>): Promise<T> => {
    try {
      return await verification;
    } catch (err) {
      count(kind, err instanceof BrokerError ? err.code : 'ERR_INTERNAL');
      throw err;
    }
  };
  return {
    authenticateAgent: (token) => counted('agent', identity.authenticateAgent(token)),
    authenticateOperator: (token) => counted('operator', identity.authenticateOperator(token)),
    authenticateIntrospectionCaller: (token) => counted('introspection', identity.authenticateIntrospectionCaller(token)),
    authenticateAgentOrOperator: (token) => counted('either', identity.authenticateAgentOrOperator(token)),
  };
}
