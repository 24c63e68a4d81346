/** A table of grants: on an incident's page each links its agent, on an agent's page its incident. */
import { href } from '../router';
import type { Grant } from '../types';
import { StateBadge, Time } from '../ui';

export function GrantTable({ grants, of }: { grants: readonly Grant[]; of: 'incident' | 'agent' }) {
  if (grants.length === 0) return <p class="muted">No grants.</p>;
  return (
    <table class="grants">
      <caption class="sr-only">Grants of this {of}</caption>
      <thead>
        <tr>
          <th scope="col">Grant</th>
          <th scope="col">{of === 'incident' ? 'Agent' : 'Incident'}</th>
          <th scope="col">Profile</th>
          <th scope="col">Provider</th>
          <th scope="col">State</th>
          <th scope="col">Expires</th>
        </tr>
      </thead>
      <tbody>
        {grants.map((g) => (
          <tr key={g.id}>
            <th scope="row" class="id">
              {g.id}
            </th>
            <td>
              {of === 'incident' ? <a href={href.agent(g.agent)}>{g.agent}</a> : <a href={href.incident(g.incident_id)}>{g.incident_id}</a>}
            </td>
            <td>{g.profile}</td>
            <td>{g.provider}</td>
            <td>
              <StateBadge state={g.state} />
            </td>
            <td>
              <Time at={g.expires_at} />
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
