/**
 * What every action of the fake AWS sees: the account's roles and sessions, the caller, and the
 * error every AWS Query API answers with (code, HTTP status, Sender or Receiver fault), as the
 * services' models declare them (botocore/data/sts/2011-06-15 and iam/2010-05-08 service-2.json).
 */
import type { PolicyDocument } from './policy.js';
import type { QueryParams } from './query.js';

export type Service = 'sts' | 'iam';

export interface AwsFakeOptions {
  /** Default '123456789012'. */
  readonly accountId?: string;
  /**
   * Inline policies of one role may total at most this many characters, whitespace not counted
   * (IAM quota: 10240). Past it PutRolePolicy answers 409 LimitExceeded.
   */
  readonly rolePolicySizeQuota?: number;
  /** Clock (ms); default Date.now. Session expiry and aws:TokenIssueTime use it. */
  readonly now?: () => number;
  /**
   * What the admin (broker's own, long-term) credentials are: an IAM user (default) or an
   * assumed-role session, which makes every AssumeRole role chaining (DurationSeconds > 3600
   * refused as AWS does).
   */
  readonly adminIdentity?: 'user' | 'assumed-role';
}

export interface FakeRole {
  readonly name: string;
  readonly arn: string;
  readonly roleId: string;
  readonly maxSessionDuration: number;
  readonly externalId?: string;
}

export interface FakeSession {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken: string;
  readonly roleName: string;
  readonly sessionName: string;
  /** `${roleId}:${sessionName}`, also the session's aws:userid. */
  readonly assumedRoleId: string;
  readonly tags: Readonly<Record<string, string>>;
  readonly transitiveTagKeys: readonly string[];
  readonly sourceIdentity?: string;
  readonly externalId?: string;
  readonly policy?: string;
  readonly policyArns: readonly string[];
  readonly issuedAt: number;
  readonly expiresAt: number;
}

export interface InlinePolicy {
  readonly text: string;
  readonly document: PolicyDocument;
  readonly json: unknown;
}

export interface RoleRecord extends FakeRole {
  readonly path: string;
  readonly createdAt: number;
  /** Inline policies by name, in the order they were first put. */
  readonly policies: Map<string, InlinePolicy>;
}

export interface SessionRecord extends FakeSession {
  readonly roleArn: string;
  /** arn:aws:sts::<account>:assumed-role/<role>/<session>. */
  readonly arn: string;
  readonly sessionPolicy?: PolicyDocument;
}

export interface AdminPrincipal {
  readonly identity: 'user' | 'assumed-role';
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly arn: string;
  readonly userId: string;
}

export type Caller =
  { readonly kind: 'admin'; readonly admin: AdminPrincipal } | { readonly kind: 'session'; readonly session: SessionRecord };

export interface FakeState {
  readonly accountId: string;
  readonly now: () => number;
  readonly rolePolicySizeQuota: number;
  readonly admin: AdminPrincipal;
  /** By role name. */
  readonly roles: Map<string, RoleRecord>;
  readonly sessions: SessionRecord[];
  readonly sessionsByKeyId: Map<string, SessionRecord>;
  /** Records, once, something the fake met and does not model; tests assert none. */
  note(what: string): void;
}

export interface ActionContext {
  readonly state: FakeState;
  readonly params: QueryParams;
  readonly caller: Caller;
  /**
   * Evaluates the caller's policies for `action` (e.g. `iam:GetRole`) on `resourceArn`; throws
   * AccessDenied. `described` is how the denial names the resource (IAM says `role <name>`).
   * The admin is never evaluated.
   */
  authorize(action: string, resourceArn: string, described: string): void;
}

export interface ActionDef {
  readonly service: Service;
  /** Top-level request members the fake models; any other lands in `unexpected`. */
  readonly members: readonly string[];
  /** false: never evaluated against the caller's policies (GetCallerIdentity). */
  readonly evaluated: boolean;
  /** The inner XML of `<Action>Result`, or null for actions whose response has no result. */
  handle(ctx: ActionContext): string | null;
}

/** An error answered as `<ErrorResponse><Error><Type/><Code/><Message/></Error>…`. */
export class AwsError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }

  /** Receiver for the service's own faults (5xx), Sender for everything the caller did. */
  get type(): 'Sender' | 'Receiver' {
    return this.status >= 500 ? 'Receiver' : 'Sender';
  }
}

export const validationError = (message: string): AwsError => new AwsError(400, 'ValidationError', message);
export const invalidParameterValue = (message: string): AwsError => new AwsError(400, 'InvalidParameterValue', message);
export const malformedPolicy = (message: string): AwsError => new AwsError(400, 'MalformedPolicyDocument', message);
export const noSuchEntity = (message: string): AwsError => new AwsError(404, 'NoSuchEntity', message);
export const accessDenied = (message: string): AwsError => new AwsError(403, 'AccessDenied', message);

export function callerArn(caller: Caller): string {
  return caller.kind === 'admin' ? caller.admin.arn : caller.session.arn;
}

export function roleArn(accountId: string, path: string, name: string): string {
  return `arn:aws:iam::${accountId}:role${path}${name}`;
}
