/**
 * The revocation report (src/incidents/revocation_report.ts), on hand-built grants: counts by
 * state and by provider, confirmed against unconfirmed, denied pending propagation, what is
 * outstanding open and closed, first and last revoked, and close → all revoked measured from
 * the grants' own end times (an expiry counts at the earlier of its end and its expiresAt).
 */
import { describe, expect, it } from 'vitest';
import { buildRevocationReport } from '../../src/incidents/revocation_report.js';
import type { Grant, Incident } from '../../src/model.js';

const T0 = Date.UTC(2026, 0, 1);
const OPEN: Incident = { id: 'INC-1', source: 'api', title: 't', severity: 'sev2', status: 'open', openedAt: T0, openedBy: 'alice' };
const CLOSED: Incident = { ...OPEN, status: 'closed', closedAt: T0 + 1000, closedBy: 'bob' };
const NOW = T0 + 2000;

let ids = 0;
const grant = (over: Partial<Grant>): Grant => ({
  id: `g${++ids}`,
  incidentId: 'INC-1',
  profile: 'demo',
  provider: 'jwt',
  agent: 'spiffe://dev.local/agent/a',
  purpose: 'p',
  state: 'active',
  createdAt: T0,
  ttlSeconds: 300,
  expiresAt: T0 + 300_000,
  ...over,
});
const revoked = (endedAt: number | undefined, over: Partial<Grant> = {}): Grant =>
  grant({ state: 'revoked', ...(endedAt === undefined ? {} : { endedAt }), revocationConfirmed: true, ...over });

describe('revocation report', () => {
  it('counts an empty incident as nothing, with no times', () => {
    const report = buildRevocationReport(OPEN, [], NOW);
    expect(report).toEqual({
      total: 0,
      byState: { pending_approval: 0, issuing: 0, active: 0, revoking: 0, revoked: 0, expired: 0, failed: 0 },
      byProvider: {},
      confirmed: 0,
      unconfirmed: 0,
      deniedPendingPropagation: 0,
      outstanding: 0,
      firstRevokedAt: null,
      lastRevokedAt: null,
      closeToAllRevokedMs: null,
    });
  });

  it('counts by state and by provider, with an active grant past its expiry counted as expired', () => {
    const grants = [
      grant({ state: 'active' }),
      grant({ state: 'active', expiresAt: NOW }),
      grant({ state: 'issuing', provider: 'vault' }),
      grant({ state: 'revoking', provider: 'vault' }),
      revoked(T0 + 1500, { provider: 'aws_sts' }),
      grant({ state: 'failed', endedAt: T0 + 10, provider: 'constructor' }),
    ];
    const report = buildRevocationReport(OPEN, grants, NOW);
    expect(report.total).toBe(6);
    expect(report.byState).toEqual({ pending_approval: 0, issuing: 1, active: 1, revoking: 1, revoked: 1, expired: 1, failed: 1 });
    expect({ ...report.byProvider }).toEqual({
      jwt: { active: 1, expired: 1 },
      vault: { issuing: 1, revoking: 1 },
      aws_sts: { revoked: 1 },
      constructor: { failed: 1 },
    });
    // Open: only what is revoking is outstanding; issuing and active grants are simply live.
    expect(report.outstanding).toBe(1);
    expect(report.closeToAllRevokedMs).toBeNull();
  });

  it('counts every live grant of a closed incident as outstanding, and then gives no close time', () => {
    const grants = [
      grant({ state: 'pending_approval' }),
      grant({ state: 'issuing' }),
      grant({ state: 'active' }),
      grant({ state: 'revoking' }),
      revoked(T0 + 1200),
    ];
    // The valid case first: each kind alone is one outstanding.
    for (const g of grants.slice(0, 4)) expect(buildRevocationReport(CLOSED, [g], NOW).outstanding).toBe(1);
    const report = buildRevocationReport(CLOSED, grants, NOW);
    expect(report.outstanding).toBe(4);
    expect(report.closeToAllRevokedMs).toBeNull();
  });

  it('splits revoked grants into confirmed and unconfirmed, and counts the unconfirmed of a propagating provider as denied', () => {
    const grants = [
      revoked(T0 + 1100, { provider: 'aws_sts', revocationConfirmed: false }),
      revoked(T0 + 1100, { provider: 'aws_sts', revocationConfirmed: true }),
      revoked(T0 + 1100, { provider: 'vault', revocationConfirmed: false }),
      revoked(T0 + 1100, { provider: 'vault' }),
      grant({ state: 'revoking', provider: 'aws_sts' }),
    ];
    const propagates = (provider: string): boolean => provider === 'aws_sts';
    const report = buildRevocationReport(CLOSED, grants, NOW, propagates);
    expect(report.confirmed).toBe(2);
    expect(report.unconfirmed).toBe(2);
    // Only the unconfirmed aws_sts one: not the confirmed one, not vault's, not the one still revoking.
    expect(report.deniedPendingPropagation).toBe(1);
    // Without a propagating provider, none.
    expect(buildRevocationReport(CLOSED, grants, NOW).deniedPendingPropagation).toBe(0);
  });

  it('gives the first and the last revocation, whatever the order, and skips a revoked grant without an end', () => {
    const grants = [revoked(T0 + 1500), revoked(T0 + 1100), revoked(undefined), revoked(T0 + 1900), revoked(T0 + 1300)];
    const report = buildRevocationReport(CLOSED, grants, NOW);
    expect(report.firstRevokedAt).toBe(T0 + 1100);
    expect(report.lastRevokedAt).toBe(T0 + 1900);
    expect(report.closeToAllRevokedMs).toBe(900);
    // A single one is both.
    expect(buildRevocationReport(CLOSED, [revoked(T0 + 1400)], NOW)).toMatchObject({
      firstRevokedAt: T0 + 1400,
      lastRevokedAt: T0 + 1400,
      closeToAllRevokedMs: 400,
    });
    // An expired grant is no revocation.
    expect(buildRevocationReport(CLOSED, [grant({ state: 'expired', endedAt: T0 + 1400 })], NOW)).toMatchObject({
      firstRevokedAt: null,
      lastRevokedAt: null,
    });
  });

  it('measures close → all revoked to the last terminal grant: revoked, failed, or expired at the earlier of its end and expiry', () => {
    // The last to end is a failed grant.
    expect(
      buildRevocationReport(CLOSED, [revoked(T0 + 1200), grant({ state: 'failed', endedAt: T0 + 1700 })], NOW).closeToAllRevokedMs,
    ).toBe(700);
    // An expired grant ends at its expiresAt when its recorded end is later (the sweep ran after it expired)…
    const late = grant({ state: 'expired', expiresAt: T0 + 1600, endedAt: T0 + 5000 });
    expect(buildRevocationReport(CLOSED, [revoked(T0 + 1200), late], NOW).closeToAllRevokedMs).toBe(600);
    // …at its recorded end when that is earlier…
    const early = grant({ state: 'expired', expiresAt: T0 + 9000, endedAt: T0 + 1450 });
    expect(buildRevocationReport(CLOSED, [revoked(T0 + 1200), early], NOW).closeToAllRevokedMs).toBe(450);
    // …and at its expiresAt with no recorded end (an active grant past expiry).
    const swept = grant({ state: 'active', expiresAt: T0 + 1800 });
    expect(buildRevocationReport(CLOSED, [revoked(T0 + 1200), swept], NOW).closeToAllRevokedMs).toBe(800);
    // A revoked grant with no end does not count; nothing ended after the close gives 0, never negative.
    expect(buildRevocationReport(CLOSED, [revoked(undefined)], NOW).closeToAllRevokedMs).toBe(0);
    expect(buildRevocationReport(CLOSED, [revoked(T0 + 500)], NOW).closeToAllRevokedMs).toBe(0);
    // A closed incident with no grants: 0 from the close.
    expect(buildRevocationReport(CLOSED, [], NOW).closeToAllRevokedMs).toBe(0);
    // The largest end wins over earlier ones listed after it.
    expect(buildRevocationReport(CLOSED, [revoked(T0 + 1900), revoked(T0 + 1200)], NOW).closeToAllRevokedMs).toBe(900);
  });
});
