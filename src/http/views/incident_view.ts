/** How an incident and its revocation report look to HTTP clients. */
import type { IncidentReadout } from '../../incidents/read_incident.js';
import type { Incident } from '../../model.js';
import { toGrantView } from './grant_view.js';

const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());

export function toIncidentView(incident: Incident) {
  return {
    id: incident.id,
    source: incident.source,
    title: incident.title,
    severity: incident.severity,
    status: incident.status,
    opened_at: new Date(incident.openedAt).toISOString(),
    opened_by: incident.openedBy,
    ...(incident.agents === undefined ? {} : { agents: incident.agents }),
    ...(incident.closedAt !== undefined ? { closed_at: new Date(incident.closedAt).toISOString() } : {}),
    ...(incident.closedBy !== undefined ? { closed_by: incident.closedBy } : {}),
    ...(incident.major === undefined
      ? {}
      : {
          major: {
            started_at: new Date(incident.major.startedAt).toISOString(),
            ends_at: new Date(incident.major.endsAt).toISOString(),
            by: incident.major.by,
            reason: incident.major.reason,
          },
        }),
  };
}

/** `grants: false` leaves the grant list out (pollers of a large close, docs/performance.md S4). */
export function toIncidentReportView(readout: IncidentReadout, options: { readonly grants: boolean } = { grants: true }) {
  const { report } = readout;
  return {
    incident: toIncidentView(readout.incident),
    ...(options.grants
      ? {
          grants: readout.grants.map((g) => {
            const view = toGrantView(g, readout.at);
            // A Deny written, effective after the provider's propagation: never shown as dead at once.
            return view.state === 'revoked' && !g.revocationConfirmed && readout.propagates(g.provider)
              ? { ...view, revocation_effect: 'denied_pending_propagation' }
              : view;
          }),
        }
      : {}),
    revocation: {
      total: report.total,
      by_state: report.byState,
      by_provider: report.byProvider,
      confirmed: report.confirmed,
      unconfirmed: report.unconfirmed,
      denied_pending_propagation: report.deniedPendingPropagation,
      outstanding: report.outstanding,
      first_revoked_at: iso(report.firstRevokedAt),
      last_revoked_at: iso(report.lastRevokedAt),
      close_to_all_revoked_ms: report.closeToAllRevokedMs,
    },
  };
}
