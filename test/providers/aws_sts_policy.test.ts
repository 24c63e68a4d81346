/**
 * The aws_sts provider's pure parts: the Deny policy document (hour buckets, garbage collection,
 * the emergency, foreign statements kept, IAM's size count) and the names and tag values a
 * session carries (within STS's character sets and lengths, distinct ids never sharing one).
 */
import { describe, expect, it } from 'vitest';
import {
  addEmergency,
  addEntry,
  bucketOf,
  collectDenyPolicy,
  emptyDenyPolicy,
  hasEntry,
  isEmptyDenyPolicy,
  parseDenyPolicy,
  policySize,
  renderDenyPolicy,
} from '../../providers/aws_sts/deny_policy.js';
import { sessionNameOf, sourceIdentityOf, tagValue } from '../../providers/aws_sts/names.js';

const T = Date.UTC(2026, 11, 1, 15, 20);
const HOUR = 3_600_000;

describe('the Deny policy document', () => {
  it('lists many incidents in one statement per hour they are needed until, and reads back what it wrote', () => {
    const policy = emptyDenyPolicy();
    addEntry(policy, 'incidents', 'INC-7', T + HOUR);
    addEntry(policy, 'incidents', 'INC-8', T + HOUR + 60_000);
    addEntry(policy, 'grants', 'AROAEXAMPLE:qm-grt_a', T + 10 * 60_000);
    const text = renderDenyPolicy(policy);
    const doc = JSON.parse(text);
    expect(doc).toEqual({
      Version: '2012-10-17',
      Statement: [
        {
          Sid: 'QmIncidents2026120116',
          Effect: 'Deny',
          Action: '*',
          Resource: '*',
          Condition: { StringEquals: { 'aws:PrincipalTag/incident_id': ['INC-7', 'INC-8'] } },
        },
        {
          Sid: 'QmGrants2026120115',
          Effect: 'Deny',
          Action: '*',
          Resource: '*',
          Condition: { StringEquals: { 'aws:userid': ['AROAEXAMPLE:qm-grt_a'] } },
        },
      ],
    });
    const again = parseDenyPolicy(text);
    expect(renderDenyPolicy(again)).toBe(text);
    expect(hasEntry(again, 'incidents', 'INC-8')).toBe(true);
    expect(hasEntry(again, 'incidents', 'INC-9')).toBe(false);
    expect(hasEntry(again, 'grants', 'AROAEXAMPLE:qm-grt_a')).toBe(true);
  });

  it('keeps an entry in its latest bucket when it is added again', () => {
    const policy = emptyDenyPolicy();
    addEntry(policy, 'incidents', 'INC-7', T + 3 * HOUR);
    addEntry(policy, 'incidents', 'INC-7', T);
    expect([...policy.entries.incidents.keys()]).toEqual([bucketOf(T + 3 * HOUR)]);
    addEntry(policy, 'incidents', 'INC-7', T + 5 * HOUR);
    expect([...policy.entries.incidents.keys()]).toEqual([bucketOf(T + 5 * HOUR)]);
    expect(policy.entries.incidents.get(bucketOf(T + 5 * HOUR))).toEqual(new Set(['INC-7']));
  });

  it('drops whole statements once their hour has passed, and nothing earlier', () => {
    const policy = emptyDenyPolicy();
    addEntry(policy, 'incidents', 'INC-old', T);
    addEntry(policy, 'incidents', 'INC-new', T + 2 * HOUR);
    addEntry(policy, 'grants', 'AROA:qm-x', T);
    // The valid case: before the end of T's hour nothing goes.
    expect(collectDenyPolicy(policy, bucketOf(T) - 1)).toBe(0);
    expect(collectDenyPolicy(policy, bucketOf(T))).toBe(2);
    expect(hasEntry(policy, 'incidents', 'INC-old')).toBe(false);
    expect(hasEntry(policy, 'incidents', 'INC-new')).toBe(true);
    expect(collectDenyPolicy(policy, bucketOf(T + 2 * HOUR))).toBe(1);
    expect(isEmptyDenyPolicy(policy)).toBe(true);
  });

  it('writes the emergency as a DateLessThan on aws:TokenIssueTime, a later cutoff winning, rounded up to the second', () => {
    const policy = emptyDenyPolicy();
    addEmergency(policy, T + 1500, T + HOUR);
    addEmergency(policy, T + 500, T + 3 * HOUR);
    const doc = JSON.parse(renderDenyPolicy(policy));
    expect(doc.Statement).toEqual([
      {
        Sid: 'QmEmergency2026120118',
        Effect: 'Deny',
        Action: '*',
        Resource: '*',
        Condition: { DateLessThan: { 'aws:TokenIssueTime': '2026-12-01T15:20:02Z' } },
      },
    ]);
    const back = parseDenyPolicy(renderDenyPolicy(policy));
    expect(back.emergency).toEqual({ before: T + 2000, until: bucketOf(T + 3 * HOUR) });
    expect(collectDenyPolicy(back, bucketOf(T + 3 * HOUR))).toBe(1);
    expect(back.emergency).toBeNull();
  });

  it('keeps statements it did not write, verbatim and first', () => {
    const foreign = { Sid: 'SecurityTeam', Effect: 'Deny', Action: 's3:DeleteBucket', Resource: '*' };
    const policy = parseDenyPolicy(JSON.stringify({ Version: '2012-10-17', Statement: [foreign] }));
    addEntry(policy, 'incidents', 'INC-7', T);
    const doc = JSON.parse(renderDenyPolicy(policy));
    expect(doc.Statement[0]).toEqual(foreign);
    expect(doc.Statement).toHaveLength(2);
    collectDenyPolicy(policy, T + 99 * HOUR);
    expect(isEmptyDenyPolicy(policy)).toBe(false);
  });

  it('reads an absent or empty document as empty, and counts size as IAM does, without whitespace', () => {
    expect(isEmptyDenyPolicy(parseDenyPolicy(null))).toBe(true);
    expect(isEmptyDenyPolicy(parseDenyPolicy(''))).toBe(true);
    expect(policySize('{ "a" :\n [1, 2] }')).toBe(11);
  });
});

describe('session names and tags', () => {
  it('names a session qm-<grant id>, within 64 characters of [\\w+=,.@-]', () => {
    expect(sessionNameOf('grt_AbC-12_xyzXYZ0123456789')).toBe('qm-grt_AbC-12_xyzXYZ0123456789');
    const odd = sessionNameOf(`grt_${'x'.repeat(80)}/y`);
    expect(odd).toMatch(/^[\w+=,.@-]{2,64}$/u);
    expect(odd.length).toBe(64);
    expect(sessionNameOf(`grt_${'x'.repeat(80)}/z`)).not.toBe(odd);
  });

  it('derives a source identity from the agent, readable, within STS limits, distinct per agent', () => {
    expect(sourceIdentityOf('spiffe://prod.example/ns/ir/sa/triage')).toBe('prod.example.ns.ir.sa.triage');
    expect(sourceIdentityOf('https://login.example.com#agent-7')).toBe('login.example.com@agent-7');
    const long = sourceIdentityOf(`spiffe://prod.example/${'a/'.repeat(60)}x`);
    expect(long).toMatch(/^[\w+=,.@-]{2,64}$/u);
    expect(long).not.toBe(sourceIdentityOf(`spiffe://prod.example/${'a/'.repeat(60)}y`));
    // `aws:` may not begin a source identity; the colon is not in its character set anyway.
    expect(sourceIdentityOf('aws:evil')).toMatch(/^aws_evil-[0-9a-f]{12}$/u);
    expect(sourceIdentityOf('x')).toMatch(/^qm-/u);
  });

  it('keeps a tag value that fits as it is, and makes one that does not fit distinct and valid', () => {
    expect(tagValue('INC-7')).toBe('INC-7');
    expect(tagValue('spiffe://prod.example/ns/ir/sa/triage')).toBe('spiffe://prod.example/ns/ir/sa/triage');
    const hashed = tagValue('INC#7');
    expect(hashed).toMatch(/^INC_7\+[0-9a-f]{12}$/u);
    expect(tagValue('INC$7')).not.toBe(hashed);
    const long = tagValue('i'.repeat(300));
    expect(long.length).toBe(256);
    expect(long).toMatch(/^[\p{L}\p{Z}\p{N}_.:/=+@-]+$/u);
  });
});
