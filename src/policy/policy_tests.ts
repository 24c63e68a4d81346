/**
 * Decision tests for a policy set, written in YAML (docs/policy.md "Testing a change"), run by
 * `quartermaster policy test` like `opa test`: each case is a request — `defaults` with the case's
 * own fields over them, object by object — and the decision it must get: `expect: allow | deny`
 * and, optionally, `policies`: exactly the ids of the policies that decide it.
 */
import { parse } from 'yaml';
import { z } from 'zod';
import type { LoadedPolicySet, PolicyDecision, PolicyRequest } from './policy_set.js';

const agent = z
  .object({
    id: z.string(),
    kind: z.string(),
    trustDomain: z.string(),
    path: z.string(),
    issuer: z.string(),
    /** The token's mapped claims, as a token would carry them (typed by the schema at decision). */
    claims: z.record(z.string(), z.unknown()).optional(),
  })
  .strict();
const profile = z.object({ name: z.string(), provider: z.string(), tier: z.string(), maxTtl: z.number().int() }).strict();
const incident = z
  .object({
    id: z.string(),
    severity: z.number().int().min(1).max(5),
    status: z.string(),
    source: z.string(),
    major: z.boolean(),
    tiersGranted: z.array(z.string()),
  })
  .strict();
const request = z
  .object({
    action: z.enum(['issue', 'release']),
    agent,
    profile,
    incident,
    ttlSeconds: z.number().int(),
    purpose: z.string(),
    quarantined: z.boolean(),
    approved: z.boolean(),
    hour: z.number().int().min(0).max(23),
  })
  .strict();

const testFile = z
  .object({
    defaults: z.record(z.string(), z.unknown()).default({}),
    cases: z
      .array(
        z
          .object({
            name: z.string().min(1),
            expect: z.enum(['allow', 'deny']),
            policies: z.array(z.string()).optional(),
          })
          .catchall(z.unknown()),
      )
      .min(1),
  })
  .strict();

export interface PolicyTestResult {
  readonly name: string;
  readonly passed: boolean;
  readonly expected: { readonly effect: 'allow' | 'deny'; readonly policies?: readonly string[] };
  readonly got: PolicyDecision;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** `over` onto `base`, objects merged one level deep (a case overrides single fields of an agent, profile or incident). */
function merge(base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) out[k] = isObject(v) && isObject(base[k]) ? { ...(base[k] as object), ...v } : v;
  return out;
}

/** Parses the YAML text; throws an Error naming the case and field that do not fit. */
export function parsePolicyTests(
  text: string,
): { readonly name: string; readonly request: PolicyRequest; readonly expect: 'allow' | 'deny'; readonly policies?: readonly string[] }[] {
  const file = testFile.parse(parse(text));
  return file.cases.map((c) => {
    const { name, expect, policies, ...fields } = c;
    const parsed = request.safeParse(merge(file.defaults, fields));
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new Error(`case "${name}": ${issue?.path.join('.') || '(request)'}: ${issue?.message ?? 'invalid'}`);
    }
    return { name, request: parsed.data as PolicyRequest, expect, ...(policies ? { policies } : {}) };
  });
}

export function runPolicyTests(set: LoadedPolicySet, text: string): PolicyTestResult[] {
  return parsePolicyTests(text).map((c) => {
    const got = set.decide(c.request);
    const policiesMatch = c.policies === undefined || JSON.stringify([...c.policies].sort()) === JSON.stringify(got.policyIds);
    return {
      name: c.name,
      passed: got.effect === c.expect && policiesMatch && got.errors.length === 0,
      expected: { effect: c.expect, ...(c.policies ? { policies: c.policies } : {}) },
      got,
    };
  });
}
