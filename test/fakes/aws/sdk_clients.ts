/**
 * The real AWS SDK clients (@aws-sdk/client-sts, @aws-sdk/client-iam) pointed at the fake, and a
 * check for the errors they throw: the SDK names a modelled error by its exception class
 * (`NoSuchEntityException`, `LimitExceededException`, `MalformedPolicyDocumentException`) and any
 * other by the code AWS answered (`AccessDenied`, `ValidationError`, `ExpiredToken`).
 */
import { IAMClient } from '@aws-sdk/client-iam';
import { AssumeRoleCommand, type AssumeRoleCommandInput, type AssumeRoleCommandOutput, STSClient } from '@aws-sdk/client-sts';
import { expect } from 'vitest';
import type { AwsFake } from './server.js';

export const REGION = 'us-east-1';

export interface Credentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken?: string;
}

export function stsClient(fake: AwsFake, credentials: Credentials = fake.adminCredentials, maxAttempts?: number): STSClient {
  return new STSClient({ endpoint: fake.url, region: REGION, credentials, ...(maxAttempts !== undefined ? { maxAttempts } : {}) });
}

export function iamClient(fake: AwsFake, credentials: Credentials = fake.adminCredentials, maxAttempts?: number): IAMClient {
  return new IAMClient({ endpoint: fake.url, region: REGION, credentials, ...(maxAttempts !== undefined ? { maxAttempts } : {}) });
}

/** AssumeRole with `from`'s credentials (the admin's by default); the output and the session's credentials. */
export async function assumeRole(
  fake: AwsFake,
  input: AssumeRoleCommandInput,
  from: Credentials = fake.adminCredentials,
): Promise<{ out: AssumeRoleCommandOutput; credentials: Credentials }> {
  const out = await stsClient(fake, from).send(new AssumeRoleCommand(input));
  const c = out.Credentials;
  if (!c?.AccessKeyId || !c.SecretAccessKey || !c.SessionToken) throw new Error('AssumeRole answered without credentials');
  return { out, credentials: { accessKeyId: c.AccessKeyId, secretAccessKey: c.SecretAccessKey, sessionToken: c.SessionToken } };
}

export interface Refusal {
  readonly name: string;
  readonly status: number;
  readonly message?: string | RegExp;
}

/** Awaits a call that must fail and checks the SDK error's name, HTTP status and (optionally) message. */
export async function expectRefusal(
  call: Promise<unknown>,
  expected: Refusal,
): Promise<{ name: string; message: string; $metadata: { attempts?: number } }> {
  let error: { name: string; message: string; $metadata: { httpStatusCode?: number; attempts?: number } } | undefined;
  try {
    await call;
  } catch (err) {
    error = err as typeof error;
  }
  if (!error) throw new Error(`expected ${expected.name}, but the call succeeded`);
  expect({ name: error.name, status: error.$metadata?.httpStatusCode }, error.message).toEqual({
    name: expected.name,
    status: expected.status,
  });
  if (typeof expected.message === 'string') expect(error.message).toBe(expected.message);
  else if (expected.message) expect(error.message).toMatch(expected.message);
  return error;
}
