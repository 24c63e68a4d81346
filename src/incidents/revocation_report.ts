/**
 * The per-incident revocation report (docs/architecture.md flow 4): what was revoked, when, and what is
 * still outstanding. Revocation time is measured from the close, never claimed (guarantee 7).
 */
import { effectiveState, GRANT_STATES, TERMINAL_STATES, type Grant, type GrantState, type Incident } from '../model.js';

export interface RevocationReport {
  readonly total: number;
  readonly byState: Readonly<Record<GrantState, number>>;
  /** Per provider, its grants by state (states it has none in left out): what the console's incident list shows. */
  readonly byProvider: Readonly<Record<string, Partial<Record<GrantState, number>>>>;
  /** Grants revoked with a provider receipt confirming the credential is dead. */
  readonly confirmed: number;
  readonly unconfirmed: number;
  /**
   * Of the unconfirmed, those denied by a provider whose revocation takes effect after upstream
   * propagation (AWS STS): written at `endedAt`, effective within the propagation delay.
   */
  readonly deniedPendingPropagation: number;
  /** Grants not yet in a terminal state after the close (0 for an open incident's live grants). */
  readonly outstanding: number;
  readonly firstRevokedAt: number | null;
  readonly lastRevokedAt: number | null;
  /** close → last grant terminal, when the incident is closed and nothing is outstanding. */
  readonly closeToAllRevokedMs: number | null;
}

export function buildRevocationReport(
  incident: Incident,
  grants: readonly Grant[],
  now: number,
  propagates: (provider: string) => boolean = () => false,
): RevocationReport {
  let denied = 0;
  const byState = Object.fromEntries(GRANT_STATES.map((s) => [s, 0])) as Record<GrantState, number>;
  // No prototype: a provider named like an Object member (`constructor`) is just a key.
  const byProvider = Object.create(null) as Record<string, Partial<Record<GrantState, number>>>;
  let confirmed = 0;
  let unconfirmed = 0;
  let first: number | null = null;
  let last: number | null = null;
  let lastEnded: number | null = null;
  for (const grant of grants) {
    const state = effectiveState(grant, now);
    byState[state] += 1;
    const ofProvider = (byProvider[grant.provider] ??= {});
    ofProvider[state] = (ofProvider[state] ?? 0) + 1;
    if (state === 'revoked') {
      if (grant.revocationConfirmed) confirmed += 1;
      else unconfirmed += 1;
      if (!grant.revocationConfirmed && propagates(grant.provider)) denied += 1;
      const at = grant.endedAt ?? null;
      if (at !== null) {
        first = first === null ? at : Math.min(first, at);
        last = last === null ? at : Math.max(last, at);
      }
    }
    if (TERMINAL_STATES.has(state)) {
      const at = state === 'expired' ? Math.min(grant.endedAt ?? grant.expiresAt, grant.expiresAt) : grant.endedAt;
      if (at !== undefined) lastEnded = lastEnded === null ? at : Math.max(lastEnded, at);
    }
  }
  const outstanding =
    incident.status === 'closed' ? byState.pending_approval + byState.issuing + byState.active + byState.revoking : byState.revoking;
  const closedAt = incident.closedAt;
  const closeToAllRevokedMs = closedAt !== undefined && outstanding === 0 ? Math.max(0, (lastEnded ?? closedAt) - closedAt) : null;
  return {
    total: grants.length,
    byState,
    byProvider,
    confirmed,
    unconfirmed,
    deniedPendingPropagation: denied,
    outstanding,
    firstRevokedAt: first,
    lastRevokedAt: last,
    closeToAllRevokedMs,
  };
}
