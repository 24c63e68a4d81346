/**
 * Issue: one AssumeRole per grant (https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRole.html).
 *
 *  - DurationSeconds: the grant's TTL (core already raised it to STS's 900 s minimum and capped it
 *    at the profile's maxTtl), cut to the role's MaxSessionDuration and, when the broker's own
 *    credentials are a role session, to role chaining's one hour. Never longer than the grant.
 *  - RoleSessionName `qm-<grant id>`, SourceIdentity from the agent, session tags incident_id,
 *    grant_id and agent (transitive when the profile says so): the incident tag is what its Deny
 *    statement matches at close.
 *  - the profile's session policy and policy ARNs narrow the role; its ExternalId is passed.
 *
 * The handle keeps what revocation needs and nothing secret: the access key id, session name,
 * role ARN and id, the tag value and the expiry.
 */
import { AssumeRoleCommand } from '@aws-sdk/client-sts';
import { providerFailed, type IssueRequest, type IssuedCredential } from '../../src/sdk.js';
import type { CallerIdentity, AwsClients, RoleCache } from './clients.js';
import { ROLE_CHAINING_MAX_SECONDS, STS_MAX_SECONDS, STS_MIN_SECONDS, type AwsStsProfileParams } from './config.js';
import { sessionNameOf, sourceIdentityOf, TAG_KEYS, tagValue } from './names.js';

export interface IssueDeps {
  readonly clients: AwsClients;
  readonly roles: RoleCache;
  readonly caller: CallerIdentity;
  /**
   * Remembers a role the broker issues for, so garbage collection visits it, and records it for
   * the incident, so the kill at close denies it without reading a grant. Never throws.
   */
  readonly recordRole: (incidentId: string, roleArn: string) => Promise<void>;
}

/** The secret members of the credential: core keeps them out of every sink. */
export const SECRET_FIELDS = ['SecretAccessKey', 'SessionToken', 'credential_process'] as const;

export async function issueStsCredential(deps: IssueDeps, req: IssueRequest<AwsStsProfileParams>): Promise<IssuedCredential> {
  const params = req.profile.params;
  // The role is recorded before the credential is handed out: a close right after knows it.
  const [role, caller] = await Promise.all([
    deps.roles.get(params.roleArn),
    deps.caller.get(),
    deps.recordRole(req.incidentId, params.roleArn),
  ]);
  const ceiling = Math.min(role.maxSessionSeconds, caller.chaining ? ROLE_CHAINING_MAX_SECONDS : STS_MAX_SECONDS);
  const durationSeconds = Math.min(Math.max(req.ttlSeconds, STS_MIN_SECONDS), ceiling);
  if (durationSeconds > req.ttlSeconds) {
    // Core clamps the TTL to at least the provider's minimum, so this means a misconfigured profile.
    throw providerFailed(`aws issue: a ${req.ttlSeconds}s grant is below STS's ${STS_MIN_SECONDS}s minimum session`);
  }
  const sessionName = sessionNameOf(req.grantId);
  const incidentTag = tagValue(req.incidentId);
  const tags = [
    { Key: TAG_KEYS.incident, Value: incidentTag },
    { Key: TAG_KEYS.grant, Value: tagValue(req.grantId) },
    { Key: TAG_KEYS.agent, Value: tagValue(req.agent.id) },
  ];
  const out = await deps.clients.sts.send(
    new AssumeRoleCommand({
      RoleArn: params.roleArn,
      RoleSessionName: sessionName,
      DurationSeconds: durationSeconds,
      SourceIdentity: sourceIdentityOf(req.agent.id),
      Tags: tags,
      ...(params.transitiveTags ? { TransitiveTagKeys: tags.map((t) => t.Key) } : {}),
      ...(params.sessionPolicy ? { Policy: JSON.stringify(params.sessionPolicy) } : {}),
      ...(params.policyArns.length > 0 ? { PolicyArns: params.policyArns.map((arn) => ({ arn })) } : {}),
      ...(params.externalId ? { ExternalId: params.externalId } : {}),
    }),
    { abortSignal: req.signal },
  );
  const c = out.Credentials;
  if (!c?.AccessKeyId || !c.SecretAccessKey || !c.SessionToken || !(c.Expiration instanceof Date)) {
    throw providerFailed('aws issue: AssumeRole answered without complete credentials');
  }
  const expiration = c.Expiration.toISOString().replace(/\.\d{3}Z$/u, 'Z');
  const secret = {
    Version: 1,
    AccessKeyId: c.AccessKeyId,
    SecretAccessKey: c.SecretAccessKey,
    SessionToken: c.SessionToken,
    Expiration: expiration,
  };
  return {
    // What the AWS CLI and SDKs read: the four members, and the same as one `credential_process` JSON document.
    credential: { ...secret, credential_process: JSON.stringify(secret) },
    handle: {
      accessKeyId: c.AccessKeyId,
      sessionName,
      roleArn: params.roleArn,
      roleId: role.roleId,
      incidentTag,
      expiresAt: c.Expiration.getTime(),
    },
    expiresAt: c.Expiration.getTime(),
    secretFields: SECRET_FIELDS,
  };
}
