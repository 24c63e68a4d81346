/** One agent: its quarantine, its grants in every incident, and the quarantine / lift switch. */
import { api, enc } from '../api';
import { usePoll } from '../poll';
import type { Grant, Quarantine } from '../types';
import { GrantTable } from './grant_table';
import { Failure, Loading, Notice, ReasonForm, Time, Title } from '../ui';

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
          <GrantTable grants={read.data.grants} of="agent" />
        </>
      )}
    </section>
  );
}
