/** The entities the policy model shares between request and signal decisions (policy_set.ts, signal_policy.ts). */
import type * as cedar from '@cedar-policy/cedar-wasm/nodejs';
import type { PolicyRequest } from './policy_set.js';

type EntityUid = { readonly type: string; readonly id: string };

/** The Agent entity (with `claims`, typed by the schema, when it declares them). */
export function agentEntity(
  uid: EntityUid,
  agent: Omit<PolicyRequest['agent'], 'claims' | 'id'>,
  claims: Record<string, unknown> | undefined,
): cedar.EntityJson {
  return {
    uid,
    attrs: {
      kind: agent.kind,
      trustDomain: agent.trustDomain,
      path: agent.path,
      issuer: agent.issuer,
      ...(claims === undefined ? {} : { claims: claims as Record<string, cedar.CedarValueJson> }),
    },
    parents: [],
  };
}

/** The Incident entity. */
export function incidentEntity(uid: EntityUid, incident: PolicyRequest['incident']): cedar.EntityJson {
  return {
    uid,
    attrs: {
      severity: incident.severity,
      status: incident.status,
      source: incident.source,
      major: incident.major,
      tiersGranted: [...incident.tiersGranted],
    },
    parents: [],
  };
}
