/** Small pieces every view uses. Everything the API returns is rendered as text, never as markup. */
import type { ComponentChildren } from 'preact';
import { useState } from 'preact/hooks';
import { ApiError } from './api';

export function Notice({ kind, children }: { kind: 'error' | 'info' | 'success'; children: ComponentChildren }) {
  return (
    <p class={`notice ${kind}`} role={kind === 'error' ? 'alert' : 'status'}>
      {children}
    </p>
  );
}

/** What went wrong with a call, with the broker's stable error code. */
export function Failure({ error }: { error: ApiError | Error | null }) {
  if (error === null) return null;
  return (
    <Notice kind="error">
      {error.message}
      {error instanceof ApiError && <span class="code"> ({error.code})</span>}
    </Notice>
  );
}

/** A view's heading: focusable, so a route change can move focus to it. */
export const Title = ({ children }: { children: ComponentChildren }) => <h1 tabIndex={-1}>{children}</h1>;

export const Loading = ({ what }: { what: string }) => <p class="muted">Loading {what}…</p>;

const timeFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'medium' });

export function Time({ at }: { at: string | undefined }) {
  if (at === undefined) return <span class="muted">—</span>;
  return <time dateTime={at}>{timeFormat.format(new Date(at))}</time>;
}

export const StateBadge = ({ state }: { state: string }) => <span class={`badge state-${state}`}>{state.replace(/_/gu, ' ')}</span>;

export const Severity = ({ level }: { level: string }) => <span class={`badge sev-${level}`}>{level}</span>;

/**
 * A reason, required, and the actions that take it (approve / deny, quarantine / lift, close).
 * The buttons stay disabled until there is a reason; the broker requires one too.
 */
export function ReasonForm(props: {
  id: string;
  label: string;
  actions: readonly { readonly name: string; readonly label: string; readonly danger?: boolean }[];
  onSubmit: (action: string, reason: string) => Promise<void>;
}) {
  const [reason, setReason] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<Error | null>(null);
  const submit = async (action: string): Promise<void> => {
    setBusy(true);
    setError(null);
    try {
      await props.onSubmit(action, reason.trim());
      setReason('');
    } catch (err) {
      setError(err instanceof Error ? err : new Error(String(err)));
    } finally {
      setBusy(false);
    }
  };
  const empty = reason.trim() === '';
  return (
    <form
      class="reason-form"
      onSubmit={(e) => {
        e.preventDefault();
        const first = props.actions[0];
        if (first && !empty) void submit(first.name);
      }}
    >
      <label for={props.id}>{props.label}</label>
      <textarea id={props.id} required maxLength={500} rows={2} value={reason} onInput={(e) => setReason(e.currentTarget.value)} />
      <div class="actions">
        {props.actions.map((a) => (
          <button
            key={a.name}
            type="button"
            class={a.danger ? 'danger' : 'primary'}
            disabled={busy || empty}
            onClick={() => void submit(a.name)}
          >
            {a.label}
          </button>
        ))}
      </div>
      <Failure error={error} />
    </form>
  );
}

/** Counts per state as a short text list ("3 active, 1 revoked"), states with none left out. */
export function StateCounts({ counts }: { counts: Readonly<Record<string, number | undefined>> }) {
  const parts = Object.entries(counts).filter(([, n]) => (n ?? 0) > 0);
  if (parts.length === 0) return <span class="muted">none</span>;
  return (
    <span>
      {parts.map(([state, n], i) => (
        <span key={state}>
          {i > 0 && ', '}
          {n} {state.replace(/_/gu, ' ')}
        </span>
      ))}
    </span>
  );
}
