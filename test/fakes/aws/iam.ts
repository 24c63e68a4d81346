/**
 * IAM GetRole and the role inline-policy actions, per the IAM API Reference
 * (https://docs.aws.amazon.com/IAM/latest/APIReference/API_GetRole.html, API_PutRolePolicy.html,
 * API_GetRolePolicy.html, API_DeleteRolePolicy.html, API_ListRolePolicies.html) and the member
 * constraints and error codes of botocore's iam/2010-05-08 model: NoSuchEntity 404,
 * LimitExceeded 409, MalformedPolicyDocument 400.
 *
 * Policy documents come back URL-encoded (RFC 3986), as IAM returns them ("The policy document
 * returned in this structure is URL-encoded compliant with RFC 3986", GetRolePolicy); the AWS SDK
 * for JavaScript leaves them encoded, botocore decodes and parses them. The inline-policy quota is
 * the aggregate size of a role's inline policies, white space not counted ("IAM and AWS STS
 * quotas", https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html); IAM's
 * message says bytes: "Maximum policy size of 10240 bytes exceeded for role <name>".
 */
import { isoSeconds } from './ids.js';
import { parsePolicy, policySize } from './policy.js';
import { el, Validation } from './query.js';
import type { ActionContext, ActionDef, RoleRecord } from './state.js';
import { AwsError, noSuchEntity, roleArn } from './state.js';

const NAME = '[\\w+=,.@-]+';
const POLICY_TEXT = '[\\u0009\\u000A\\u000D\\u0020-\\u00FF]+';
const MARKER = '[\\u0020-\\u00FF]+';

export const iamActions: Readonly<Record<string, ActionDef>> = {
  GetRole: { service: 'iam', members: ['RoleName'], evaluated: true, handle: getRole },
  PutRolePolicy: { service: 'iam', members: ['RoleName', 'PolicyName', 'PolicyDocument'], evaluated: true, handle: putRolePolicy },
  GetRolePolicy: { service: 'iam', members: ['RoleName', 'PolicyName'], evaluated: true, handle: getRolePolicy },
  DeleteRolePolicy: { service: 'iam', members: ['RoleName', 'PolicyName'], evaluated: true, handle: deleteRolePolicy },
  ListRolePolicies: { service: 'iam', members: ['RoleName', 'Marker', 'MaxItems'], evaluated: true, handle: listRolePolicies },
};

function getRole(ctx: ActionContext): string {
  const v = new Validation();
  const name = roleNameOf(ctx, v);
  v.throwIfAny();
  const role = authorizedRole(ctx, 'GetRole', name);
  return (
    `<Role>${el('Path', role.path)}${el('Arn', role.arn)}${el('RoleName', role.name)}` +
    `${el('AssumeRolePolicyDocument', encodeURIComponent(trustPolicy(ctx, role)))}${el('CreateDate', isoSeconds(role.createdAt))}` +
    `${el('RoleId', role.roleId)}${el('MaxSessionDuration', role.maxSessionDuration)}<RoleLastUsed/></Role>`
  );
}

function putRolePolicy(ctx: ActionContext): null {
  const v = new Validation();
  const name = roleNameOf(ctx, v);
  const policyName = policyNameOf(ctx, v);
  const text = ctx.params.get('PolicyDocument');
  if (v.required('policyDocument', text)) {
    v.length('policyDocument', text, 1, 131072);
    v.pattern('policyDocument', text, POLICY_TEXT);
  }
  v.throwIfAny();
  const role = authorizedRole(ctx, 'PutRolePolicy', name);
  const { document, json } = parsePolicy(text as string, ctx.state.note);
  let total = policySize(text as string);
  for (const [other, policy] of role.policies) if (other !== policyName) total += policySize(policy.text);
  const quota = ctx.state.rolePolicySizeQuota;
  if (total > quota) throw new AwsError(409, 'LimitExceeded', `Maximum policy size of ${quota} bytes exceeded for role ${role.name}`);
  role.policies.set(policyName, { text: text as string, document, json });
  return null;
}

function getRolePolicy(ctx: ActionContext): string {
  const v = new Validation();
  const name = roleNameOf(ctx, v);
  const policyName = policyNameOf(ctx, v);
  v.throwIfAny();
  const role = authorizedRole(ctx, 'GetRolePolicy', name);
  const policy = role.policies.get(policyName);
  if (!policy) throw noSuchEntity(`The role policy with name ${policyName} cannot be found.`);
  return `${el('RoleName', role.name)}${el('PolicyName', policyName)}${el('PolicyDocument', encodeURIComponent(policy.text))}`;
}

function deleteRolePolicy(ctx: ActionContext): null {
  const v = new Validation();
  const name = roleNameOf(ctx, v);
  const policyName = policyNameOf(ctx, v);
  v.throwIfAny();
  const role = authorizedRole(ctx, 'DeleteRolePolicy', name);
  if (!role.policies.delete(policyName)) throw noSuchEntity(`The role policy with name ${policyName} cannot be found.`);
  return null;
}

function listRolePolicies(ctx: ActionContext): string {
  const v = new Validation();
  const name = roleNameOf(ctx, v);
  const marker = ctx.params.get('Marker');
  v.length('marker', marker, 1, 320);
  v.pattern('marker', marker, MARKER);
  const maxItems = v.integer('maxItems', ctx.params.get('MaxItems'), 1, 1000) ?? 100;
  v.throwIfAny();
  const role = authorizedRole(ctx, 'ListRolePolicies', name);
  const names = [...role.policies.keys()].sort();
  const start = marker === undefined ? 0 : Number.parseInt(Buffer.from(marker, 'base64').toString('utf8'), 10) || 0;
  const page = names.slice(start, start + maxItems);
  const next = start + page.length < names.length ? Buffer.from(String(start + page.length)).toString('base64') : undefined;
  return `<PolicyNames>${page.map((n) => el('member', n)).join('')}</PolicyNames>${el('IsTruncated', next !== undefined)}${el('Marker', next)}`;
}

function roleNameOf(ctx: ActionContext, v: Validation): string {
  const name = ctx.params.get('RoleName');
  if (v.required('roleName', name)) {
    v.length('roleName', name, 1, 64);
    v.pattern('roleName', name, NAME);
  }
  return name ?? '';
}

function policyNameOf(ctx: ActionContext, v: Validation): string {
  const name = ctx.params.get('PolicyName');
  if (v.required('policyName', name)) {
    v.length('policyName', name, 1, 128);
    v.pattern('policyName', name, NAME);
  }
  return name ?? '';
}

/** IAM authorizes before it looks the role up, so a session denied GetRole cannot probe which roles exist. */
function authorizedRole(ctx: ActionContext, action: string, name: string): RoleRecord {
  const role = ctx.state.roles.get(name);
  ctx.authorize(`iam:${action}`, role?.arn ?? roleArn(ctx.state.accountId, '/', name), `role ${name}`);
  if (!role) throw noSuchEntity(`The role with name ${name} cannot be found.`);
  return role;
}

/** The trust policy every fake role has: the account may assume it, tag the session and set a source identity. */
function trustPolicy(ctx: ActionContext, role: RoleRecord): string {
  const statement = {
    Effect: 'Allow',
    Principal: { AWS: `arn:aws:iam::${ctx.state.accountId}:root` },
    Action: ['sts:AssumeRole', 'sts:TagSession', 'sts:SetSourceIdentity'],
    ...(role.externalId !== undefined ? { Condition: { StringEquals: { 'sts:ExternalId': role.externalId } } } : {}),
  };
  return JSON.stringify({ Version: '2012-10-17', Statement: [statement] });
}
