/** Open incidents at a glance: each with its live grants, and its grants by provider and state. */
import { useState } from 'preact/hooks';
import { enc } from '../api';
import { usePoll } from '../poll';
import { href } from '../router';
import type { Incident, IncidentReadout } from '../types';
import { Failure, Loading, Severity, StateBadge, StateCounts, Time, Title } from '../ui';

type Listed = Incident & { readonly live_grants: number };

export function IncidentsView() {
  const [status, setStatus] = useState<'open' | 'closed' | 'all'>('open');
  const list = usePoll<{ incidents: Listed[] }>(`/v1/incidents?${status === 'all' ? '' : `status=${status}&`}limit=100`, 3000);
  return (
    <section>
      <Title>Incidents</Title>
      <div class="toolbar">
        <label for="incident-status">Show</label>
        <select id="incident-status" value={status} onChange={(e) => setStatus(e.currentTarget.value as typeof status)}>
          <option value="open">open incidents</option>
          <option value="closed">closed incidents</option>
          <option value="all">all incidents</option>
        </select>
      </div>
      <Failure error={list.error} />
      {list.data === null ? (
        !list.error && <Loading what="incidents" />
      ) : list.data.incidents.length === 0 ? (
        <p class="muted">No {status === 'all' ? '' : status} incidents.</p>
      ) : (
        <table class="incidents">
          <caption class="sr-only">Incidents, newest first</caption>
          <thead>
            <tr>
              <th scope="col">Incident</th>
              <th scope="col">Severity</th>
              <th scope="col">Status</th>
              <th scope="col">Opened</th>
              <th scope="col">Live grants</th>
              <th scope="col">By provider</th>
            </tr>
          </thead>
          <tbody>
            {list.data.incidents.map((incident) => (
              <tr key={incident.id} data-incident={incident.id}>
                <th scope="row">
                  <a href={href.incident(incident.id)}>{incident.title}</a>
                  <span class="muted id">{incident.id}</span>
                </th>
                <td>
                  <Severity level={incident.severity} />
                </td>
                <td>
                  <StateBadge state={incident.status} />
                </td>
                <td>
                  <Time at={incident.opened_at} />
                </td>
                <td class="num" data-testid="live-grants">
                  {incident.live_grants}
                </td>
                <td>
                  <ProviderCounts id={incident.id} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

function ProviderCounts({ id }: { id: string }) {
  const readout = usePoll<IncidentReadout>(`/v1/incidents/${enc(id)}?grants=false`, 5000);
  if (readout.data === null) return <span class="muted">…</span>;
  const providers = Object.entries(readout.data.revocation.by_provider);
  if (providers.length === 0) return <span class="muted">no grants</span>;
  return (
    <ul class="plain">
      {providers.map(([provider, counts]) => (
        <li key={provider}>
          <strong>{provider}</strong>: <StateCounts counts={counts} />
        </li>
      ))}
    </ul>
  );
}
