/**
 * Signing in (docs/console.md "Sign-in"). Production: the human IdP's authorization-code flow
 * with PKCE (S256), run with oauth4webapi, the console being a public client with no secret. The
 * PKCE verifier, state and nonce live in sessionStorage only for the round trip to the IdP (the
 * page is gone while the IdP has the user) and are removed when it returns; the token the broker
 * gets is kept in memory only (api.ts). Development: the dev issuer mints a token for the name and
 * roles typed in (POST /v1/console/dev-token, served only in development mode).
 */
import * as oauth from 'oauth4webapi';
import { api, setToken } from './api';
import type { SignInMethod } from './types';

type OidcMethod = Extract<SignInMethod, { kind: 'oidc' }>;

const PENDING_KEY = 'quartermaster.console.pkce';

interface Pending {
  readonly verifier: string;
  readonly state: string;
  readonly nonce: string;
  /** Where the person was when they signed in (a hash route), restored afterwards. */
  readonly returnTo: string;
}

/** The page's own address without query or fragment: the redirect URI registered at the IdP. */
export const redirectUri = (): string => `${location.origin}/console/`;

const isLoopback = (url: URL): boolean => ['127.0.0.1', '[::1]', 'localhost'].includes(url.hostname);

async function authorizationServer(method: OidcMethod): Promise<oauth.AuthorizationServer> {
  const issuer = new URL(method.issuer);
  // oauth4webapi refuses plain http; an http issuer can only be a loopback one (the broker's config refuses others in production).
  const options = issuer.protocol === 'http:' && isLoopback(issuer) ? { [oauth.allowInsecureRequests]: true } : {};
  const response = await oauth.discoveryRequest(issuer, { algorithm: 'oidc', ...options });
  return oauth.processDiscoveryResponse(issuer, response);
}

const insecureOptions = (as: oauth.AuthorizationServer) => {
  const tokenEndpoint = as.token_endpoint === undefined ? null : new URL(as.token_endpoint);
  return tokenEndpoint !== null && tokenEndpoint.protocol === 'http:' && isLoopback(tokenEndpoint)
    ? { [oauth.allowInsecureRequests]: true }
    : {};
};

/** Leaves for the IdP's authorization endpoint; the browser comes back to /console/?code=…&state=…. */
export async function startOidcSignIn(method: OidcMethod): Promise<void> {
  const as = await authorizationServer(method);
  if (as.authorization_endpoint === undefined) throw new Error('the IdP metadata names no authorization_endpoint');
  const verifier = oauth.generateRandomCodeVerifier();
  const pending: Pending = {
    verifier,
    state: oauth.generateRandomState(),
    nonce: oauth.generateRandomNonce(),
    returnTo: location.hash,
  };
  sessionStorage.setItem(PENDING_KEY, JSON.stringify(pending));
  const url = new URL(as.authorization_endpoint);
  const params = {
    ...method.authorization_params,
    client_id: method.client_id,
    redirect_uri: redirectUri(),
    response_type: 'code',
    scope: method.scopes.join(' '),
    state: pending.state,
    nonce: pending.nonce,
    code_challenge: await oauth.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
  };
  for (const [name, value] of Object.entries(params)) url.searchParams.set(name, value);
  location.assign(url.href);
}

/** Whether this page load is the IdP's redirect back (a code or an error in the query). */
export const isOidcCallback = (): boolean => {
  const query = new URLSearchParams(location.search);
  return query.has('state') && (query.has('code') || query.has('error'));
};

/** Finishes the code flow on the IdP's redirect back: checks state, redeems the code with the PKCE verifier, keeps the token. */
export async function finishOidcSignIn(method: OidcMethod): Promise<void> {
  const saved = sessionStorage.getItem(PENDING_KEY);
  sessionStorage.removeItem(PENDING_KEY);
  const callback = new URL(location.href);
  // The code must not stay in the address bar or the history.
  history.replaceState(null, '', `/console/${saved === null ? '' : (JSON.parse(saved) as Pending).returnTo}`);
  // replaceState fires no hashchange: tell the router the route is the one the sign-in started from.
  window.dispatchEvent(new HashChangeEvent('hashchange'));
  if (saved === null) throw new Error('this sign-in was not started from this tab; sign in again');
  const pending = JSON.parse(saved) as Pending;
  const as = await authorizationServer(method);
  const client: oauth.Client = { client_id: method.client_id };
  const params = oauth.validateAuthResponse(as, client, callback, pending.state);
  const response = await oauth.authorizationCodeGrantRequest(
    as,
    client,
    oauth.None(),
    params,
    redirectUri(),
    pending.verifier,
    insecureOptions(as),
  );
  const result = await oauth.processAuthorizationCodeResponse(as, client, response, {
    expectedNonce: pending.nonce,
    requireIdToken: method.token === 'id_token',
  });
  const token = method.token === 'id_token' ? result.id_token : result.access_token;
  if (token === undefined || token === '') throw new Error(`the IdP's token response holds no ${method.token}`);
  setToken(token);
}

export async function devSignIn(subject: string, roles: readonly string[]): Promise<void> {
  const answer = await api<{ token: string }>('POST', '/v1/console/dev-token', { subject, roles });
  setToken(answer.token);
}
