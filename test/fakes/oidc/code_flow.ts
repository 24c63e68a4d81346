/**
 * The authorization-code flow with PKCE as a script runs it against the fake OpenID Provider (the
 * browser's part done with fetch: the sign-in page, its form, the redirect not followed): for
 * tests that need an IdP-issued operator token outside the browser, such as to seed incidents.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { FakeIdp } from './idp.js';

export interface CodeFlowOptions {
  readonly clientId: string;
  readonly redirectUri: string;
  readonly username: string;
}

/** The token endpoint's answer for `username`; throws when a step does not answer as the protocol says. */
export async function codeFlowTokens(idp: FakeIdp, options: CodeFlowOptions): Promise<{ access_token: string; id_token: string }> {
  const verifier = randomBytes(32).toString('base64url');
  const authorize = new URLSearchParams({
    client_id: options.clientId,
    redirect_uri: options.redirectUri,
    response_type: 'code',
    scope: 'openid',
    state: randomBytes(8).toString('base64url'),
    code_challenge: createHash('sha256').update(verifier).digest('base64url'),
    code_challenge_method: 'S256',
  });
  const page = await fetch(`${idp.url}/authorize?${authorize}`, { redirect: 'manual' });
  const requestId = /<input type="hidden" name="request_id" value="([^"]+)">/u.exec(await page.text())?.[1];
  if (page.status !== 200 || requestId === undefined) throw new Error(`authorize: ${page.status}`);
  const form = (body: Record<string, string>) => ({
    method: 'POST',
    redirect: 'manual' as const,
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(body),
  });
  const back = await fetch(`${idp.url}/authorize`, form({ request_id: requestId, username: options.username }));
  const code = new URL(back.headers.get('location') ?? 'http://invalid/').searchParams.get('code');
  if (back.status !== 302 || code === null) throw new Error(`sign-in: ${back.status}`);
  const token = await fetch(
    `${idp.url}/token`,
    form({
      grant_type: 'authorization_code',
      code,
      redirect_uri: options.redirectUri,
      client_id: options.clientId,
      code_verifier: verifier,
    }),
  );
  if (token.status !== 200) throw new Error(`token: ${token.status} ${await token.text()}`);
  return (await token.json()) as { access_token: string; id_token: string };
}
