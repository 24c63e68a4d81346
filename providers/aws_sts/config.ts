/**
 * Config of the `aws_sts` provider (`providers.aws_sts`) and of its profiles' `params`. Every
 * object is `.strict()`. The broker's own AWS credentials never appear here: they come from the
 * SDK's default provider chain (environment, web identity / IRSA, ECS, instance role), as a
 * platform team expects of any AWS workload.
 */
import { z } from 'zod';

/** STS: a session lasts at least 15 minutes (AssumeRole DurationSeconds minimum). */
export const STS_MIN_SECONDS = 900;
/** The most any role allows (IAM MaxSessionDuration maximum). */
export const STS_MAX_SECONDS = 43_200;
/** Role chaining (the broker's own credentials are a role session) caps a session at one hour. */
export const ROLE_CHAINING_MAX_SECONDS = 3600;

/** arn:<partition>:iam::<12-digit account>:role/<path/>name (IAM role ARN format). */
export const ROLE_ARN = /^arn:aws(?:-[a-z]+)*:iam::\d{12}:role\/(?:[\w+=,.@-]+\/)*[\w+=,.@-]{1,64}$/u;
/** arn:<partition>:iam::(aws|<account>):policy/<path/>name */
const POLICY_ARN = /^arn:aws(?:-[a-z]+)*:iam::(?:aws|\d{12}):policy\/(?:[\w+=,.@-]+\/)*[\w+=,.@-]{1,128}$/u;
/** IAM policy names: 1–128 of [\w+=,.@-]. */
const POLICY_NAME = /^[\w+=,.@-]{1,128}$/u;

const https = z.url({ protocol: /^https?$/u });

export const awsStsConfigSchema = z
  .object({
    /** The region of the STS endpoint and of request signing, e.g. eu-west-1. */
    region: z.string().regex(/^[a-z]{2}(?:-[a-z]+)+-\d+$/u, 'must be an AWS region such as eu-west-1'),
    /**
     * STS endpoint. Default: the regional endpoint of `region` (https://sts.<region>.amazonaws.com),
     * which AWS recommends over the global one. Set it for a VPC endpoint, or a local fake in tests.
     */
    stsEndpoint: https.optional(),
    /** IAM endpoint (IAM is global); default the SDK's. */
    iamEndpoint: https.optional(),
    /** The inline policy the broker owns on every role it issues for: its Deny statements. */
    revocationPolicyName: z.string().regex(POLICY_NAME).default('quartermaster-revocations'),
    /**
     * What IAM lets all of one role's inline policies total (characters, whitespace not counted).
     * IAM's quota is 10 240; lower it to leave room for a role's other inline policies.
     */
    policySizeLimit: z.number().int().min(1024).max(10_240).default(10_240),
    /** Attempts per AWS call, throttling and 5xx retried by the SDK's standard retry strategy with backoff. */
    maxAttempts: z.number().int().min(1).max(10).default(4),
    /** Upper bound of one HTTP request to AWS. */
    requestTimeoutMs: z.number().int().min(100).max(60_000).default(5000),
    /** How often one replica drops Deny entries no credential can need any more. */
    gcIntervalSeconds: z.number().int().min(10).max(86_400).default(600),
    /** How long a role's RoleId and MaxSessionDuration (GetRole) are cached. */
    roleCacheSeconds: z.number().int().min(0).max(86_400).default(300),
  })
  .strict();

export const awsStsProfileParamsSchema = z
  .object({
    /** The role the agent's session assumes. Its trust policy must let the broker AssumeRole, TagSession and SetSourceIdentity. */
    roleArn: z.string().regex(ROLE_ARN, 'must be an IAM role ARN (arn:aws:iam::<account>:role/<name>)'),
    /** An inline session policy (a JSON policy document) that narrows the role for this profile. */
    sessionPolicy: z
      .record(z.string(), z.unknown())
      .refine((doc) => 'Statement' in doc, 'must be an IAM policy document with a Statement')
      .optional(),
    /** Managed policies whose intersection with the role's narrows the session (at most 10). */
    policyArns: z.array(z.string().regex(POLICY_ARN, 'must be an IAM policy ARN')).max(10).default([]),
    /** The role's trust policy's sts:ExternalId, if it requires one (2–1224 characters). */
    externalId: z
      .string()
      .min(2)
      .max(1224)
      .regex(/^[\w+=,.@:/-]+$/u)
      .optional(),
    /**
     * Mark the incident, grant and agent tags transitive, so a session this one chains into keeps
     * them (and stays covered by the incident's Deny on the chained role, where the broker manages it).
     */
    transitiveTags: z.boolean().default(false),
  })
  .strict();

export type AwsStsConfig = z.infer<typeof awsStsConfigSchema>;
export type AwsStsProfileParams = z.infer<typeof awsStsProfileParamsSchema>;
