/**
 * STS AssumeRole and GetCallerIdentity, per the STS API Reference
 * (https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRole.html,
 * https://docs.aws.amazon.com/STS/latest/APIReference/API_GetCallerIdentity.html), the member
 * constraints of botocore's sts/2011-06-15 model, "Pass session tags in AWS STS"
 * (https://docs.aws.amazon.com/IAM/latest/UserGuide/id_session-tags.html) and "Monitor and control
 * actions taken with assumed roles" (source identity persists through role chaining).
 *
 * Error wording recorded from AWS (localstack's test_sts.snapshot.json): the transitive-tag and
 * duplicate-tag InvalidParameterValue messages, "<arn> is invalid" for a malformed RoleArn. The
 * role-chaining message is the one AWS knowledge center quotes
 * (https://repost.aws/knowledge-center/iam-role-chaining-limit).
 *
 * Every role of the account trusts the account (admin and any session may assume it); an
 * external id set on the role must be passed, as its trust policy condition would require.
 */
import { deflateRawSync } from 'node:zlib';
import { isoSeconds, newSecretKey, newSessionToken, newTemporaryKeyId } from './ids.js';
import { parsePolicy } from './policy.js';
import { el, memberList, structList, Validation } from './query.js';
import type { ActionContext, ActionDef, RoleRecord, SessionRecord } from './state.js';
import { accessDenied, AwsError, callerArn, invalidParameterValue, validationError } from './state.js';

const NAME = '[\\w+=,.@-]*';
const TAG_KEY = '[\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]+';
const TAG_VALUE = '[\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]*';
const EXTERNAL_ID = '[\\w+=,.@:\\/-]*';
const POLICY_TEXT = '[\\u0009\\u000A\\u000D\\u0020-\\u00FF]+';
/** "You can specify up to 10 managed policy ARNs" (AssumeRole, PolicyArns). */
const MAX_POLICY_ARNS = 10;
/** Role chaining limits a session to one hour (AssumeRole, DurationSeconds). */
const CHAINED_MAX_SECONDS = 3600;
/**
 * AWS packs session policies and tags into an undocumented binary format with its own limit and
 * reports PackedPolicySize as a percentage of it. The fake deflates them and measures against a
 * generous limit, so it never refuses what AWS would accept.
 */
const PACKED_LIMIT_BYTES = 2048;

export const stsActions: Readonly<Record<string, ActionDef>> = {
  AssumeRole: {
    service: 'sts',
    members: [
      'RoleArn',
      'RoleSessionName',
      'PolicyArns',
      'Policy',
      'DurationSeconds',
      'Tags',
      'TransitiveTagKeys',
      'ExternalId',
      'SourceIdentity',
    ],
    evaluated: true,
    handle: assumeRole,
  },
  GetCallerIdentity: {
    service: 'sts',
    members: [],
    // "No permissions are required to perform this operation. If an administrator attaches a
    // policy to your identity that explicitly denies access to the sts:GetCallerIdentity action,
    // you can still perform this operation." (GetCallerIdentity API reference)
    evaluated: false,
    handle: getCallerIdentity,
  },
};

/** Struct fields of AssumeRole's list members, for the unmodelled-field check. */
export const stsStructFields: Readonly<Record<string, readonly string[]>> = { Tags: ['Key', 'Value'], PolicyArns: ['arn'] };

function assumeRole(ctx: ActionContext): string {
  const { params, state, caller } = ctx;
  const get = (name: string): string | undefined => params.get(name);
  const v = new Validation();
  const arn = get('RoleArn');
  if (v.required('roleArn', arn)) v.length('roleArn', arn, 20, 2048);
  const sessionName = get('RoleSessionName');
  if (v.required('roleSessionName', sessionName)) {
    v.length('roleSessionName', sessionName, 2, 64);
    v.pattern('roleSessionName', sessionName, NAME);
  }
  const duration = v.integer('durationSeconds', get('DurationSeconds'), 900, 43200);
  const tagList = structList(params, 'Tags', ['Key', 'Value']);
  v.count('tags', tagList, 50);
  tagList.forEach((tag, i) => {
    const field = `tags.${i + 1}.member`;
    if (v.required(`${field}.key`, tag.Key)) {
      v.length(`${field}.key`, tag.Key, 1, 128);
      v.pattern(`${field}.key`, tag.Key, TAG_KEY);
    }
    if (v.required(`${field}.value`, tag.Value)) {
      v.length(`${field}.value`, tag.Value, 0, 256);
      v.pattern(`${field}.value`, tag.Value, TAG_VALUE);
    }
  });
  const transitive = memberList(params, 'TransitiveTagKeys');
  v.count('transitiveTagKeys', transitive, 50);
  transitive.forEach((key, i) => {
    v.length(`transitiveTagKeys.${i + 1}.member`, key, 1, 128);
    v.pattern(`transitiveTagKeys.${i + 1}.member`, key, TAG_KEY);
  });
  const externalId = get('ExternalId');
  v.length('externalId', externalId, 2, 1224);
  v.pattern('externalId', externalId, EXTERNAL_ID);
  const sourceIdentity = get('SourceIdentity');
  v.length('sourceIdentity', sourceIdentity, 2, 64);
  v.pattern('sourceIdentity', sourceIdentity, NAME);
  const policy = get('Policy');
  v.length('policy', policy, 1, 2048);
  v.pattern('policy', policy, POLICY_TEXT);
  const policyArns = structList(params, 'PolicyArns', ['arn']).map((p) => p.arn);
  policyArns.forEach((p, i) => v.length(`policyArns.${i + 1}.member.arn`, p, 20, 2048));
  v.throwIfAny();
  const roleArn = arn as string;
  const name = sessionName as string;

  if (!isArn(roleArn)) throw validationError(`${roleArn} is invalid`);
  if (policyArns.length > MAX_POLICY_ARNS) {
    throw validationError(
      `1 validation error detected: Value '[${policyArns.length} items]' at 'policyArns' failed to satisfy constraint: Member must have length less than or equal to ${MAX_POLICY_ARNS}`,
    );
  }
  ctx.authorize('sts:AssumeRole', roleArn, roleArn);
  const cannotAssume = (): AwsError =>
    accessDenied(`User: ${callerArn(caller)} is not authorized to perform: sts:AssumeRole on resource: ${roleArn}`);
  const role = [...state.roles.values()].find((r) => r.arn === roleArn);
  if (!role) throw cannotAssume();
  // The trust policy's sts:ExternalId condition: a wrong or missing id is a plain AccessDenied.
  if (role.externalId !== undefined && externalId !== role.externalId) throw cannotAssume();

  const seconds = duration ?? 3600;
  if (seconds > role.maxSessionDuration)
    throw validationError('The requested DurationSeconds exceeds the MaxSessionDuration set for this role.');
  const parent = caller.kind === 'session' ? caller.session : undefined;
  const chaining = parent !== undefined || state.admin.identity === 'assumed-role';
  if (chaining && seconds > CHAINED_MAX_SECONDS) {
    throw validationError('The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining.');
  }

  const requested = tagList.map((t) => [t.Key as string, t.Value as string] as const);
  const lower = requested.map(([k]) => k.toLowerCase());
  if (new Set(lower).size !== lower.length)
    throw invalidParameterValue('Duplicate tag keys found. Please note that Tag keys are case insensitive.');
  if (transitive.some((k) => !lower.includes(k.toLowerCase())))
    throw invalidParameterValue('The specified transitive tag key must be included in the requested tags.');
  // Kept as the tag spells its key, so the next session in the chain finds the tag.
  const transitiveKeys = [...new Set(transitive.map((k) => requested[lower.indexOf(k.toLowerCase())]?.[0] as string))];
  // Role chaining: the calling session's transitive tags pass on, and may not be set again.
  const inherited = parent ? parent.transitiveTagKeys.map((k) => [k, parent.tags[k] as string] as const) : [];
  if (inherited.some(([k]) => lower.includes(k.toLowerCase()))) {
    throw invalidParameterValue(
      "One of the specified transitive tag keys can't be set because it conflicts with a transitive tag key from the calling session.",
    );
  }
  // "The value that is set cannot be changed during the role session" (source identity), chained or not.
  if (parent?.sourceIdentity !== undefined && sourceIdentity !== undefined && sourceIdentity !== parent.sourceIdentity) {
    throw invalidParameterValue('The source identity of the calling session cannot be changed.');
  }
  const sessionPolicy = policy === undefined ? undefined : parsePolicyOrMalformed(policy, state.note);
  const packed =
    requested.length > 0 || policy !== undefined || policyArns.length > 0
      ? packedSize(policy, requested, policyArns as string[])
      : undefined;
  if (packed !== undefined && packed > 100)
    throw new AwsError(400, 'PackedPolicyTooLarge', `Packed size of session tags consumes ${packed}% of allotted space.`);

  const session = createSession(ctx, role, {
    sessionName: name,
    seconds,
    tags: Object.fromEntries([...inherited, ...requested]),
    transitiveTagKeys: [...inherited.map(([k]) => k), ...transitiveKeys],
    sourceIdentity: parent?.sourceIdentity ?? sourceIdentity,
    externalId,
    policy,
    sessionPolicy,
    policyArns: policyArns as string[],
  });
  return (
    `<Credentials>${el('AccessKeyId', session.accessKeyId)}${el('SecretAccessKey', session.secretAccessKey)}` +
    `${el('SessionToken', session.sessionToken)}${el('Expiration', isoSeconds(session.expiresAt))}</Credentials>` +
    `<AssumedRoleUser>${el('AssumedRoleId', session.assumedRoleId)}${el('Arn', session.arn)}</AssumedRoleUser>` +
    `${el('PackedPolicySize', packed)}${el('SourceIdentity', session.sourceIdentity)}`
  );
}

interface SessionSpec {
  readonly sessionName: string;
  readonly seconds: number;
  readonly tags: Record<string, string>;
  readonly transitiveTagKeys: string[];
  readonly sourceIdentity: string | undefined;
  readonly externalId: string | undefined;
  readonly policy: string | undefined;
  readonly sessionPolicy: SessionRecord['sessionPolicy'];
  readonly policyArns: string[];
}

function createSession(ctx: ActionContext, role: RoleRecord, spec: SessionSpec): SessionRecord {
  const { state } = ctx;
  const issuedAt = state.now();
  const session: SessionRecord = {
    accessKeyId: newTemporaryKeyId(),
    secretAccessKey: newSecretKey(),
    sessionToken: newSessionToken(),
    roleName: role.name,
    sessionName: spec.sessionName,
    assumedRoleId: `${role.roleId}:${spec.sessionName}`,
    tags: spec.tags,
    transitiveTagKeys: spec.transitiveTagKeys,
    ...(spec.sourceIdentity !== undefined ? { sourceIdentity: spec.sourceIdentity } : {}),
    ...(spec.externalId !== undefined ? { externalId: spec.externalId } : {}),
    ...(spec.policy !== undefined ? { policy: spec.policy } : {}),
    ...(spec.sessionPolicy !== undefined ? { sessionPolicy: spec.sessionPolicy } : {}),
    policyArns: spec.policyArns,
    issuedAt,
    expiresAt: issuedAt + spec.seconds * 1000,
    roleArn: role.arn,
    arn: `arn:aws:sts::${state.accountId}:assumed-role/${role.name}/${spec.sessionName}`,
  };
  state.sessions.push(session);
  state.sessionsByKeyId.set(session.accessKeyId, session);
  return session;
}

function getCallerIdentity(ctx: ActionContext): string {
  const { caller, state } = ctx;
  const [userId, arn] =
    caller.kind === 'admin' ? [caller.admin.userId, caller.admin.arn] : [caller.session.assumedRoleId, caller.session.arn];
  return `${el('UserId', userId)}${el('Account', state.accountId)}${el('Arn', arn)}`;
}

/** STS answers a session policy that is not JSON with MalformedPolicyDocument. */
function parsePolicyOrMalformed(text: string, note: (what: string) => void): SessionRecord['sessionPolicy'] {
  try {
    return parsePolicy(text, note).document;
  } catch (err) {
    if (err instanceof AwsError && err.message === 'Syntax errors in policy.')
      throw new AwsError(400, err.code, 'The policy is not in the valid JSON format.');
    throw err;
  }
}

/** arn:partition:service:region:account:resource, partition, service and resource non-empty. */
function isArn(text: string): boolean {
  const parts = text.split(':');
  return parts.length >= 6 && parts[0] === 'arn' && parts[1] !== '' && parts[2] !== '' && parts.slice(5).join(':') !== '';
}

function packedSize(policy: string | undefined, tags: ReadonlyArray<readonly [string, string]>, arns: readonly string[]): number {
  const compact = policy === undefined ? '' : policy.replace(/\s/gu, '');
  const packed = deflateRawSync(Buffer.from(JSON.stringify([compact, tags, arns]))).length;
  return Math.max(1, Math.ceil((packed * 100) / PACKED_LIMIT_BYTES));
}
