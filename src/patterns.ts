/**
 * Agent patterns (profiles' `agents`, incidents' `agents`): regular expressions the broker
 * anchors as `^(?:…)$` (octo-sts style), so `spiffe://a/b` never matches `spiffe://a/b-evil` and an
 * alternation is anchored as a whole.
 */
export const anchoredPattern = (pattern: string): RegExp => new RegExp(`^(?:${pattern})$`, 'u');

/** Whether `pattern` compiles as a regular expression (config and API validation). */
export function isValidPattern(pattern: string): boolean {
  try {
    anchoredPattern(pattern);
    return true;
  } catch {
    return false;
  }
}
