/** The shared provider contract, run by the `aws_sts` provider against the STS + IAM fake. */
import { afterAll, expect } from 'vitest';
import { createIncidentRecords } from '../../src/incident_records.js';
import { createMemoryStore } from '../../src/store/memory_store.js';
import { describeProviderContract } from './contract.js';
import { startAwsFixture, type AwsFixture } from './aws_sts_fixture.js';

let fixture: AwsFixture | undefined;
afterAll(() => expect(fixture?.fake.unexpected ?? []).toEqual([]));
describeProviderContract('aws_sts (fake STS + IAM)', async () => {
  fixture = await startAwsFixture();
  // With the broker's records (over a real store), as a broker runs it: killIncident is then offered.
  const provider = await fixture.provider({ incidentRecords: createIncidentRecords(createMemoryStore(), 'aws_sts') });
  return { provider, profile: { name: 'aws-read', params: fixture.params() }, cleanup: () => fixture?.stop() ?? Promise.resolve() };
});
