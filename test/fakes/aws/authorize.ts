/**
 * Policy evaluation for calls made with session credentials, per "Policy evaluation logic"
 * (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html):
 * an explicit Deny in any applicable policy wins; with a session policy, an action must also be
 * allowed by it ("the session's permissions are the intersection of the role's identity-based
 * policies and the session policies", AssumeRole API reference).
 *
 * The fake has no managed policies: a role is taken to allow every action, so its inline
 * policies can only take permissions away (their Deny statements); their Allow statements change
 * nothing. Managed session policies (PolicyArns) are recorded but cannot be evaluated, so they
 * restrict nothing.
 *
 * The request context holds the global keys of "AWS global condition context keys"
 * (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html) that a
 * role session carries: aws:PrincipalTag/<key> (its session tags), aws:userid
 * (`<RoleId>:<session name>`), aws:TokenIssueTime, aws:SourceIdentity, aws:PrincipalArn (the
 * role's ARN), aws:PrincipalAccount, aws:PrincipalType, aws:CurrentTime and aws:EpochTime.
 * aws:TokenIssueTime is the issue time at whole seconds (STS writes its times at second precision;
 * the fake assumes the key is no finer): a Deny "DateLessThan <cut-off with milliseconds>" also
 * catches a session issued after the cut-off within the same second.
 * Denial messages follow IAM's: "User: <arn> is not authorized to perform: iam:GetRole on
 * resource: role <name> with an explicit deny in an identity-based policy".
 */
import type { ConditionContext } from './conditions.js';
import { isoSeconds } from './ids.js';
import type { Statement } from './policy.js';
import { statementApplies } from './policy.js';
import type { FakeState, SessionRecord } from './state.js';
import { accessDenied } from './state.js';

export function sessionContext(state: FakeState, session: SessionRecord): ConditionContext {
  const context = new Map<string, string>();
  for (const [key, value] of Object.entries(session.tags)) context.set(`aws:principaltag/${key.toLowerCase()}`, value);
  context.set('aws:userid', session.assumedRoleId);
  context.set('aws:tokenissuetime', isoSeconds(session.issuedAt));
  if (session.sourceIdentity !== undefined) context.set('aws:sourceidentity', session.sourceIdentity);
  context.set('aws:principalarn', session.roleArn);
  context.set('aws:principalaccount', state.accountId);
  context.set('aws:principaltype', 'AssumedRole');
  const now = state.now();
  context.set('aws:currenttime', new Date(now).toISOString());
  context.set('aws:epochtime', String(Math.floor(now / 1000)));
  return context;
}

/** Throws AccessDenied when the session may not perform `action` on `resourceArn`. */
export function authorizeSession(state: FakeState, session: SessionRecord, action: string, resourceArn: string, described: string): void {
  const request = { action, resource: resourceArn, context: sessionContext(state, session) };
  const applies = (effect: 'Allow' | 'Deny', statements: readonly Statement[]): boolean =>
    statements.some((s) => s.effect === effect && statementApplies(s, request, state.note));
  const refused = (why: string): Error =>
    accessDenied(`User: ${session.arn} is not authorized to perform: ${action} on resource: ${described} ${why}`);

  const role = state.roles.get(session.roleName);
  const identity = role ? [...role.policies.values()].flatMap((p) => p.document.statements) : [];
  if (applies('Deny', identity)) throw refused('with an explicit deny in an identity-based policy');
  const sessionPolicy = session.sessionPolicy?.statements;
  if (sessionPolicy) {
    if (applies('Deny', sessionPolicy)) throw refused('with an explicit deny in a session policy');
    if (!applies('Allow', sessionPolicy)) throw refused(`because no session policy allows the ${action} action`);
  }
}
