/**
 * The post-incident report (GET /v1/incidents/{id}/report), laid out for reading and for print:
 * per agent its grants (purpose, what decided, who is accountable, revocation time), the approvals
 * with each human's decision, the refusals and deviations; the break-glass windows; the summary.
 */
import { useEffect, useState } from 'preact/hooks';
import { api, ApiError, enc } from '../api';
import { href } from '../router';
import { Failure, Loading, StateBadge, StateCounts, Time, Title } from '../ui';

interface Report {
  readonly incident: {
    readonly id: string;
    readonly title: string;
    readonly severity: string;
    readonly status: string;
    readonly source: string;
    readonly opened_at: string;
    readonly opened_by: string;
    readonly closed_at?: string;
    readonly closed_by?: string;
  };
  readonly generated_at: string;
  readonly agents: readonly {
    readonly agent: string;
    readonly grants: readonly {
      readonly grant_id: string;
      readonly profile: string;
      readonly provider: string;
      readonly purpose: string;
      readonly issued_at: string;
      readonly ttl_seconds: number;
      readonly decided_by: readonly string[];
      readonly accountable: readonly string[];
      readonly under_major: boolean;
      readonly state: string;
      readonly revoke_reason?: string;
      readonly revocation_ms?: number;
    }[];
    readonly approvals: readonly {
      readonly approval_id: string;
      readonly profile: string;
      readonly tier: string;
      readonly purpose: string;
      readonly outcome: string;
      readonly decisions: readonly { readonly by: string; readonly decision: string; readonly reason: string; readonly at: string }[];
    }[];
    readonly denials: readonly { readonly at: string; readonly profile: string; readonly code: string; readonly repeats: number }[];
    readonly deviations: readonly {
      readonly at: string;
      readonly reason?: string;
      readonly kind?: string;
      readonly severity?: string;
      readonly source?: string;
      readonly revoked?: number;
    }[];
  }[];
  readonly break_glass: readonly {
    readonly started_at: string;
    readonly ends_at: string;
    readonly started_by: string;
    readonly reason: string;
    readonly ended_at?: string;
    readonly ended_by?: string;
    readonly grants: readonly string[];
  }[];
  readonly revocation: {
    readonly total: number;
    readonly by_state: Readonly<Record<string, number>>;
    readonly confirmed: number;
    readonly unconfirmed: number;
    readonly outstanding: number;
    readonly close_to_all_revoked_ms: number | null;
  };
}

export function ReportView({ id }: { id: string }) {
  const [report, setReport] = useState<Report | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  useEffect(() => {
    setReport(null);
    api<Report>('GET', `/v1/incidents/${enc(id)}/report`)
      .then(setReport)
      .catch((err: unknown) => setError(err instanceof ApiError ? err : new ApiError(0, 'ERR_NETWORK', String(err))));
  }, [id]);
  if (report === null) {
    return (
      <section>
        <Title>Post-incident report</Title>
        <Failure error={error} />
        {!error && <Loading what="the report" />}
      </section>
    );
  }
  const { incident, revocation } = report;
  return (
    <article class="report">
      <Title>Post-incident report: {incident.title}</Title>
      <p class="no-print">
        <a href={href.incident(incident.id)}>Back to the incident</a>{' '}
        <button type="button" onClick={() => window.print()}>
          Print
        </button>
      </p>
      <dl class="facts">
        <dt>Incident</dt>
        <dd>
          {incident.id} ({incident.severity}, {incident.status}, from {incident.source})
        </dd>
        <dt>Opened</dt>
        <dd>
          <Time at={incident.opened_at} /> by {incident.opened_by}
        </dd>
        {incident.closed_at && (
          <>
            <dt>Closed</dt>
            <dd>
              <Time at={incident.closed_at} /> by {incident.closed_by}
            </dd>
          </>
        )}
        <dt>Revocation</dt>
        <dd>
          {revocation.total} grants: <StateCounts counts={revocation.by_state} />; {revocation.confirmed} confirmed dead upstream,{' '}
          {revocation.outstanding} outstanding
          {revocation.close_to_all_revoked_ms !== null && `; close → all revoked in ${revocation.close_to_all_revoked_ms} ms`}
        </dd>
        <dt>Generated</dt>
        <dd>
          <Time at={report.generated_at} />
        </dd>
      </dl>

      {report.break_glass.length > 0 && (
        <section>
          <h2>Break-glass windows</h2>
          <ul>
            {report.break_glass.map((w) => (
              <li key={w.started_at}>
                <Time at={w.started_at} /> by {w.started_by} until {w.ended_at ? <Time at={w.ended_at} /> : <Time at={w.ends_at} />}:{' '}
                {w.reason} ({w.grants.length} grants)
              </li>
            ))}
          </ul>
        </section>
      )}

      {report.agents.length === 0 && <p class="muted">No agent asked for anything in this incident.</p>}
      {report.agents.map((section) => (
        <section key={section.agent} class="agent-section">
          <h2>{section.agent}</h2>
          {section.grants.length > 0 && (
            <table>
              <caption>Grants</caption>
              <thead>
                <tr>
                  <th scope="col">Profile</th>
                  <th scope="col">Purpose</th>
                  <th scope="col">Issued</th>
                  <th scope="col">Decided by</th>
                  <th scope="col">Accountable</th>
                  <th scope="col">State</th>
                  <th scope="col">Revocation</th>
                </tr>
              </thead>
              <tbody>
                {section.grants.map((g) => (
                  <tr key={g.grant_id}>
                    <th scope="row">
                      {g.profile}
                      {g.under_major && <span class="badge sev-critical">break-glass</span>}
                      <span class="muted id">{g.grant_id}</span>
                    </th>
                    <td>{g.purpose}</td>
                    <td>
                      <Time at={g.issued_at} />, {g.ttl_seconds} s
                    </td>
                    <td>{g.decided_by.join(', ')}</td>
                    <td>{g.accountable.join(', ')}</td>
                    <td>
                      <StateBadge state={g.state} />
                      {g.revoke_reason && <span class="muted"> {g.revoke_reason}</span>}
                    </td>
                    <td class="num">{g.revocation_ms === undefined ? '—' : `${g.revocation_ms} ms`}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
          {section.approvals.length > 0 && (
            <>
              <h3>Approvals</h3>
              <ul>
                {section.approvals.map((a) => (
                  <li key={a.approval_id}>
                    {a.profile} ({a.tier}) — {a.outcome}: “{a.purpose}”
                    <ul>
                      {a.decisions.map((d) => (
                        <li key={`${d.by}-${d.at}`}>
                          {d.decision} by {d.by} at <Time at={d.at} />: {d.reason}
                        </li>
                      ))}
                    </ul>
                  </li>
                ))}
              </ul>
            </>
          )}
          {section.denials.length > 0 && (
            <>
              <h3>Refusals</h3>
              <ul>
                {section.denials.map((d) => (
                  <li key={`${d.at}-${d.code}`}>
                    <Time at={d.at} /> {d.profile}: {d.code}
                    {d.repeats > 0 && ` (and ${d.repeats} more like it)`}
                  </li>
                ))}
              </ul>
            </>
          )}
          {section.deviations.length > 0 && (
            <>
              <h3>Deviations</h3>
              <ul>
                {section.deviations.map((d) => (
                  <li key={d.at}>
                    <Time at={d.at} /> {d.kind} ({d.severity}) from {d.source}: {d.reason}
                    {d.revoked !== undefined && `, ${d.revoked} revoked`}
                  </li>
                ))}
              </ul>
            </>
          )}
        </section>
      ))}
    </article>
  );
}
