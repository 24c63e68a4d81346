/**
 * Token claims in policy (docs/policy.md "Agent claims"): the operator maps claims of a verified
 * agent token to attributes of `Agent.claims` (config `policy.agentClaims`), and declares each of
 * them in the schema, optional, as one of the types below. The verifier keeps only the mapped
 * claims (identity/verifier.ts); a decision converts them to the declared types. A claim whose
 * value does not fit its declared type denies the request: a policy never sees a half-true agent,
 * and a forbid that tests the claim is never skipped because its value was dropped.
 */
import * as cedar from '@cedar-policy/cedar-wasm/nodejs';

export type ClaimType = 'String' | 'Long' | 'Bool' | 'Set<String>' | 'Set<Long>';

/** Attribute name → declared type, of the schema's `Agent.claims`. */
export type ClaimTypes = ReadonlyMap<string, ClaimType>;

/** Where a claim is read in the token: a top-level name, or a path into nested objects. */
export type ClaimPath = string | readonly string[];

/** The longest string, and the most elements of a set, a claim may carry into a decision. */
export const MAX_CLAIM_STRING = 1024;
export const MAX_CLAIM_SET = 256;

interface JsonType {
  readonly type: string;
  readonly element?: JsonType;
  readonly attributes?: Readonly<Record<string, JsonType & { readonly required?: boolean }>>;
}

interface JsonNamespace {
  readonly commonTypes?: Readonly<Record<string, JsonType>>;
  readonly entityTypes?: Readonly<Record<string, { readonly shape?: JsonType }>>;
}

function typeName(t: JsonType | undefined): ClaimType | null {
  if (!t) return null;
  if (t.type === 'String' || t.type === 'Long' || t.type === 'Bool') return t.type;
  if (t.type === 'Set' && (t.element?.type === 'String' || t.element?.type === 'Long')) return `Set<${t.element.type}>`;
  return null;
}

/**
 * The declared claims of `namespace`'s Agent (null: the schema has no `Agent.claims`), or the
 * problems that refuse the schema: `claims` must be a record whose attributes are all optional (a
 * token may lack any claim) and of a supported type.
 */
export function agentClaimTypes(schema: string, namespace: string): { types: ClaimTypes | null; problems: string[] } {
  const answer = cedar.schemaToJsonWithResolvedTypes(schema);
  if (answer.type === 'failure') return { types: null, problems: answer.errors.map((e) => e.message) };
  const ns = (answer.json as Record<string, JsonNamespace>)[namespace];
  let claims = ns?.entityTypes?.['Agent']?.shape?.attributes?.['claims'];
  if (claims === undefined) return { types: null, problems: [] };
  // A common type stays a reference in the JSON form: `Quartermaster::AgentClaims` or `AgentClaims`.
  if (claims.type !== 'Record') claims = ns?.commonTypes?.[claims.type.replace(`${namespace}::`, '')];
  if (claims?.type !== 'Record') return { types: null, problems: ['Agent.claims must be a record of optional claim attributes'] };
  const types = new Map<string, ClaimType>();
  const problems: string[] = [];
  for (const [name, t] of Object.entries(claims.attributes ?? {})) {
    const type = typeName(t);
    if (type === null) problems.push(`Agent.claims.${name}: a claim is a String, Long, Bool, Set<String> or Set<Long>`);
    else if (t.required !== false) problems.push(`Agent.claims.${name} must be optional (${name}?: ${type}): a token may not carry it`);
    else types.set(name, type);
  }
  return { types, problems };
}

/** Problems between the configured mapping and the schema's claims: each side must name the other's attributes. */
export function mappingProblems(types: ClaimTypes | null, mapped: readonly string[]): string[] {
  const problems = mapped
    .filter((name) => !types?.has(name))
    .map((name) => `policy.agentClaims maps "${name}", but the schema declares no Agent.claims.${name}`);
  for (const name of types?.keys() ?? []) {
    if (!mapped.includes(name))
      problems.push(`the schema declares Agent.claims.${name}, but policy.agentClaims does not map it to a token claim`);
  }
  return problems;
}

/** The mapped claims of a verified payload, as the token has them (own properties only, paths walked through objects). */
export function pickClaims(
  payload: Readonly<Record<string, unknown>>,
  mapping: Readonly<Record<string, ClaimPath>>,
): Readonly<Record<string, unknown>> | undefined {
  let picked: Record<string, unknown> | undefined;
  for (const [name, path] of Object.entries(mapping)) {
    let value: unknown = payload;
    for (const key of typeof path === 'string' ? [path] : path) {
      value =
        typeof value === 'object' && value !== null && !Array.isArray(value) && Object.hasOwn(value, key)
          ? (value as Record<string, unknown>)[key]
          : undefined;
    }
    if (value !== undefined) (picked ??= {})[name] = value;
  }
  return picked;
}

const fitsString = (v: unknown): v is string => typeof v === 'string' && v.length <= MAX_CLAIM_STRING;

function convert(type: ClaimType, value: unknown): unknown {
  switch (type) {
    case 'String':
      return fitsString(value) ? value : undefined;
    case 'Long':
      return Number.isSafeInteger(value) ? value : undefined;
    case 'Bool':
      return typeof value === 'boolean' ? value : undefined;
    case 'Set<String>': {
      // Some issuers send a one-element list as a bare string.
      const list = typeof value === 'string' ? [value] : value;
      return Array.isArray(list) && list.length <= MAX_CLAIM_SET && list.every(fitsString) ? [...new Set(list)] : undefined;
    }
    case 'Set<Long>':
      return Array.isArray(value) && value.length <= MAX_CLAIM_SET && value.every((x) => Number.isSafeInteger(x))
        ? [...new Set(value)]
        : undefined;
  }
}

/**
 * The claims as the schema types them, or the reason one does not fit. Claims the schema does not
 * declare are left out (a shadow set may declare fewer than the enforced one).
 */
export function typedClaims(
  types: ClaimTypes,
  claims: Readonly<Record<string, unknown>> | undefined,
): { claims: Record<string, unknown> } | { error: string } {
  const out: Record<string, unknown> = {};
  if (claims === undefined) return { claims: out };
  for (const [name, type] of types) {
    if (!Object.hasOwn(claims, name)) continue;
    const value = convert(type, claims[name]);
    if (value === undefined)
      return { error: `agent claim ${name} is not a ${type} (of at most ${MAX_CLAIM_STRING} characters and ${MAX_CLAIM_SET} elements)` };
    out[name] = value;
  }
  return { claims: out };
}
