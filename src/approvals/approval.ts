/**
 * Approvals (docs/approvals.md): a grant request that waits for named humans. The record lives in
 * a store register (`approval:<id>`), changed only by compare-and-set, so every transition — a
 * decision, the claim to issue, the issue, expiry, cancellation — is one atomic step whatever
 * replica takes it; the open ones are listed per incident in the incident records (namespace
 * `approvals`). The credential is never stored: it is issued when the agent collects an approved
 * request, once.
 *
 *     pending ──quorum of approvals──▶ approved ──claimed by a poll──▶ issuing ──▶ issued
 *        │ └─ a deny ─▶ denied            │                             │ lease lapsed: claimable again
 *        └─ past expiresAt ─▶ expired ◀───┘   incident closed ─▶ cancelled (pending or approved)
 */
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import type { Store } from '../store/store.js';

export const APPROVAL_STATES = ['pending', 'approved', 'issuing', 'issued', 'denied', 'expired', 'cancelled'] as const;
export type ApprovalState = (typeof APPROVAL_STATES)[number];

/** States an approval never leaves. */
export const FINAL_APPROVAL_STATES: ReadonlySet<ApprovalState> = new Set(['issued', 'denied', 'expired', 'cancelled']);

/** The incident-records namespace of approvals not yet final. */
export const OPEN_APPROVALS = 'approvals';

const decisionSchema = z
  .object({
    /** The approver: `issuer#subject` of the operator token. */
    by: z.string(),
    subject: z.string(),
    decision: z.enum(['approve', 'deny']),
    reason: z.string(),
    at: z.number(),
    /** The approver's roles that the rule named. */
    roles: z.array(z.string()),
  })
  .strict();
export type ApprovalDecision = z.infer<typeof decisionSchema>;

const approvalSchema = z
  .object({
    id: z.string(),
    state: z.enum(APPROVAL_STATES),
    incidentId: z.string(),
    agent: z.string(),
    /** The agent's sponsoring human (approvals.sponsorClaim), who may not approve. */
    sponsor: z.string().optional(),
    profile: z.string(),
    provider: z.string(),
    tier: z.string(),
    /** The profile's params the grant would be issued with (the scope a human approves; never secret). */
    scope: z.record(z.string(), z.unknown()),
    ttlSeconds: z.number().int(),
    requestedTtlSeconds: z.number().int().optional(),
    purpose: z.string(),
    createdAt: z.number(),
    expiresAt: z.number(),
    rule: z
      .object({
        approvers: z.array(z.string()),
        quorum: z.number().int(),
        /** Where the rule came from: `profiles.<name>.approval`, `policy:<id>`, `approvals.defaultRule`. */
        from: z.array(z.string()),
      })
      .strict(),
    /** What decided the request could be granted once approved (policy ids, patterns). */
    decidedBy: z.array(z.string()),
    /** The request's provenance (requestId, tokenFingerprint…). */
    requestedVia: z.record(z.string(), z.string()),
    decisions: z.array(decisionSchema),
    /** Set once a poll claimed the issue: the grant id it issues under, and until when it holds the claim. */
    issue: z.object({ grantId: z.string(), owner: z.string(), until: z.number() }).strict().optional(),
    /** The grant issued (state issued). */
    grantId: z.string().optional(),
    endedAt: z.number().optional(),
    /** Why it ended, for expired and cancelled: `expired`, `incident_closed`. */
    endReason: z.string().optional(),
  })
  .strict();
export type Approval = z.infer<typeof approvalSchema>;

export const newApprovalId = (): string => `apr_${randomBytes(16).toString('base64url')}`;
export const approvalKey = (id: string): string => `approval:${id}`;

export const encodeApproval = (approval: Approval): string => JSON.stringify(approval);

export function decodeApproval(text: string): Approval {
  const parsed = approvalSchema.safeParse(JSON.parse(text));
  // A record this code did not write: refuse it rather than act on a guessed state.
  if (!parsed.success) throw new Error('corrupt approval record');
  return parsed.data;
}

/** The approvals that approved, distinct by approver. */
export const approvalsOf = (a: Pick<Approval, 'decisions'>): ApprovalDecision[] => a.decisions.filter((d) => d.decision === 'approve');

/** An approval as it stands at `now`: a pending or approved one past its expiry is expired. */
export function effectiveApprovalState(a: Pick<Approval, 'state' | 'expiresAt'>, now: number): ApprovalState {
  return (a.state === 'pending' || a.state === 'approved') && a.expiresAt <= now ? 'expired' : a.state;
}

export type ApprovalStore = Pick<
  Store,
  'getRegister' | 'compareAndSetRegister' | 'addIncidentRecord' | 'removeIncidentRecords' | 'listIncidentRecords'
>;

export async function readApproval(store: Pick<Store, 'getRegister'>, id: string): Promise<Approval | null> {
  const text = await store.getRegister(approvalKey(id));
  return text === null ? null : decodeApproval(text);
}

/** The outcome of one change: the new record, or why it was not made (`change` returned a string). */
export type Changed<R extends string> =
  { readonly approval: Approval; readonly before: Approval } | { readonly refused: R; readonly approval: Approval };

/**
 * Applies `change` to the record by compare-and-set, re-reading and re-applying when another
 * replica changed it first. `change` returns the new record, or a refusal code (nothing written).
 */
export async function changeApproval<R extends string>(
  store: Pick<Store, 'getRegister' | 'compareAndSetRegister'>,
  id: string,
  change: (current: Approval) => Approval | R,
): Promise<Changed<R> | null> {
  for (let attempt = 0; attempt < 20; attempt += 1) {
    const text = await store.getRegister(approvalKey(id));
    if (text === null) return null;
    const current = decodeApproval(text);
    const next = change(current);
    if (typeof next === 'string') return { refused: next, approval: current };
    if (await store.compareAndSetRegister(approvalKey(id), text, encodeApproval(next))) return { approval: next, before: current };
  }
  throw new Error(`approval ${id} kept changing under 20 attempts`);
}
