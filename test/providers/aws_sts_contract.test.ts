/** The shared provider contract, run by the `aws_sts` provider against the STS + IAM fake. */
import { afterAll, expect } from 'vitest';
import { describeProviderContract } from './contract.js';
import { startAwsFixture, type AwsFixture } from './aws_sts_fixture.js';

let fixture: AwsFixture | undefined;
afterAll(() => expect(fixture?.fake.unexpected ?? []).toEqual([]));
describeProviderContract('aws_sts (fake STS + IAM)', async () => {
  fixture = await startAwsFixture();
  const provider = await fixture.provider();
  return { provider, profile: { name: 'aws-read', params: fixture.params() }, cleanup: () => fixture?.stop() ?? Promise.resolve() };
});
