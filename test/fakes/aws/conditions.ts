/**
 * The Condition element of IAM policies, per "IAM JSON policy elements: Condition operators"
 * (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html)
 * and "Conditions with multiple context keys or values"
 * (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_multi-value-conditions.html):
 *
 * - operators AND together, keys within an operator AND together, values of one key OR together;
 *   for a negated operator (StringNotEquals, StringNotLike, DateNotEquals, …) the values NOR;
 * - a key missing from the request context makes the condition false, except that a negated
 *   operator is then true, `…IfExists` is true, and `Null` tests exactly that;
 * - condition key names are case-insensitive, values are compared as the operator says;
 * - dates are W3C ISO 8601 or epoch seconds; StringLike takes `*` and `?` anywhere.
 *
 * Modelled: String*, Date*, Numeric*, Bool, Null, Arn* (each with IfExists). Not modelled (noted
 * in `unexpected`, and never matching): IpAddress, Binary, the ForAnyValue:/ForAllValues: set
 * operators (every key here is single-valued) and policy variables.
 */

/** The request context: condition key (lower-cased) → value. Absent keys are simply not there. */
export type ConditionContext = ReadonlyMap<string, string>;
/** Operator → key → values, as written in the policy (values already stringified). */
export type ConditionBlock = Readonly<Record<string, Readonly<Record<string, readonly string[]>>>>;

type Compare = (actual: string, expected: string) => boolean;

interface Operator {
  readonly compare: Compare;
  readonly negated: boolean;
}

const OPERATORS: Readonly<Record<string, Operator>> = {
  StringEquals: { compare: (a, e) => a === e, negated: false },
  StringNotEquals: { compare: (a, e) => a === e, negated: true },
  StringEqualsIgnoreCase: { compare: (a, e) => a.toLowerCase() === e.toLowerCase(), negated: false },
  StringNotEqualsIgnoreCase: { compare: (a, e) => a.toLowerCase() === e.toLowerCase(), negated: true },
  StringLike: { compare: (a, e) => globMatches(e, a, false), negated: false },
  StringNotLike: { compare: (a, e) => globMatches(e, a, false), negated: true },
  NumericEquals: { compare: numeric((a, e) => a === e), negated: false },
  NumericNotEquals: { compare: numeric((a, e) => a === e), negated: true },
  NumericLessThan: { compare: numeric((a, e) => a < e), negated: false },
  NumericLessThanEquals: { compare: numeric((a, e) => a <= e), negated: false },
  NumericGreaterThan: { compare: numeric((a, e) => a > e), negated: false },
  NumericGreaterThanEquals: { compare: numeric((a, e) => a >= e), negated: false },
  DateEquals: { compare: date((a, e) => a === e), negated: false },
  DateNotEquals: { compare: date((a, e) => a === e), negated: true },
  DateLessThan: { compare: date((a, e) => a < e), negated: false },
  DateLessThanEquals: { compare: date((a, e) => a <= e), negated: false },
  DateGreaterThan: { compare: date((a, e) => a > e), negated: false },
  DateGreaterThanEquals: { compare: date((a, e) => a >= e), negated: false },
  Bool: { compare: (a, e) => a.toLowerCase() === e.toLowerCase(), negated: false },
  ArnEquals: { compare: arnMatches, negated: false },
  ArnLike: { compare: arnMatches, negated: false },
  ArnNotEquals: { compare: arnMatches, negated: true },
  ArnNotLike: { compare: arnMatches, negated: true },
};

/** Whether the fake can evaluate this operator (`Null`, or a modelled operator with or without IfExists). */
export function isModelledOperator(name: string): boolean {
  return name === 'Null' || OPERATORS[name.endsWith('IfExists') ? name.slice(0, -'IfExists'.length) : name] !== undefined;
}

/** Whether every operator of `block` holds for `context`. `note` records what the fake does not model. */
export function conditionsHold(block: ConditionBlock, context: ConditionContext, note: (what: string) => void): boolean {
  for (const [name, keys] of Object.entries(block)) {
    for (const [key, values] of Object.entries(keys)) {
      if (!operatorHolds(name, context.get(key.toLowerCase()), values, note)) return false;
    }
  }
  return true;
}

function operatorHolds(name: string, actual: string | undefined, values: readonly string[], note: (what: string) => void): boolean {
  if (name === 'Null') {
    // "true": the key must be absent; "false": present.
    return values.some((v) => (v.toLowerCase() === 'true') === (actual === undefined));
  }
  const ifExists = name.endsWith('IfExists');
  const base = ifExists ? name.slice(0, -'IfExists'.length) : name;
  const operator = OPERATORS[base];
  if (!operator) {
    note(`condition operator ${name} is not modelled by the fake aws`);
    return false;
  }
  if (actual === undefined) return ifExists || operator.negated;
  const anyMatch = values.some((expected) => operator.compare(actual, expected));
  return operator.negated ? !anyMatch : anyMatch;
}

/** `*` any run of characters, `?` one character; the rest literal. */
export function globMatches(pattern: string, text: string, ignoreCase: boolean): boolean {
  const source = [...pattern].map((c) => (c === '*' ? '.*' : c === '?' ? '.' : c.replace(/[.+^${}()|[\]\\/]/gu, '\\$&'))).join('');
  return new RegExp(`^${source}$`, ignoreCase ? 'isu' : 'su').test(text);
}

/** ArnLike matches each of the six colon-separated components on its own. */
function arnMatches(actual: string, expected: string): boolean {
  const a = splitArn(actual);
  const e = splitArn(expected);
  return a !== null && e !== null && e.every((part, i) => globMatches(part, a[i] as string, false));
}

function splitArn(arn: string): string[] | null {
  const parts = arn.split(':');
  if (parts.length < 6) return null;
  return [...parts.slice(0, 5), parts.slice(5).join(':')];
}

function numeric(test: (actual: number, expected: number) => boolean): Compare {
  return (actual, expected) => {
    const a = Number(actual);
    const e = Number(expected);
    return Number.isFinite(a) && Number.isFinite(e) && test(a, e);
  };
}

function date(test: (actual: number, expected: number) => boolean): Compare {
  return (actual, expected) => {
    const a = parseDate(actual);
    const e = parseDate(expected);
    return a !== null && e !== null && test(a, e);
  };
}

/** Epoch seconds, or a W3C ISO 8601 date (a date alone means its midnight UTC). */
export function parseDate(text: string): number | null {
  if (/^\d+(\.\d+)?$/u.test(text)) return Number(text) * 1000;
  if (!/^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$/u.test(text)) return null;
  const iso = text.replace(' ', 'T');
  const ms = Date.parse(iso.includes('T') && !/(Z|[+-]\d{2}:?\d{2})$/u.test(iso) ? `${iso}Z` : iso);
  return Number.isNaN(ms) ? null : ms;
}
