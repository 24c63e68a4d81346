/**
 * One row of the attack suite: a valid token, and an attack derived from it that must be refused
 * with `code`. Rows are data; attacks.test.ts runs them.
 */
import type { TokenErrorCode } from '../../../src/identity/token_errors.js';
import { specs, START } from '../identity_world.js';
import { build, type TokenSpec } from '../token_factory.js';

export interface AttackCase {
  readonly name: string;
  /** Default: agent. */
  readonly endpoint?: 'agent' | 'operator';
  /** `single-use`: both tokens go through the single-use step of a `singleUse: true` profile. */
  readonly flow?: 'verify' | 'single-use';
  readonly valid: () => string;
  readonly attack: (valid: string) => string;
  readonly code: TokenErrorCode;
}

/** The suite's clock never moves: every row is issued at START. */
export const T = Math.floor(START / 1000);
export const S = specs(() => T);

type Options = Pick<AttackCase, 'endpoint' | 'flow'>;

/** A row whose attack re-signs a changed spec. */
export function changed(
  name: string,
  code: TokenErrorCode,
  base: () => TokenSpec,
  change: (spec: TokenSpec) => TokenSpec,
  options: Options = {},
): AttackCase {
  return { name, code, ...options, valid: () => build(base()), attack: () => build(change(base())) };
}

/** A row whose attack edits the finished valid token. */
export function tampered(
  name: string,
  code: TokenErrorCode,
  base: () => TokenSpec,
  tamper: (token: string) => string,
  options: Options = {},
): AttackCase {
  return { name, code, ...options, valid: () => build(base()), attack: tamper };
}
