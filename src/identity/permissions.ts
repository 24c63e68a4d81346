/**
 * What an operator token may do, one permission per action. The operator issuer's roles or
 * groups claim maps onto these in config (identity.operators.operatorRole grants all of them,
 * identity.operators.permissions grants a chosen few per claimed value); routes ask for a
 * permission (http/steps/authenticate.ts requirePermission), never for an IdP group name.
 */
export const PERMISSIONS = [
  /** GET /v1/incidents/:id and its revocation report. */
  'incidents.read',
  /** POST /v1/incidents. */
  'incidents.open',
  /** PATCH /v1/incidents/:id: severity, title, the agents assigned. */
  'incidents.update',
  /** POST /v1/incidents/:id/close: every grant of the incident is revoked. */
  'incidents.close',
  /** GET /v1/audit. */
  'audit.read',
  /** POST /oauth2/introspect with an operator token. */
  'introspect',
  /** POST /v1/store/acknowledge-loss. */
  'store.acknowledge',
  /** POST /v1/providers/:name/emergency-deny: every credential of a target (an AWS role) issued before now stops working. */
  'providers.emergency',
  /** POST /v1/agents/:agent/quarantine and …/quarantine/lift: revoke every grant of an agent and refuse it new ones, or lift that. */
  'agents.quarantine',
  /** GET /v1/approvals and /v1/approvals/:id: what waits for a human. */
  'approvals.read',
  /** POST /v1/approvals/:id/decision: approve or deny, also only with a role the approval rule names. */
  'approvals.decide',
  /** POST /v1/signals with an operator-issuer token: a detection system (a service principal with a signal-source role). */
  'signals.send',
  /** POST /v1/incidents/:id/major and …/major/end: break-glass (major-incident mode) with a reason and an expiry, or its end. */
  'incidents.major',
] as const;

export type Permission = (typeof PERMISSIONS)[number];

/** In identity.operators.permissions: every permission. */
export const ALL_PERMISSIONS = '*';
