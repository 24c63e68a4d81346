/**
 * Per-issuer conditions on verified claims (CONTRIBUTING.md #12), compiled once at boot: e.g. a
 * Kubernetes token's `/kubernetes.io/namespace` must equal `incident-agents`, or a GitHub
 * Actions token's `/repository` must match `acme/(triage|forensics)`. Patterns are anchored by
 * the broker (`^(?:…)$`, octo-sts style). The claim must be an own string member: a missing,
 * numeric, array or object value fails, and a path never walks into Object.prototype.
 */
import type { ClaimConstraintConfig } from '../config/identity_schema.js';
import { cleanForLog } from '../logging.js';
import { tokenError } from './token_errors.js';

export interface ClaimConstraint {
  /** The JSON Pointer as configured, for messages. */
  readonly claim: string;
  test(claims: Readonly<Record<string, unknown>>): string | null;
}

/** Compiles the configured constraints once; the schema has checked pointers and patterns. */
export function compileClaimConstraints(configs: readonly ClaimConstraintConfig[]): readonly ClaimConstraint[] {
  return configs.map((c) => {
    const path = parsePointer(c.claim);
    const matches = c.pattern !== undefined ? regexMatcher(c.pattern) : equalsMatcher(c.equals ?? []);
    return Object.freeze({
      claim: c.claim,
      test(claims: Readonly<Record<string, unknown>>): string | null {
        const value = resolvePointer(claims, path);
        if (value === undefined) return `claim ${c.claim} is missing`;
        if (typeof value !== 'string') return `claim ${c.claim} is not a string`;
        return matches(value) ? null : `claim ${c.claim} (${JSON.stringify(cleanForLog(value, 128))}) does not match`;
      },
    });
  });
}

/** Throws ERR_TOKEN_CLAIMS naming the first constraint the claims fail. */
export function checkClaimConstraints(
  constraints: readonly ClaimConstraint[],
  claims: Readonly<Record<string, unknown>>,
  where: string,
): void {
  for (const constraint of constraints) {
    const failure = constraint.test(claims);
    if (failure !== null) throw tokenError('ERR_TOKEN_CLAIMS', `${where}: ${failure}`);
  }
}

function regexMatcher(pattern: string): (value: string) => boolean {
  const re = new RegExp(`^(?:${pattern})$`, 'u');
  return (value) => re.test(value);
}

function equalsMatcher(equals: string | readonly string[]): (value: string) => boolean {
  const allowed = new Set(typeof equals === 'string' ? [equals] : equals);
  return (value) => allowed.has(value);
}

/** RFC 6901 §3–4: `/a~1b/c~0d` → ['a/b', 'c~d']. The schema has checked the syntax. */
export function parsePointer(pointer: string): readonly string[] {
  return pointer
    .slice(1)
    .split('/')
    .map((token) => token.replaceAll('~1', '/').replaceAll('~0', '~'));
}

/** Follows own members of plain objects only; arrays and prototypes are never walked. */
export function resolvePointer(root: Readonly<Record<string, unknown>>, path: readonly string[]): unknown {
  let current: unknown = root;
  for (const token of path) {
    if (typeof current !== 'object' || current === null || Array.isArray(current) || !Object.hasOwn(current, token)) return undefined;
    current = (current as Record<string, unknown>)[token];
  }
  return current;
}
