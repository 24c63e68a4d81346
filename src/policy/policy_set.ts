/**
 * Policy-as-code with Cedar (docs/policy.md): a directory holding `schema.cedarschema` and
 * `*.cedar` files, loaded as one policy set. Every policy needs an `@id("…")` annotation, unique
 * across the directory: decisions name the policies that made them by these ids (the audit event,
 * the 403 body). A set loads only whole: a file that does not parse, a policy without an id or
 * with a taken one, or a policy the schema does not validate refuses the load, each problem named
 * `file:line: reason`. A loaded set is parsed and validated once, and decisions run against the
 * pre-parsed copy (cedar-wasm statefulIsAuthorized), with no parsing per request.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import * as cedar from '@cedar-policy/cedar-wasm/nodejs';
import { agentClaimTypes, mappingProblems, typedClaims, type ClaimTypes } from './agent_claims.js';
import { agentEntity, incidentEntity } from './entities.js';
import { declaresSignalActions, decideSignalWith, type SignalDecision, type SignalPolicyRequest } from './signal_policy.js';

// Node 20's V8 aborts the process (a fatal "unreachable code" in the deoptimizer) after a few
// thousand decisions once TurboFan has inlined the JS→wasm call in `decide` and a lazy deopt
// lands in it; seen under the Redis store's load (bench/s8_policy.ts, docs/performance.md S8).
// Not inlining JS→wasm calls avoids it at no measurable cost. Set before any decision is
// compiled: flags that steer later optimisation take effect at run time.
setFlagsFromString('--no-turbo-inline-js-wasm-calls');

export const NAMESPACE = 'Quartermaster';
export const SCHEMA_FILE = 'schema.cedarschema';

export class PolicyLoadError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`the policy set does not load:\n${problems.map((p) => `  ${p}`).join('\n')}`);
    this.name = 'PolicyLoadError';
  }
}

export interface PolicySetSource {
  readonly dir: string;
  readonly schema: string;
  /** Policy id → its text. */
  readonly policies: Readonly<Record<string, string>>;
  /** Policy id → `file:line` of its first line. */
  readonly origins: Readonly<Record<string, string>>;
  /** The token claims the schema declares on Agent (`claims`), by attribute; null when it declares no `Agent.claims`. */
  readonly claimTypes: ClaimTypes | null;
  /** Policy id → its annotations other than `id` (`@quorum("2")`: docs/approvals.md). */
  readonly annotations: Readonly<Record<string, Readonly<Record<string, string>>>>;
  /** Whether the schema declares the deviation outcome actions (signal_policy.ts). */
  readonly signalActions: boolean;
}

/** 1-based line of `offset` in `text`. */
const lineOf = (text: string, offset: number): number => text.slice(0, Math.max(0, offset)).split('\n').length;

/** `file:line: message (help)` for each Cedar error, its location counted from `base` in the file. */
function problemsOf(file: string, text: string, base: number, errors: readonly cedar.DetailedError[]): string[] {
  return errors.map((e) => {
    const at = e.sourceLocations?.[0];
    const line = at === undefined ? lineOf(text, base) : lineOf(text, base + at.start);
    const detail = [e.message, at?.label, e.help].filter((x) => typeof x === 'string' && x !== '').join('; ');
    return `${file}:${line}: ${detail}`;
  });
}

function readText(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    throw new PolicyLoadError([`${file}: cannot be read`]);
  }
}

/** Reads and validates the directory; throws PolicyLoadError naming every problem. */
export function readPolicyDir(dir: string): PolicySetSource {
  const problems: string[] = [];
  const schema = readText(join(dir, SCHEMA_FILE));
  const parsedSchema = cedar.checkParseSchema(schema);
  if (parsedSchema.type === 'failure') throw new PolicyLoadError(problemsOf(SCHEMA_FILE, schema, 0, parsedSchema.errors));
  const claims = agentClaimTypes(schema, NAMESPACE);
  if (claims.problems.length > 0) throw new PolicyLoadError(claims.problems.map((p) => `${SCHEMA_FILE}: ${p}`));

  const policies: Record<string, string> = {};
  const origins: Record<string, string> = {};
  const annotations: Record<string, Record<string, string>> = {};
  /** Where each policy's text starts in its file, for validation errors. */
  const located: Record<string, { file: string; text: string; base: number }> = {};
  const files = readdirSync(dir)
    .filter((f) => f.endsWith('.cedar'))
    .sort();
  if (files.length === 0) problems.push(`${dir}: no .cedar policy file`);
  for (const file of files) {
    const text = readFileSync(join(dir, file), 'utf8');
    const parts = cedar.policySetTextToParts(text);
    if (parts.type === 'failure') {
      problems.push(...problemsOf(file, text, 0, parts.errors));
      continue;
    }
    let searchFrom = 0;
    for (const policy of parts.policies) {
      // The parts come back as they were written, in order: find each one's place in the file.
      const head = policy.slice(0, Math.min(policy.length, 40));
      const found = text.indexOf(head, searchFrom);
      const base = found === -1 ? searchFrom : found;
      searchFrom = base + 1;
      const json = cedar.policyToJson(policy);
      const annotated = json.type === 'success' ? (json.json.annotations ?? {}) : {};
      const id = annotated.id;
      const where = `${file}:${lineOf(text, base)}`;
      if (typeof id !== 'string' || id === '') {
        problems.push(`${where}: a policy needs an @id("…") annotation: decisions name policies by it`);
        continue;
      }
      if (policies[id] !== undefined) {
        problems.push(`${where}: @id("${id}") is taken by the policy at ${origins[id]}`);
        continue;
      }
      policies[id] = policy;
      origins[id] = where;
      annotations[id] = Object.fromEntries(Object.entries(annotated).filter(([k, v]) => k !== 'id' && typeof v === 'string')) as Record<
        string,
        string
      >;
      located[id] = { file, text, base };
    }
  }
  if (problems.length > 0) throw new PolicyLoadError(problems);

  const validated = cedar.validate({ schema, policies: { staticPolicies: policies } });
  if (validated.type === 'failure') throw new PolicyLoadError(problemsOf(SCHEMA_FILE, schema, 0, validated.errors));
  for (const { policyId, error } of validated.validationErrors) {
    const at = located[policyId];
    problems.push(...(at ? problemsOf(at.file, at.text, at.base, [error]) : [`${policyId}: ${error.message}`]));
  }
  if (problems.length > 0) throw new PolicyLoadError(problems);
  return { dir, schema, policies, origins, claimTypes: claims.types, annotations, signalActions: declaresSignalActions(schema, NAMESPACE) };
}

/** What a request is about, in the schema's terms (src/policy/request.ts builds it from the broker's objects). */
export interface PolicyRequest {
  readonly action: 'issue' | 'release';
  readonly agent: {
    readonly id: string;
    readonly kind: string;
    readonly trustDomain: string;
    readonly path: string;
    readonly issuer: string;
    /** The token claims mapped by `policy.agentClaims`, as the token has them; typed by the schema at decision. */
    readonly claims?: Readonly<Record<string, unknown>>;
  };
  readonly profile: { readonly name: string; readonly provider: string; readonly tier: string; readonly maxTtl: number };
  readonly incident: {
    readonly id: string;
    readonly severity: number;
    readonly status: string;
    readonly source: string;
    readonly major: boolean;
    readonly tiersGranted: readonly string[];
  };
  readonly ttlSeconds: number;
  readonly purpose: string;
  readonly quarantined: boolean;
  readonly approved: boolean;
  readonly hour: number;
}

export interface PolicyDecision {
  readonly effect: 'allow' | 'deny';
  /** The policies that decided: the permits that allowed, or the forbids that denied (empty: nothing permitted it). */
  readonly policyIds: readonly string[];
  /** Policies whose evaluation failed (an error in a policy counts as not applying, as Cedar has it). */
  readonly errors: readonly string[];
  /** The request did not fit the schema (a value out of its types, a claim not of its declared type): denied unevaluated. */
  readonly unfit?: true;
}

export interface LoadedPolicySet {
  readonly source: PolicySetSource;
  decide(request: PolicyRequest): PolicyDecision;
  /** The outcome of a deviation signal (signal_policy.ts). */
  decideSignal(request: SignalPolicyRequest): SignalDecision;
}

let loads = 0;

/**
 * The cedar-wasm call of one decision: the agent, profile and incident as entities of the schema's
 * types, the context, against the set and schema pre-parsed under `setId` / `schemaName` (without
 * a schema name, untyped and unvalidated; bench/s8_policy.ts measures the variants). `claims`, the
 * agent's claims typed by the schema, becomes `Agent.claims` when the schema declares it.
 */
export function authorizationCall(
  request: PolicyRequest,
  setId: string,
  schemaName: string | undefined,
  validateRequest = true,
  claims?: Record<string, unknown>,
): cedar.StatefulAuthorizationCall {
  const type = (name: string) => `${NAMESPACE}::${name}`;
  const incidentUid = { type: type('Incident'), id: request.incident.id };
  const agentUid = { type: type('Agent'), id: request.agent.id };
  const profileUid = { type: type('Profile'), id: request.profile.name };
  return {
    principal: agentUid,
    action: { type: type('Action'), id: request.action },
    resource: profileUid,
    context: {
      incident: { __entity: incidentUid },
      ttlSeconds: request.ttlSeconds,
      purpose: request.purpose,
      quarantined: request.quarantined,
      approved: request.approved,
      hour: request.hour,
    },
    preparsedPolicySetId: setId,
    ...(schemaName === undefined ? {} : { preparsedSchemaName: schemaName }),
    validateRequest: schemaName !== undefined && validateRequest,
    entities: [
      agentEntity(agentUid, request.agent, claims),
      {
        uid: profileUid,
        attrs: { provider: request.profile.provider, tier: request.profile.tier, maxTtl: request.profile.maxTtl },
        parents: [],
      },
      incidentEntity(incidentUid, request.incident),
    ],
  };
}

/**
 * Parses the set once into cedar-wasm's cache under `key` and returns the decision function. The
 * cache has no eviction: a long-lived caller that reloads passes a stable key (the engine's
 * `enforced` and `shadow`), so a reload replaces the parsed set instead of adding one; the
 * default, a fresh key per load, is for one-off loads (the CLI, tests). `agentClaims`, the
 * attribute names the broker's `policy.agentClaims` maps, must be exactly the claims the schema
 * declares (checked when given; the CLI, which has no config, leaves it out).
 */
export function loadPolicySet(
  source: PolicySetSource,
  key = `qm-${++loads}`,
  options: { readonly agentClaims?: readonly string[] } = {},
): LoadedPolicySet {
  if (options.agentClaims !== undefined) {
    const problems = mappingProblems(source.claimTypes, options.agentClaims);
    if (problems.length > 0) throw new PolicyLoadError(problems.map((p) => `${SCHEMA_FILE}: ${p}`));
  }
  const schemaAnswer = cedar.preparseSchema(key, source.schema);
  const setAnswer = cedar.preparsePolicySet(key, { staticPolicies: { ...source.policies } });
  if (schemaAnswer.type === 'failure' || setAnswer.type === 'failure') {
    throw new PolicyLoadError(['the validated set did not pre-parse (a cedar-wasm fault)']);
  }
  return {
    source,
    decide(request) {
      const types = source.claimTypes;
      const claims = types === null ? null : typedClaims(types, request.agent.claims);
      if (claims !== null && 'error' in claims) return { effect: 'deny', policyIds: [], errors: [claims.error], unfit: true };
      const answer = cedar.statefulIsAuthorized(authorizationCall(request, key, key, true, claims?.claims));
      if (answer.type === 'failure') {
        // A request the schema refuses (a value out of its types) is denied, never allowed.
        return { effect: 'deny', policyIds: [], errors: answer.errors.map((e) => e.message), unfit: true };
      }
      const { decision, diagnostics } = answer.response;
      return {
        effect: decision === 'allow' ? 'allow' : 'deny',
        policyIds: [...diagnostics.reason].sort(),
        errors: diagnostics.errors.map((e) => `${e.policyId}: ${e.error.message}`),
      };
    },
    decideSignal: (request) =>
      decideSignalWith(key, NAMESPACE, { declared: source.signalActions, withClaims: source.claimTypes !== null }, request),
  };
}
