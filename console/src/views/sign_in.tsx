/** Sign-in: the IdP's button in production, the development form (name and roles) in the embedded default. */
import { useState } from 'preact/hooks';
import { devSignIn, startOidcSignIn } from '../auth';
import type { SignInMethod } from '../types';
import { Failure, Title } from '../ui';

export function SignInView({ method, onSignedIn }: { method: SignInMethod; onSignedIn: () => void }) {
  const [error, setError] = useState<Error | null>(null);
  const [busy, setBusy] = useState(false);
  const run = async (action: () => Promise<void>): Promise<void> => {
    setBusy(true);
    setError(null);
    try {
      await action();
    } catch (err) {
      setError(err instanceof Error ? err : new Error(String(err)));
      setBusy(false);
    }
  };
  if (method.kind === 'oidc') {
    return (
      <section class="sign-in">
        <Title>Sign in</Title>
        <p>Sign in with your organisation's identity provider ({new URL(method.issuer).host}).</p>
        <button type="button" class="primary" disabled={busy} onClick={() => void run(() => startOidcSignIn(method))}>
          Sign in with {new URL(method.issuer).host}
        </button>
        <Failure error={error} />
      </section>
    );
  }
  return (
    <DevSignIn
      roles={method.roles}
      busy={busy}
      error={error}
      onSubmit={(subject, roles) => run(() => devSignIn(subject, roles).then(onSignedIn))}
    />
  );
}

function DevSignIn(props: {
  roles: readonly string[];
  busy: boolean;
  error: Error | null;
  onSubmit: (subject: string, roles: string[]) => Promise<void>;
}) {
  const [subject, setSubject] = useState('');
  const [chosen, setChosen] = useState<ReadonlySet<string>>(new Set(props.roles.slice(0, 1)));
  const toggle = (role: string): void => {
    const next = new Set(chosen);
    if (next.has(role)) next.delete(role);
    else next.add(role);
    setChosen(next);
  };
  return (
    <section class="sign-in">
      <Title>Development sign-in</Title>
      <p>
        The embedded default has no identity provider: the broker's development issuer mints an operator token for the name and roles you
        choose. Production signs in at your IdP.
      </p>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          void props.onSubmit(subject.trim(), [...chosen]);
        }}
      >
        <label for="dev-subject">Your name (an e-mail address)</label>
        <input
          id="dev-subject"
          name="subject"
          type="text"
          autoComplete="username"
          required
          value={subject}
          onInput={(e) => setSubject(e.currentTarget.value)}
        />
        <fieldset>
          <legend>Roles</legend>
          {props.roles.map((role) => (
            <label key={role} class="check">
              <input type="checkbox" name="roles" value={role} checked={chosen.has(role)} onChange={() => toggle(role)} /> {role}
            </label>
          ))}
        </fieldset>
        <button type="submit" class="primary" disabled={props.busy || subject.trim() === '' || chosen.size === 0}>
          Sign in (development)
        </button>
      </form>
      <Failure error={props.error} />
    </section>
  );
}
