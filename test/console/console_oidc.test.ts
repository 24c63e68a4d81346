/**
 * The console's production sign-in in a real browser: the authorization-code flow with PKCE
 * against a local OpenID Provider (test/fakes/oidc/, checked by python3-authlib), the token it
 * returns verified by the broker as an operator token like any other. Then one thing changes at a
 * time: a callback this tab did not start is refused, and a person the IdP gives no role sees no
 * action and is refused by the API.
 */
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { TestBroker } from '../support/broker_harness.js';
import { buildConsole, launchBrowser, startConsoleBroker } from '../support/console_world.js';
import { codeFlowTokens } from '../fakes/oidc/code_flow.js';
import { startFakeIdp, type FakeIdp } from '../fakes/oidc/idp.js';
import { OPERATOR_AUDIENCE } from '../support/test_config.js';

// Callbacks given to page.evaluate run in the browser: this names its globals for the type checker (the suite has no DOM lib).
declare const localStorage: { length: number }, sessionStorage: { length: number }, document: { cookie: string };

const CLIENT = 'quartermaster-console';

let built: Awaited<ReturnType<typeof buildConsole>>;
let idp: FakeIdp;
let qm: TestBroker;
let browser: Browser;
/** Filled once the broker listens: its /console/ is the one redirect URI the IdP knows. */
const redirectUris: string[] = [];

beforeAll(async () => {
  built = await buildConsole();
  idp = await startFakeIdp({
    clientId: CLIENT,
    redirectUris,
    accessTokenAudience: OPERATOR_AUDIENCE,
    users: { 'erin@example.com': { roles: ['operator'] }, 'frank@example.com': { roles: [] } },
  });
  qm = await startConsoleBroker(built.dir, {
    operators: { issuer: idp.url, keys: { jwksUri: `${idp.url}/jwks` }, allowedClients: [CLIENT] },
    console: { assetsDir: built.dir, oidc: { issuer: idp.url, clientId: CLIENT, scopes: ['openid', 'profile'] } },
  });
  redirectUris.push(`${qm.url}/console/`);
  browser = await launchBrowser();
}, 120_000);
afterAll(async () => {
  await browser?.close();
  await qm?.stop();
  await idp?.close();
  built?.remove();
});

async function newPage(): Promise<Page> {
  const page = await (await browser.newContext()).newPage();
  page.setDefaultTimeout(15_000);
  return page;
}

/** Opens an incident with an operator token the IdP issued (the dev issuer is not trusted here). */
async function openIncident(id: string, title: string): Promise<void> {
  const { access_token: token } = await codeFlowTokens(idp, {
    clientId: CLIENT,
    redirectUri: redirectUris[0] ?? '',
    username: 'erin@example.com',
  });
  const opened = await qm.request('POST', '/v1/incidents', { token, body: { id, title, severity: 'sev2' } });
  expect(opened.status).toBe(201);
}

/** Signs in as a person would: the console's button, the IdP's form, back to the console. */
async function signInAtIdp(page: Page, username: string): Promise<void> {
  await page.goto(`${qm.url}/console/#/approvals`);
  await page.getByRole('button', { name: `Sign in with ${new URL(idp.url).host}` }).click();
  await page.getByLabel('Username').fill(username);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByTestId('subject').filter({ hasText: username }).waitFor();
}

it('signs a responder in through the IdP with PKCE, and the broker accepts the token it got', async () => {
  await openIncident('INC-OIDC', 'Login anomalies on the SSO gateway');
  const before = idp.tokenRequests.length;
  const page = await newPage();
  await signInAtIdp(page, 'erin@example.com');

  // Back where the sign-in started, with the code gone from the address bar and no storage left.
  expect(new URL(page.url()).search).toBe('');
  expect(new URL(page.url()).hash).toBe('#/approvals');
  await page.getByRole('heading', { level: 1, name: 'Approvals' }).waitFor();
  expect(await page.evaluate(() => [localStorage.length, sessionStorage.length, document.cookie])).toEqual([0, 0, '']);
  expect(await page.getByText('Development sign-in').count()).toBe(0);
  expect(idp.tokenRequests.slice(before)).toEqual([{ grantType: 'authorization_code', clientId: CLIENT, ok: true }]);

  // The token works on the API like any operator token: the incident list shows the incident.
  await page.getByRole('link', { name: 'Incidents' }).click();
  await page.getByRole('link', { name: 'Login anomalies on the SSO gateway' }).waitFor();
  expect(idp.unexpected).toEqual([]);
});

it('refuses a callback this tab did not start, and signs nobody in', async () => {
  const before = idp.tokenRequests.length;
  const page = await newPage();
  await page.goto(`${qm.url}/console/?code=stolen-code&state=forged-state&iss=${encodeURIComponent(idp.url)}`);
  await page.getByRole('alert').filter({ hasText: 'this sign-in was not started from this tab' }).waitFor();
  expect(await page.getByTestId('subject').count()).toBe(0);
  await page.getByRole('button', { name: `Sign in with ${new URL(idp.url).host}` }).waitFor();
  expect(new URL(page.url()).search).toBe('');
  // Nothing was redeemed: the stolen code never reached the token endpoint.
  expect(idp.tokenRequests.length).toBe(before);
});

it('refuses a callback whose state is not the one this tab sent, and redeems nothing', async () => {
  const before = idp.tokenRequests.length;
  const page = await newPage();
  await page.goto(`${qm.url}/console/`);
  await page.getByRole('button', { name: `Sign in with ${new URL(idp.url).host}` }).click();
  // At the IdP: this tab holds a pending sign-in. A callback with a code but another state arrives.
  await page.getByLabel('Username').waitFor();
  await page.goto(`${qm.url}/console/?code=injected-code&state=not-the-one-sent&iss=${encodeURIComponent(idp.url)}`);
  await page.getByRole('alert').waitFor();
  expect(await page.getByRole('alert').textContent()).toMatch(/state/iu);
  expect(await page.getByTestId('subject').count()).toBe(0);
  expect(idp.tokenRequests.length).toBe(before);
  expect(await page.evaluate(() => sessionStorage.length)).toBe(0);
});

it('shows a person the IdP gives no role no action, and the API refuses them', async () => {
  await openIncident('INC-OIDC-2', 'Token replay from an unknown ASN');
  const page = await newPage();
  await signInAtIdp(page, 'frank@example.com');
  await page.getByText('Reading approvals needs the approvals.read permission.').waitFor();
  // The incident list is asked for with frank's token, and the API refuses it (403), which the page shows.
  await page.getByRole('link', { name: 'Incidents' }).click();
  await page.getByRole('alert').filter({ hasText: 'the incidents.read permission is required' }).waitFor();
  expect(await page.getByRole('link', { name: 'Token replay from an unknown ASN' }).count()).toBe(0);
});
