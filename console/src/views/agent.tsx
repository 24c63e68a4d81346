/** One agent: its quarantine, its grants in every incident, and the quarantine / lift switch. */
import { api, enc } from '../api';
import { usePoll } from '../poll';
import { href } from '../router';
import type { Grant, Quarantine } from '../types';
import { Failure, Loading, Notice, ReasonForm, StateBadge, Time, Title } from '../ui';

interface AgentAnswer {
  readonly agent: string;
  readonly quarantine: Quarantine;
  readonly grants: readonly Grant[];
}

export function AgentView({ agent, can }: { agent: string; can: (permission: string) => boolean }) {
  const read = usePoll<AgentAnswer>(`/v1/agents/${enc(agent)}`, 3000);
  const q = read.data?.quarantine;
  return (
    <section>
      <Title>Agent {agent}</Title>
      <Failure error={read.error} />
      {read.data === null || q === undefined ? (
        !read.error && <Loading what="the agent" />
      ) : (
        <>
          {q.state === 'quarantined' ? (
            <Notice kind="error">
              Quarantined <Time at={q.at} /> by {q.by}: {q.reason}. Every grant is revoked and new ones are refused.
            </Notice>
          ) : (
            <p data-testid="quarantine-state">Not quarantined{q.state === 'lifted' ? ` (lifted by ${q.by}: ${q.reason})` : ''}.</p>
          )}
          {can('agents.quarantine') && (
            <ReasonForm
              id="quarantine-reason"
              label={
                q.state === 'quarantined' ? 'Reason to lift the quarantine' : 'Reason to quarantine (revokes every grant of this agent)'
              }
              actions={
                q.state === 'quarantined'
                  ? [{ name: 'lift', label: 'Lift quarantine' }]
                  : [{ name: 'quarantine', label: 'Quarantine agent', danger: true }]
              }
              onSubmit={async (action, reason) => {
                await api('POST', `/v1/agents/${enc(agent)}/quarantine${action === 'lift' ? '/lift' : ''}`, { reason });
                await read.refresh();
              }}
            />
          )}
          <h2>Grants in every incident</h2>
          {read.data.grants.length === 0 ? (
            <p class="muted">No grants.</p>
          ) : (
            <table>
              <caption class="sr-only">Grants of this agent</caption>
              <thead>
                <tr>
                  <th scope="col">Grant</th>
                  <th scope="col">Incident</th>
                  <th scope="col">Profile</th>
                  <th scope="col">Provider</th>
                  <th scope="col">State</th>
                  <th scope="col">Expires</th>
                </tr>
              </thead>
              <tbody>
                {read.data.grants.map((g) => (
                  <tr key={g.id}>
                    <th scope="row" class="id">
                      {g.id}
                    </th>
                    <td>
                      <a href={href.incident(g.incident_id)}>{g.incident_id}</a>
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
          )}
        </>
      )}
    </section>
  );
}
