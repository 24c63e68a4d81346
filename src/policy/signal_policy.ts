/**
 * Deviation outcomes decided by the policy set (docs/deviation.md "Outcomes"): a signal about an
 * agent is asked of three actions — `revokeInIncident`, `revokeEverywhere`, `quarantine` — with
 * the agent as principal and the signal as resource; the strongest action a policy permits is the
 * outcome, and with none permitted the outcome is `none` (the signal is audited, nothing else).
 * Forbids work as everywhere in Cedar: a forbid of `quarantine` for a source leaves its signals
 * revoking but never quarantining. A set whose schema does not declare the actions decides `none`
 * for every signal (`declared: false`), and the broker says so when it loads.
 */
import * as cedar from '@cedar-policy/cedar-wasm/nodejs';
import type { SignalSeverity } from '../model.js';
import { agentEntity, incidentEntity } from './entities.js';
import type { PolicyRequest } from './policy_set.js';

export const SIGNAL_OUTCOMES = ['none', 'revoke_in_incident', 'revoke_everywhere', 'quarantine'] as const;
export type SignalOutcome = (typeof SIGNAL_OUTCOMES)[number];

/** The Cedar action of each outcome but `none`, weakest first. */
export const OUTCOME_ACTIONS = [
  ['revoke_in_incident', 'revokeInIncident'],
  ['revoke_everywhere', 'revokeEverywhere'],
  ['quarantine', 'quarantine'],
] as const satisfies ReadonlyArray<readonly [SignalOutcome, string]>;

export interface SignalPolicyRequest {
  readonly agent: Omit<PolicyRequest['agent'], 'claims'>;
  readonly signal: {
    readonly id: string;
    readonly kind: string;
    readonly severity: SignalSeverity;
    readonly source: string;
    readonly detector: boolean;
  };
  /** The incident the signal concerns, when it concerns one. */
  readonly incident?: PolicyRequest['incident'];
  readonly quarantined: boolean;
  readonly hour: number;
}

export interface SignalDecision {
  readonly outcome: SignalOutcome;
  /** The permits that allowed the outcome (empty for `none`). */
  readonly policyIds: readonly string[];
  /** Policies whose evaluation failed, as `id: message`. */
  readonly errors: readonly string[];
  /** Whether the schema declares the outcome actions at all. */
  readonly declared: boolean;
  /** The shadow set's outcome, where it decides otherwise (policy_engine.ts; never enforced). */
  readonly shadowOutcome?: SignalOutcome;
}

/** Whether a schema declares every outcome action (schemaToJson of the validated schema text). */
export function declaresSignalActions(schema: string, namespace: string): boolean {
  const parsed = cedar.schemaToJson(schema);
  if (parsed.type !== 'success') return false;
  const actions = (parsed.json as Record<string, { actions?: Record<string, unknown> }>)[namespace]?.actions ?? {};
  return OUTCOME_ACTIONS.every(([, action]) => actions[action] !== undefined);
}

/** The cedar-wasm call for one outcome action, against the set and schema pre-parsed under `key`. */
export function signalCall(
  request: SignalPolicyRequest,
  action: string,
  key: string,
  namespace: string,
  withClaims: boolean,
): cedar.StatefulAuthorizationCall {
  const type = (name: string) => `${namespace}::${name}`;
  const agentUid = { type: type('Agent'), id: request.agent.id };
  const signalUid = { type: type('Signal'), id: request.signal.id };
  const incident = request.incident;
  const incidentUid = { type: type('Incident'), id: incident?.id ?? '' };
  return {
    principal: agentUid,
    action: { type: type('Action'), id: action },
    resource: signalUid,
    context: {
      ...(incident === undefined ? {} : { incident: { __entity: incidentUid } }),
      quarantined: request.quarantined,
      hour: request.hour,
    },
    preparsedPolicySetId: key,
    preparsedSchemaName: key,
    validateRequest: true,
    entities: [
      agentEntity(agentUid, request.agent, withClaims ? {} : undefined),
      {
        uid: signalUid,
        attrs: {
          kind: request.signal.kind,
          severity: request.signal.severity,
          source: request.signal.source,
          detector: request.signal.detector,
        },
        parents: [],
      },
      ...(incident === undefined ? [] : [incidentEntity(incidentUid, incident)]),
    ],
  };
}

/**
 * The outcome of a signal: each outcome action decided, the strongest allowed one kept. A request
 * the schema refuses (it cannot happen for the broker's own values) decides nothing but is reported.
 */
export function decideSignalWith(
  key: string,
  namespace: string,
  options: { readonly declared: boolean; readonly withClaims: boolean },
  request: SignalPolicyRequest,
): SignalDecision {
  if (!options.declared) return { outcome: 'none', policyIds: [], errors: [], declared: false };
  let chosen: Pick<SignalDecision, 'outcome' | 'policyIds'> = { outcome: 'none', policyIds: [] };
  const errors: string[] = [];
  for (const [outcome, action] of OUTCOME_ACTIONS) {
    const answer = cedar.statefulIsAuthorized(signalCall(request, action, key, namespace, options.withClaims));
    if (answer.type === 'failure') {
      errors.push(...answer.errors.map((e) => `${action}: ${e.message}`));
      continue;
    }
    const { decision: effect, diagnostics } = answer.response;
    errors.push(...diagnostics.errors.map((e) => `${e.policyId}: ${e.error.message}`));
    if (effect === 'allow') chosen = { outcome, policyIds: [...diagnostics.reason].sort() };
  }
  return { ...chosen, errors, declared: true };
}
