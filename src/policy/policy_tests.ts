/**
 * Decision tests for a policy set, written in YAML (docs/policy.md "Testing a change"), run by
 * `quartermaster policy test` like `opa test`: each case is a request — `defaults` with the case's
 * own fields over them, object by object — and the decision it must get: `expect: allow | deny`
 * and, optionally, `policies`: exactly the ids of the policies that decide it. A `signals` section
 * does the same for deviation signals (signal_policy.ts): its cases expect an outcome —
 * `none`, `revoke_in_incident`, `revoke_everywhere`, `quarantine` — and the permits that chose it.
 */
import { parse } from 'yaml';
import { z } from 'zod';
import { SIGNAL_SEVERITIES } from '../model.js';
import type { LoadedPolicySet, PolicyDecision, PolicyRequest } from './policy_set.js';
import { SIGNAL_OUTCOMES, type SignalPolicyRequest } from './signal_policy.js';

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

const signalRequest = z
  .object({
    agent: agent.omit({ claims: true }),
    signal: z
      .object({ id: z.string(), kind: z.string(), severity: z.enum(SIGNAL_SEVERITIES), source: z.string(), detector: z.boolean() })
      .strict(),
    /** `null` (or left out of the defaults): a signal about no incident. */
    incident: incident.nullable().optional(),
    quarantined: z.boolean(),
    hour: z.number().int().min(0).max(23),
  })
  .strict();

const caseOf = <E extends z.ZodType>(expect: E) =>
  z.object({ name: z.string().min(1), expect, policies: z.array(z.string()).optional() }).catchall(z.unknown());

const testFile = z
  .object({
    defaults: z.record(z.string(), z.unknown()).default({}),
    cases: z.array(caseOf(z.enum(['allow', 'deny']))).min(1),
    signals: z
      .object({ defaults: z.record(z.string(), z.unknown()).default({}), cases: z.array(caseOf(z.enum(SIGNAL_OUTCOMES))).min(1) })
      .strict()
      .optional(),
  })
  .strict();

export interface PolicyTestResult {
  readonly name: string;
  readonly passed: boolean;
  /** `effect`: allow or deny for a request, the outcome for a signal. */
  readonly expected: { readonly effect: string; readonly policies?: readonly string[] };
  readonly got: Pick<PolicyDecision, 'policyIds' | 'errors'> & { readonly effect: string };
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** `over` onto `base`, objects merged one level deep (a case overrides single fields of an agent, profile or incident). */
function merge(base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) out[k] = isObject(v) && isObject(base[k]) ? { ...(base[k] as object), ...v } : v;
  return out;
}

interface ParsedCase<R, E> {
  readonly name: string;
  readonly request: R;
  readonly expect: E;
  readonly policies?: readonly string[];
}

function parseCases<R, E>(
  schema: z.ZodType,
  defaults: Record<string, unknown>,
  cases: ReadonlyArray<{ name: string; expect: E; policies?: string[] | undefined } & Record<string, unknown>>,
): ParsedCase<R, E>[] {
  return cases.map((c) => {
    const { name, expect, policies, ...fields } = c;
    const parsed = schema.safeParse(merge(defaults, fields));
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new Error(`case "${name}": ${issue?.path.join('.') || '(request)'}: ${issue?.message ?? 'invalid'}`);
    }
    return { name, request: parsed.data as R, expect, ...(policies ? { policies } : {}) };
  });
}

/** Parses the YAML text; throws an Error naming the case and field that do not fit. */
export function parsePolicyTests(text: string): ParsedCase<PolicyRequest, 'allow' | 'deny'>[] {
  const file = testFile.parse(parse(text));
  return parseCases(request, file.defaults, file.cases);
}

/** The `signals` cases of the YAML text (none when it has no `signals` section). */
export function parseSignalTests(text: string): ParsedCase<SignalPolicyRequest, (typeof SIGNAL_OUTCOMES)[number]>[] {
  const file = testFile.parse(parse(text));
  if (!file.signals) return [];
  return parseCases<SignalPolicyRequest & { incident?: unknown }, (typeof SIGNAL_OUTCOMES)[number]>(
    signalRequest,
    file.signals.defaults,
    file.signals.cases,
  ).map((c) => {
    const { incident: concerned, ...rest } = c.request;
    return { ...c, request: (concerned === null || concerned === undefined ? rest : c.request) as SignalPolicyRequest };
  });
}

const result = (
  c: { readonly name: string; readonly expect: string; readonly policies?: readonly string[] },
  got: PolicyTestResult['got'],
): PolicyTestResult => {
  const policiesMatch = c.policies === undefined || JSON.stringify([...c.policies].sort()) === JSON.stringify(got.policyIds);
  return {
    name: c.name,
    passed: got.effect === c.expect && policiesMatch && got.errors.length === 0,
    expected: { effect: c.expect, ...(c.policies ? { policies: c.policies } : {}) },
    got,
  };
};

export function runPolicyTests(set: LoadedPolicySet, text: string): PolicyTestResult[] {
  const requests = parsePolicyTests(text).map((c) => result(c, set.decide(c.request)));
  const signals = parseSignalTests(text).map((c) => {
    const decision = set.decideSignal(c.request);
    return result(c, { effect: decision.outcome, policyIds: decision.policyIds, errors: decision.errors });
  });
  return [...requests, ...signals];
}
