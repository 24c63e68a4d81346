/** The console's shell: sign-in, the signed-in person's session, the navigation and the current view. */
import { useEffect, useRef, useState } from 'preact/hooks';
import { api, ApiError, onSessionEnded, signOut } from './api';
import { finishOidcSignIn, isOidcCallback } from './auth';
import { href, useRoute, type Route } from './router';
import type { Session, SignInMethod } from './types';
import { Notice } from './ui';
import { AgentView } from './views/agent';
import { ApprovalsView } from './views/approvals';
import { IncidentView } from './views/incident';
import { IncidentsView } from './views/incidents';
import { ReportView } from './views/report';
import { SignInView } from './views/sign_in';

const messageOf = (err: unknown): string => (err instanceof Error ? err.message : String(err));

export function App() {
  const [method, setMethod] = useState<SignInMethod | null>(null);
  const [session, setSession] = useState<Session | null>(null);
  const [problem, setProblem] = useState<string | null>(null);
  const route = useRoute();

  const startSession = async (): Promise<void> => {
    setSession(await api<Session>('GET', '/v1/session'));
    setProblem(null);
  };

  useEffect(() => {
    void (async () => {
      try {
        const found = await api<SignInMethod>('GET', '/v1/console/sign-in');
        setMethod(found);
        if (found.kind === 'oidc' && isOidcCallback()) {
          await finishOidcSignIn(found);
          await startSession();
        }
      } catch (err) {
        setProblem(err instanceof ApiError && err.code === 'ERR_CONSOLE_OFF' ? 'The console is off on this broker.' : messageOf(err));
      }
    })();
  }, []);

  useEffect(
    () =>
      onSessionEnded(() => {
        setSession(null);
        setProblem('Your sign-in has ended (the token expired or was refused). Sign in again.');
      }),
    [],
  );

  const leave = (): void => {
    signOut();
    setSession(null);
  };

  return (
    <>
      <a
        class="skip"
        href="#main"
        onClick={(e) => {
          // Not a route: the hash router would read #main as the incident list.
          e.preventDefault();
          document.getElementById('main')?.focus();
        }}
      >
        Skip to content
      </a>
      <header class="top">
        <p class="brand">
          <a href={href.incidents()}>Quartermaster</a> <span class="muted">console</span>
        </p>
        {method?.kind === 'development' && (
          <p class="dev-banner" role="note">
            Development sign-in: tokens from the local development issuer. Not for production.
          </p>
        )}
        {session && (
          <nav aria-label="Main">
            <ul>
              <li>
                <a href={href.incidents()} aria-current={route.view === 'incidents' ? 'page' : undefined}>
                  Incidents
                </a>
              </li>
              <li>
                <a href={href.approvals()} aria-current={route.view === 'approvals' ? 'page' : undefined}>
                  Approvals
                </a>
              </li>
            </ul>
            <p class="who">
              Signed in as <strong data-testid="subject">{session.subject}</strong>{' '}
              <span class="muted">({session.roles.join(', ') || 'no roles'})</span>{' '}
              <button type="button" class="link" onClick={leave}>
                Sign out
              </button>
            </p>
          </nav>
        )}
      </header>
      <main id="main" tabIndex={-1}>
        {problem && <Notice kind="error">{problem}</Notice>}
        {session ? (
          <Current route={route} session={session} />
        ) : (
          method && <SignInView method={method} onSignedIn={() => startSession().catch((err) => setProblem(messageOf(err)))} />
        )}
      </main>
    </>
  );
}

function Current({ route, session }: { route: Route; session: Session }) {
  const main = useRef<HTMLDivElement>(null);
  // A new view moves focus to its heading, so keyboard and screen-reader users land on what changed.
  useEffect(() => {
    main.current?.querySelector<HTMLElement>('h1')?.focus();
  }, [route]);
  const can = (permission: string): boolean => session.permissions.includes(permission);
  return (
    <div ref={main}>
      {route.view === 'incidents' && <IncidentsView />}
      {route.view === 'incident' && <IncidentView key={route.id} id={route.id} can={can} />}
      {route.view === 'report' && <ReportView key={route.id} id={route.id} />}
      {route.view === 'approvals' && <ApprovalsView can={can} session={session} />}
      {route.view === 'agent' && <AgentView key={route.agent} agent={route.agent} can={can} />}
    </div>
  );
}
