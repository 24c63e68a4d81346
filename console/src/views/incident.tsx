/**
 * One incident: its live grants by provider and state, its grants, what waits for approval, the
 * timeline from the audit log with the hash chain's verdict, and the close — with a confirmation
 * that says how many credentials die, then progress until every one is revoked.
 */
import { useEffect, useRef, useState } from 'preact/hooks';
import { api, ApiError, enc } from '../api';
import { usePoll } from '../poll';
import { href } from '../router';
import { GRANT_STATE_ORDER, liveCount, type Approval, type AuditEvent, type ChainVerdict, type IncidentReadout } from '../types';
import { Failure, Loading, Notice, Severity, StateBadge, Time, Title } from '../ui';
import { GrantTable } from './grant_table';

interface Props {
  readonly id: string;
  readonly can: (permission: string) => boolean;
}

/** While a close is under way: how many grants were live when it started. */
interface Closing {
  readonly total: number;
}

export function IncidentView({ id, can }: Props) {
  const [closing, setClosing] = useState<Closing | null>(null);
  const [fast, setFast] = useState(false);
  // The counts are polled on their own (every 500 ms while a close revokes, and without the grant
  // list of a large incident); the grant list, which can be long, less often.
  const readout = usePoll<IncidentReadout>(`/v1/incidents/${enc(id)}?grants=false`, fast ? 500 : 3000);
  const listed = usePoll<IncidentReadout>(`/v1/incidents/${enc(id)}?grants=true`, 5000);
  const closed = readout.data?.incident.status === 'closed';
  const outstanding = readout.data?.revocation.outstanding ?? 0;
  // Revoking: closed here or by anyone else (a webhook, another responder), with grants not yet revoked.
  const revoking = closed && outstanding > 0;
  const refreshList = listed.refresh;
  useEffect(() => {
    setFast(revoking || (closing !== null && !closed));
    if (closed && !revoking) void refreshList();
  }, [revoking, closing, closed, refreshList]);
  const grants = listed.data?.grants;

  if (readout.data === null) {
    return (
      <section>
        <Title>Incident {id}</Title>
        <Failure error={readout.error} />
        {!readout.error && <Loading what="the incident" />}
      </section>
    );
  }
  const { incident, revocation } = readout.data;
  const live = liveCount(revocation.by_state);
  return (
    <section>
      <Title>{incident.title}</Title>
      <dl class="facts">
        <dt>Incident</dt>
        <dd>{incident.id}</dd>
        <dt>Severity</dt>
        <dd>
          <Severity level={incident.severity} />
        </dd>
        <dt>Status</dt>
        <dd>
          <StateBadge state={incident.status} />
        </dd>
        <dt>Opened</dt>
        <dd>
          <Time at={incident.opened_at} /> by {incident.opened_by} ({incident.source})
        </dd>
        {incident.closed_at && (
          <>
            <dt>Closed</dt>
            <dd>
              <Time at={incident.closed_at} /> by {incident.closed_by}
            </dd>
          </>
        )}
        {incident.major && (
          <>
            <dt>Major-incident mode</dt>
            <dd>
              until <Time at={incident.major.ends_at} />, by {incident.major.by}: {incident.major.reason}
            </dd>
          </>
        )}
      </dl>
      <p>
        <a href={href.report(incident.id)}>Post-incident report</a>
      </p>
      <Failure error={readout.error} />

      <h2>Credentials</h2>
      <p aria-live="polite" data-testid="live-count">
        {live} live {live === 1 ? 'credential' : 'credentials'} of {revocation.total}
      </p>
      <ProviderTable byProvider={revocation.by_provider} />

      {closing ? (
        <CloseProgress total={Math.max(closing.total, revocation.outstanding)} outstanding={revocation.outstanding} closed={closed} />
      ) : revoking ? (
        <p class="progress" role="status" aria-live="polite" data-testid="revoking">
          Closed: {revocation.outstanding} {revocation.outstanding === 1 ? 'credential is' : 'credentials are'} still being revoked.
        </p>
      ) : (
        incident.status === 'open' &&
        can('incidents.close') && (
          <CloseIncident
            id={incident.id}
            live={live}
            reread={readout.refresh}
            onClosed={(total) => {
              setClosing({ total });
              void readout.refresh();
            }}
          />
        )
      )}

      {can('approvals.read') && <IncidentApprovals id={incident.id} />}

      <h2>Grants</h2>
      <GrantTable grants={grants ?? []} of="incident" />

      <h2>Timeline</h2>
      {can('audit.read') ? <Timeline id={incident.id} /> : <p class="muted">The timeline needs the audit.read permission.</p>}
    </section>
  );
}

function ProviderTable({ byProvider }: { byProvider: IncidentReadout['revocation']['by_provider'] }) {
  const providers = Object.entries(byProvider);
  if (providers.length === 0) return <p class="muted">No grants yet.</p>;
  const states = GRANT_STATE_ORDER.filter((s) => providers.some(([, counts]) => (counts[s] ?? 0) > 0));
  return (
    <table class="counts">
      <caption class="sr-only">Grants by provider and state</caption>
      <thead>
        <tr>
          <th scope="col">Provider</th>
          {states.map((s) => (
            <th scope="col" key={s}>
              {s.replace(/_/gu, ' ')}
            </th>
          ))}
        </tr>
      </thead>
      <tbody>
        {providers.map(([provider, counts]) => (
          <tr key={provider}>
            <th scope="row">{provider}</th>
            {states.map((s) => (
              <td class="num" key={s} data-provider={provider} data-state={s}>
                {counts[s] ?? 0}
              </td>
            ))}
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function CloseIncident(props: { id: string; live: number; reread: () => Promise<void>; onClosed: (total: number) => void }) {
  const { id, live, reread, onClosed } = props;
  const dialog = useRef<HTMLDialogElement>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const [busy, setBusy] = useState(false);
  // The count the person confirms: read again as the dialog opens, then held, not a number that moves under them.
  const [confirmed, setConfirmed] = useState(live);
  const [opening, setOpening] = useState(false);
  useEffect(() => {
    if (opening) {
      setConfirmed(live);
      setOpening(false);
      dialog.current?.showModal();
    }
  }, [opening, live]);
  const open = async (): Promise<void> => {
    setError(null);
    await reread();
    setOpening(true);
  };
  const close = async (): Promise<void> => {
    setBusy(true);
    try {
      // N of the progress: the grants this close turned to revoking, as the broker counted them.
      const answer = await api<IncidentReadout & { grants_to_revoke: number }>('POST', `/v1/incidents/${enc(id)}/close`);
      dialog.current?.close();
      onClosed(answer.grants_to_revoke);
    } catch (err) {
      setError(err instanceof ApiError ? err : new ApiError(0, 'ERR_NETWORK', String(err)));
    } finally {
      setBusy(false);
    }
  };
  return (
    <div class="danger-zone">
      <button type="button" class="danger" onClick={() => void open()}>
        Close incident…
      </button>
      <dialog ref={dialog} aria-labelledby="close-title" aria-describedby="close-what">
        <h2 id="close-title">Close incident {id}?</h2>
        <p id="close-what">
          Closing revokes{' '}
          <strong data-testid="close-count">
            {confirmed} live {confirmed === 1 ? 'credential' : 'credentials'}
          </strong>{' '}
          of this incident at once, cancels its pending approvals and refuses new grants for it. It cannot be undone.
        </p>
        <Failure error={error} />
        <div class="actions">
          <button type="button" onClick={() => dialog.current?.close()}>
            Cancel
          </button>
          <button type="button" class="danger" disabled={busy} onClick={() => void close()}>
            Close and revoke {confirmed}
          </button>
        </div>
      </dialog>
    </div>
  );
}

function CloseProgress({ total, outstanding, closed }: { total: number; outstanding: number; closed: boolean }) {
  const revoked = Math.max(0, total - outstanding);
  const done = closed && outstanding === 0;
  return (
    <div class="progress" role="status" aria-live="polite">
      <label for="close-progress">{done ? `All ${total} revoked` : `Revoked ${revoked} of ${total}`}</label>
      <progress id="close-progress" max={Math.max(total, 1)} value={done ? Math.max(total, 1) : revoked} />
    </div>
  );
}

function IncidentApprovals({ id }: { id: string }) {
  const pending = usePoll<{ approvals: Approval[] }>(`/v1/approvals?status=pending&incident_id=${enc(id)}`, 3000);
  const n = pending.data?.approvals.length ?? 0;
  if (n === 0) return null;
  return (
    <Notice kind="info">
      {n} {n === 1 ? 'request waits' : 'requests wait'} for approval: <a href={href.approvals()}>review</a>
    </Notice>
  );
}

const PAGE = 500;

/** The incident's audit events, oldest first, polled for new ones after the last seq seen. */
function Timeline({ id }: { id: string }) {
  const [events, setEvents] = useState<AuditEvent[]>([]);
  const [error, setError] = useState<ApiError | null>(null);
  const last = useRef<number | null>(null);
  useEffect(() => {
    setEvents([]);
    last.current = null;
    let stopped = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const fetchNew = async (): Promise<void> => {
      for (;;) {
        const after = last.current === null ? '' : `&after=${last.current}`;
        const page = await api<{ events: AuditEvent[]; next_after: number | null }>(
          'GET',
          `/v1/audit?incident=${enc(id)}&limit=${PAGE}${after}`,
        );
        if (stopped) return;
        if (page.events.length > 0) {
          last.current = page.events.at(-1)?.seq ?? last.current;
          setEvents((old) => [...old, ...page.events]);
        }
        if (page.events.length < PAGE) return;
      }
    };
    const tick = async (): Promise<void> => {
      try {
        if (!document.hidden) await fetchNew();
        setError(null);
      } catch (err) {
        setError(err instanceof ApiError ? err : new ApiError(0, 'ERR_NETWORK', String(err)));
      }
      if (!stopped) timer = setTimeout(() => void tick(), 3000);
    };
    void tick();
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  }, [id]);
  return (
    <>
      <ChainStatus />
      <Failure error={error} />
      {events.length === 0 ? (
        <p class="muted">No events yet.</p>
      ) : (
        <ol class="timeline">
          {events.map((e) => (
            <li key={e.seq} data-type={e.type}>
              <Time at={e.at} /> <span class={`badge event event-${e.type.split('.')[0] ?? ''}`}>{e.type}</span>{' '}
              <span class="actor">{e.actor}</span>
              <EventDetail event={e} />
            </li>
          ))}
        </ol>
      )}
    </>
  );
}

function EventDetail({ event }: { event: AuditEvent }) {
  const fields: [string, string][] = [];
  if (event.grantId) fields.push(['grant', event.grantId]);
  if (event.profile) fields.push(['profile', event.profile]);
  if (event.reason) fields.push(['reason', event.reason]);
  for (const [k, v] of Object.entries(event.data ?? {})) fields.push([k, Array.isArray(v) ? v.join(', ') : String(v)]);
  if (fields.length === 0) return null;
  return (
    <dl class="event-data">
      {fields.map(([k, v]) => (
        <div key={k}>
          <dt>{k}</dt>
          <dd>{v}</dd>
        </div>
      ))}
    </dl>
  );
}

/** The whole log's hash-chain verdict (GET /v1/audit/verify walks every event: on load and on request, not every poll). */
function ChainStatus() {
  const [verdict, setVerdict] = useState<ChainVerdict | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const [busy, setBusy] = useState(false);
  const verify = async (): Promise<void> => {
    setBusy(true);
    try {
      setVerdict(await api<ChainVerdict>('GET', '/v1/audit/verify'));
      setError(null);
    } catch (err) {
      setError(err instanceof ApiError ? err : new ApiError(0, 'ERR_NETWORK', String(err)));
    } finally {
      setBusy(false);
    }
  };
  useEffect(() => {
    void verify();
  }, []);
  return (
    <div class="chain" data-testid="chain-status">
      {verdict === null ? (
        error?.code === 'ERR_AUDIT_CHAIN_OFF' ? (
          <Notice kind="info">The audit hash chain is off on this broker: events are not chained.</Notice>
        ) : (
          <Failure error={error} />
        )
      ) : verdict.ok ? (
        <Notice kind="success">
          Audit chain verified: {verdict.events} events, sealed through #{verdict.sealed_through}
          {verdict.unsealed > 0 ? ` (${verdict.unsealed} newer not sealed yet)` : ''}, {verdict.checkpoints} signed checkpoints.
        </Notice>
      ) : (
        <Notice kind="error">
          Audit chain broken at event #{verdict.first_bad?.seq}: {verdict.first_bad?.problem} — {verdict.first_bad?.detail}
        </Notice>
      )}
      <button type="button" disabled={busy} onClick={() => void verify()}>
        Verify the chain again
      </button>
    </div>
  );
}
