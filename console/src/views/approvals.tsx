/**
 * What waits for a human: each pending request with its agent, profile, tier, scope, TTL and the
 * agent's stated purpose. Approve and deny need a reason and the approvals.decide permission; a
 * person without it sees the requests but no buttons (and the API would refuse them anyway).
 */
import { useState } from 'preact/hooks';
import { api, enc } from '../api';
import { usePoll } from '../poll';
import { href } from '../router';
import type { Approval, Session } from '../types';
import { Failure, Loading, Notice, ReasonForm, StateBadge, Time, Title } from '../ui';

const duration = (seconds: number): string =>
  seconds >= 3600 && seconds % 3600 === 0
    ? `${seconds / 3600} h`
    : seconds >= 60 && seconds % 60 === 0
      ? `${seconds / 60} min`
      : `${seconds} s`;

export function ApprovalsView({ can, session }: { can: (permission: string) => boolean; session: Session }) {
  const subject = session.subject;
  const list = usePoll<{ approvals: Approval[] }>(can('approvals.read') ? '/v1/approvals?status=pending' : null, 2000);
  const [done, setDone] = useState<string | null>(null);
  if (!can('approvals.read')) {
    return (
      <section>
        <Title>Approvals</Title>
        <p class="muted">Reading approvals needs the approvals.read permission.</p>
      </section>
    );
  }
  return (
    <section>
      <Title>Approvals</Title>
      {done && <Notice kind="success">{done}</Notice>}
      <Failure error={list.error} />
      {list.data === null ? (
        !list.error && <Loading what="approvals" />
      ) : list.data.approvals.length === 0 ? (
        <p class="muted">Nothing waits for approval.</p>
      ) : (
        <ul class="cards">
          {list.data.approvals.map((a) => (
            <li key={a.id} class="card" data-approval={a.id}>
              <h2>
                {a.profile} <span class="badge tier">{a.tier}</span> for <a href={href.agent(a.agent)}>{a.agent}</a>
              </h2>
              <dl class="facts">
                <dt>Purpose</dt>
                <dd class="purpose">{a.purpose}</dd>
                <dt>Incident</dt>
                <dd>
                  <a href={href.incident(a.incident_id)}>{a.incident_id}</a>
                </dd>
                <dt>Provider</dt>
                <dd>{a.provider}</dd>
                <dt>Scope</dt>
                <dd>
                  <code>{JSON.stringify(a.scope)}</code>
                </dd>
                <dt>TTL</dt>
                <dd>{duration(a.ttl_seconds)}</dd>
                <dt>State</dt>
                <dd>
                  <StateBadge state={a.state} /> {a.approvals} of {a.quorum} approvals
                </dd>
                <dt>Who may approve</dt>
                <dd>{a.approvers?.join(', ')}</dd>
                <dt>Requested</dt>
                <dd>
                  <Time at={a.created_at} />, expires <Time at={a.expires_at} />
                </dd>
              </dl>
              {a.decisions && a.decisions.length > 0 && (
                <ul class="plain decisions">
                  {a.decisions.map((d) => (
                    <li key={`${d.by}-${d.at}`}>
                      {d.decision} by {d.by}: {d.reason}
                    </li>
                  ))}
                </ul>
              )}
              {can('approvals.decide') && (a.approvers ?? []).some((role) => session.roles.includes(role)) ? (
                a.decisions?.some((d) => d.by === subject) ? (
                  <p class="muted">You have decided this request.</p>
                ) : (
                  <ReasonForm
                    id={`reason-${a.id}`}
                    label="Reason (kept in the audit log)"
                    actions={[
                      { name: 'approve', label: 'Approve' },
                      { name: 'deny', label: 'Deny', danger: true },
                    ]}
                    onSubmit={async (decision, reason) => {
                      await api('POST', `/v1/approvals/${enc(a.id)}/decision`, { decision, reason });
                      setDone(`${decision === 'approve' ? 'Approved' : 'Denied'}: ${a.profile} for ${a.agent}.`);
                      await list.refresh();
                    }}
                  />
                )
              ) : (
                <p class="muted" data-testid="no-decide">
                  Deciding needs the approvals.decide permission and one of the roles that may approve ({a.approvers?.join(', ')}).
                </p>
              )}
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}
