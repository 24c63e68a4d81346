/**
 * IAM JSON policy documents: parsed and checked when put (PutRolePolicy, AssumeRole's session
 * Policy), then matched statement by statement. Grammar per "IAM JSON policy element reference"
 * (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements.html): Effect
 * Allow|Deny; Action or NotAction and Resource or NotResource, each a string or a list, with `*`
 * and `?` wildcards (actions case-insensitive, resources not); no Principal in an identity policy;
 * Condition per conditions.ts.
 *
 * MalformedPolicyDocument (400) is the code IAM and STS answer for a policy they cannot accept;
 * "Syntax errors in policy.", "Policy statement must contain actions.", "Policy statement must
 * contain resources." and "Policy document should not specify a principal." are IAM's wording.
 * Stricter than IAM on purpose: a missing Version is refused (IAM would default it to 2008-10-17,
 * under which policy variables are not expanded; the broker always writes 2012-10-17).
 */
import type { ConditionBlock, ConditionContext } from './conditions.js';
import { conditionsHold, globMatches, isModelledOperator } from './conditions.js';
import { malformedPolicy } from './state.js';

export interface Statement {
  readonly effect: 'Allow' | 'Deny';
  /** Exactly one of actions / notActions is set, likewise resources / notResources. */
  readonly actions?: readonly string[];
  readonly notActions?: readonly string[];
  readonly resources?: readonly string[];
  readonly notResources?: readonly string[];
  readonly condition: ConditionBlock;
}

export interface PolicyDocument {
  readonly statements: readonly Statement[];
}

export interface EvalRequest {
  /** `service:Action`, e.g. iam:GetRole. */
  readonly action: string;
  readonly resource: string;
  readonly context: ConditionContext;
}

const SYNTAX = 'Syntax errors in policy.';

/** Parses and checks a policy; throws MalformedPolicyDocument. `note` records what the fake does not model. */
export function parsePolicy(text: string, note: (what: string) => void): { document: PolicyDocument; json: unknown } {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw malformedPolicy(SYNTAX);
  }
  if (!isObject(json)) throw malformedPolicy(SYNTAX);
  if (json.Version === undefined) throw malformedPolicy('The policy has no Version element (the fake requires "2012-10-17").');
  if (json.Version !== '2012-10-17' && json.Version !== '2008-10-17') throw malformedPolicy('The policy failed legacy parsing');
  const raw = json.Statement;
  const list = Array.isArray(raw) ? raw : raw === undefined ? [] : [raw];
  if (list.length === 0) throw malformedPolicy(SYNTAX);
  if (text.includes('${')) note('policy variables (${…}) are not modelled by the fake aws');
  return { document: { statements: list.map((s) => parseStatement(s, note)) }, json };
}

function parseStatement(raw: unknown, note: (what: string) => void): Statement {
  if (!isObject(raw)) throw malformedPolicy(SYNTAX);
  if (raw.Principal !== undefined || raw.NotPrincipal !== undefined)
    throw malformedPolicy('Policy document should not specify a principal.');
  const effect = raw.Effect;
  if (effect !== 'Allow' && effect !== 'Deny') throw malformedPolicy(SYNTAX);
  const actions = stringsOf(raw.Action);
  const notActions = stringsOf(raw.NotAction);
  if ((actions === undefined) === (notActions === undefined)) throw malformedPolicy('Policy statement must contain actions.');
  const resources = stringsOf(raw.Resource);
  const notResources = stringsOf(raw.NotResource);
  if ((resources === undefined) === (notResources === undefined)) throw malformedPolicy('Policy statement must contain resources.');
  return {
    effect,
    ...(actions ? { actions } : { notActions: notActions as string[] }),
    ...(resources ? { resources } : { notResources: notResources as string[] }),
    condition: parseCondition(raw.Condition, note),
  };
}

function parseCondition(raw: unknown, note: (what: string) => void): ConditionBlock {
  if (raw === undefined) return {};
  if (!isObject(raw)) throw malformedPolicy(SYNTAX);
  const block: Record<string, Record<string, string[]>> = {};
  for (const [operator, keys] of Object.entries(raw)) {
    if (!isObject(keys)) throw malformedPolicy(SYNTAX);
    if (!isModelledOperator(operator)) note(`condition operator ${operator} is not modelled by the fake aws`);
    const entry: Record<string, string[]> = {};
    for (const [key, value] of Object.entries(keys)) {
      const values = (Array.isArray(value) ? value : [value]).map((v) => {
        if (typeof v !== 'string' && typeof v !== 'number' && typeof v !== 'boolean') throw malformedPolicy(SYNTAX);
        return String(v);
      });
      entry[key] = values;
    }
    block[operator] = entry;
  }
  return block;
}

/** A string or a non-empty list of strings; undefined when absent. */
function stringsOf(value: unknown): string[] | undefined {
  if (value === undefined) return undefined;
  const list = Array.isArray(value) ? value : [value];
  if (list.length === 0 || !list.every((v) => typeof v === 'string')) throw malformedPolicy(SYNTAX);
  return list as string[];
}

export function statementApplies(statement: Statement, request: EvalRequest, note: (what: string) => void): boolean {
  const actionMatch = (patterns: readonly string[]): boolean => patterns.some((p) => globMatches(p, request.action, true));
  const resourceMatch = (patterns: readonly string[]): boolean => patterns.some((p) => globMatches(p, request.resource, false));
  const action = statement.actions ? actionMatch(statement.actions) : !actionMatch(statement.notActions ?? []);
  if (!action) return false;
  const resource = statement.resources ? resourceMatch(statement.resources) : !resourceMatch(statement.notResources ?? []);
  return resource && conditionsHold(statement.condition, request.context, note);
}

/** The size IAM counts against the inline-policy quota: characters, white space not counted. */
export function policySize(text: string): number {
  return [...text.replace(/\s/gu, '')].length;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
