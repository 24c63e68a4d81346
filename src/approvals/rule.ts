/**
 * Which approval a grant request needs (docs/approvals.md "Who approves"): its profile's
 * `approval`, if any; and when a policy allows the request only once approved, what the
 * policies that asked say in their annotations — `@approvers("ir-lead sec-lead")` (roles, any of
 * them), `@quorum("2")` — over `approvals.defaultRule`. Several sources combine to the strictest:
 * the highest quorum, the shortest expiry, and the approvers of the profile, else those the
 * policies name (all of them), else the default's.
 */
import type { ProfileEntry } from '../catalog/catalog.js';
import type { Config } from '../config/schema.js';

export interface ApprovalRule {
  readonly approvers: readonly string[];
  readonly quorum: number;
  readonly expiresSeconds: number;
  readonly from: readonly string[];
}

const QUORUM_MAX = 5;

/** The roles an `@approvers` annotation names (space- or comma-separated). */
const rolesOf = (text: string | undefined): string[] => (text ?? '').split(/[\s,]+/u).filter((r) => r !== '');

export function approvalRuleFor(
  config: Pick<Config, 'approvals'>,
  profile: Pick<ProfileEntry, 'name' | 'config'>,
  askedBy: readonly string[] | null,
  annotationsOf: (policyId: string) => Readonly<Record<string, string>>,
): ApprovalRule | null {
  const own = profile.config.approval;
  if (own === undefined && askedBy === null) return null;
  const fallback = config.approvals.defaultRule;
  const from: string[] = [];
  let approvers: string[] = [];
  let quorum = 0;
  let expiresSeconds = Number.POSITIVE_INFINITY;
  if (own !== undefined) {
    from.push(`profiles.${profile.name}.approval`);
    approvers = [...own.approvers];
    quorum = own.quorum;
    expiresSeconds = own.expiresSeconds;
  }
  const policyApprovers: string[] = [];
  for (const id of askedBy ?? []) {
    const notes = annotationsOf(id);
    from.push(`policy:${id}`);
    const asked = Number(notes.quorum);
    if (Number.isSafeInteger(asked) && asked >= 1) quorum = Math.max(quorum, Math.min(asked, QUORUM_MAX));
    policyApprovers.push(...rolesOf(notes.approvers));
  }
  if (askedBy !== null && askedBy.length === 0) from.push('policy:no-permit-without-approval');
  if (approvers.length === 0) approvers = [...new Set(policyApprovers)];
  if (approvers.length === 0 || quorum === 0 || !Number.isFinite(expiresSeconds)) from.push('approvals.defaultRule');
  if (approvers.length === 0) approvers = [...fallback.approvers];
  if (quorum === 0) quorum = fallback.quorum;
  if (!Number.isFinite(expiresSeconds)) expiresSeconds = fallback.expiresSeconds;
  return { approvers, quorum, expiresSeconds, from };
}
