/**
 * The responder console in a real browser (Debian's chromium through playwright-core), against a
 * running broker on the embedded default's development sign-in: a responder signs in, sees the
 * incident, approves a waiting request by keyboard alone (and the agent then collects its
 * credential), quarantines an agent, closes the incident and watches the count reach all
 * revoked. A person without the approver role sees no approve button and the API refuses them;
 * a title with markup is shown as text and the CSP blocks inline script; every view passes axe.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { builtInProviders } from '../../providers/index.js';
import type { TestBroker } from '../support/broker_harness.js';
import { gatedProvider } from '../support/gated_provider.js';
import { startRevocationGate } from '../support/revocation_gate.js';
import {
  buildConsole,
  ENRICHER,
  FIXER,
  launchBrowser,
  requestApproval,
  seedIncident,
  signIn,
  startConsoleBroker,
  tabTo,
} from '../support/console_world.js';

// Callbacks given to page.evaluate run in the browser: this names its globals for the type checker (the suite has no DOM lib).
declare const document: any, window: any, location: any, localStorage: any, sessionStorage: any;

let built: Awaited<ReturnType<typeof buildConsole>>;
let qm: TestBroker;
let browser: Browser;
const contexts: BrowserContext[] = [];

beforeAll(async () => {
  built = await buildConsole();
  qm = await startConsoleBroker(built.dir);
  browser = await launchBrowser();
}, 120_000);
afterAll(async () => {
  await browser?.close();
  await qm?.stop();
  built?.remove();
});

async function newPage(): Promise<Page> {
  const context = await browser.newContext();
  contexts.push(context);
  const page = await context.newPage();
  page.setDefaultTimeout(15_000);
  return page;
}

/** Moves to a view as a link would: within the page, so the token in its memory stays. */
const visit = (page: Page, hash: string): Promise<void> =>
  page.evaluate((h) => {
    location.hash = h;
  }, hash);

const axeSource = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

/** axe-core's WCAG 2.1 A/AA and best-practice rules on the page as it is now: the violations, by rule and target. */
async function axeViolations(page: Page): Promise<string[]> {
  // Evaluated through the DevTools protocol, not as a page script: the console's CSP stays in force.
  await page.evaluate(axeSource);
  const violations = await page.evaluate(async () => {
    const axe = (window as unknown as { axe: { run: (ctx: unknown, opts: unknown) => Promise<{ violations: any[]; passes: any[] }> } }).axe;
    const result = await axe.run(document, {
      runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice'] },
    });
    // A run that checked nothing would pass anything: it must have passed rules (contrast, labels, landmarks…).
    if (result.passes.length < 10) return [`axe checked only ${result.passes.length} rules`];
    return result.violations.map((v) => `${v.id}: ${v.nodes.map((n: { target: string[] }) => n.target.join(' ')).join(', ')}`);
  });
  return violations;
}

describe('the console, driven in chromium', () => {
  it('takes a responder from sign-in through an approval, a quarantine and a close to all revoked', async () => {
    const incident = await seedIncident(qm, 'INC-WALK', 'Checkout latency: payment API 5xx', 3, 'sev1');
    const approvalId = await requestApproval(qm, incident, 'suppress the flapping payment-api alert while the fix rolls out');
    const page = await newPage();
    await signIn(page, qm.url, 'alice@example.com');

    // The incident is there, with its live grants.
    const row = page.locator(`tr[data-incident="${incident}"]`);
    await expect.poll(() => row.getByTestId('live-grants').textContent()).toBe('3');
    await expect.poll(() => row.textContent()).toContain('jwt: 3 active');

    // Approve by keyboard alone: the nav link, the reason, the Approve button.
    await tabTo(page, page.getByRole('link', { name: 'Approvals' }));
    await page.keyboard.press('Enter');
    const card = page.locator(`[data-approval="${approvalId}"]`);
    await expect.poll(() => card.textContent()).toContain('suppress the flapping payment-api alert while the fix rolls out');
    expect(await card.textContent()).toContain('remediate');
    expect(await card.textContent()).toContain('10 min');
    await tabTo(page, card.getByLabel('Reason (kept in the audit log)'));
    await page.keyboard.type('payment-api alert is noise while the fix rolls out');
    await tabTo(page, card.getByRole('button', { name: 'Approve' }));
    await page.keyboard.press('Enter');
    await page.getByText('Approved: fix for spiffe://dev.local/agent/fixer.').waitFor();

    // The agent now gets its credential.
    const collected = await qm.request('GET', `/v1/approvals/${approvalId}`, { token: await qm.agentToken(FIXER) });
    expect(collected.status).toBe(201);
    expect(collected.body.credential).toMatchObject({ token_type: 'Bearer', access_token: expect.any(String) });
    expect(collected.body.grant.state).toBe('active');

    // The incident page links the fixer's agent page; quarantine it with a reason.
    await page.getByRole('link', { name: 'Incidents' }).click();
    await page.getByRole('link', { name: 'Checkout latency: payment API 5xx' }).click();
    await page.getByRole('heading', { level: 1, name: 'Checkout latency: payment API 5xx' }).waitFor();
    await page.getByRole('link', { name: FIXER }).click();
    await page.getByRole('heading', { name: `Agent ${FIXER}` }).waitFor();
    await page.getByLabel('Reason to quarantine (revokes every grant of this agent)').fill('acted outside its runbook');
    await page.getByRole('button', { name: 'Quarantine agent' }).click();
    await page.getByText(/Quarantined .* by alice@example.com: acted outside its runbook/u).waitFor();
    const agent = await qm.request('GET', `/v1/agents/${encodeURIComponent(FIXER)}`, { token: await qm.operatorToken() });
    expect(agent.body.quarantine).toMatchObject({ state: 'quarantined', by: 'alice@example.com', reason: 'acted outside its runbook' });
    await page.getByLabel('Reason to lift the quarantine').fill('runbook fixed, reviewed with the owner');
    await page.getByRole('button', { name: 'Lift quarantine' }).click();
    await page.getByText('Not quarantined (lifted by alice@example.com: runbook fixed, reviewed with the owner).').waitFor();

    // Close: the confirmation names the credentials that die (the enricher's three), then progress to all revoked.
    await page.getByRole('link', { name: incident }).first().click();
    await expect.poll(() => page.getByTestId('live-count').textContent()).toBe('3 live credentials of 4');
    await page.getByRole('button', { name: 'Close incident…' }).click();
    const dialog = page.getByRole('dialog', { name: `Close incident ${incident}?` });
    expect(await dialog.getByTestId('close-count').textContent()).toBe('3 live credentials');
    await dialog.getByRole('button', { name: 'Close and revoke 3' }).click();
    await page.getByText('All 3 revoked').waitFor();
    const readout = await qm.request('GET', `/v1/incidents/${incident}?grants=false`, { token: await qm.operatorToken() });
    expect(readout.body.incident.status).toBe('closed');
    expect(readout.body.revocation).toMatchObject({ outstanding: 0, by_state: { revoked: 4 } });

    // The timeline holds the whole story, and the chain verifies.
    const timeline = page.locator('ol.timeline');
    await expect.poll(() => timeline.locator('li[data-type="incident.closed"]').count(), { timeout: 10_000 }).toBe(1);
    for (const type of ['incident.opened', 'grant.issued', 'approval.requested', 'approval.approved', 'grant.revoked'])
      expect(await timeline.locator(`li[data-type="${type}"]`).count(), type).toBeGreaterThan(0);
    await expect.poll(() => page.getByTestId('chain-status').textContent()).toMatch(/Audit chain verified: \d+ events/u);

    // The token lived in the page's memory only.
    expect(await page.evaluate(() => [localStorage.length, sessionStorage.length, document.cookie])).toEqual([0, 0, '']);
  });

  it('shows a person without the approver role no approve button, and the API refuses them anyway', async () => {
    const incident = await seedIncident(qm, 'INC-VIEW', 'Disk pressure on db-7', 1);
    const approvalId = await requestApproval(qm, incident, 'free disk on db-7 by rotating logs');

    // The valid case: an operator sees Approve and Deny on the request, and the close button.
    const alice = await newPage();
    await signIn(alice, qm.url, 'alice@example.com');
    await alice.getByRole('link', { name: 'Approvals' }).click();
    const aliceCard = alice.locator(`[data-approval="${approvalId}"]`);
    await aliceCard.waitFor();
    expect(await aliceCard.getByRole('button', { name: 'Approve' }).count()).toBe(1);
    await visit(alice, `#/incidents/${incident}`);
    await alice.getByRole('button', { name: 'Close incident…' }).waitFor();

    // One thing changed: the viewer role (incidents.read, approvals.read, audit.read).
    const bob = await newPage();
    await signIn(bob, qm.url, 'bob@example.com', ['viewer']);
    await bob.getByRole('link', { name: 'Approvals' }).click();
    const bobCard = bob.locator(`[data-approval="${approvalId}"]`);
    await bobCard.getByTestId('no-decide').waitFor();
    expect(await bobCard.getByRole('button').count()).toBe(0);
    expect(await bobCard.getByRole('textbox').count()).toBe(0);
    await bob.getByRole('link', { name: 'Incidents' }).click();
    await bob.getByRole('link', { name: 'Disk pressure on db-7' }).click();
    await bob.getByTestId('live-count').waitFor();
    expect(await bob.getByRole('button', { name: 'Close incident…' }).count()).toBe(0);

    const bobToken = await qm.operatorToken('bob@example.com', ['viewer']);
    const refused = await qm.request('POST', `/v1/approvals/${approvalId}/decision`, {
      token: bobToken,
      body: { decision: 'approve', reason: 'looks fine' },
    });
    expect([refused.status, refused.body.error.code]).toEqual([403, 'ERR_FORBIDDEN']);
    const close = await qm.request('POST', `/v1/incidents/${incident}/close`, { token: bobToken });
    expect([close.status, close.body.error.code]).toEqual([403, 'ERR_FORBIDDEN']);
    const still = await qm.request('GET', `/v1/approvals/${approvalId}`, { token: await qm.operatorToken() });
    expect(still.body.approval).toMatchObject({ state: 'pending', approvals: 0 });
  });

  it('shows an incident title with markup as text, and its CSP refuses inline script', async () => {
    const title = '<script>window.__pwned=1</script><img src=x onerror="window.__pwned=2">Pwned?';
    await seedIncident(qm, 'INC-XSS', title, 0);
    // An agent's stated purpose is the agent's to choose: markup there is text too.
    const purpose = '<img src=x onerror="window.__pwned=3">rotate <b>now</b>';
    const approvalId = await requestApproval(qm, 'INC-XSS', purpose);
    const page = await newPage();
    const violations: string[] = [];
    await page.exposeFunction('reportViolation', (directive: string) => violations.push(directive));
    await page.addInitScript(() => {
      document.addEventListener('securitypolicyviolation', (e: { effectiveDirective: string }) =>
        (window as unknown as { reportViolation: (d: string) => void }).reportViolation(e.effectiveDirective),
      );
    });
    await signIn(page, qm.url, 'alice@example.com');
    await page.getByRole('link', { name: title }).waitFor();
    await page.getByRole('link', { name: title }).click();
    const heading = page.getByRole('heading', { level: 1 });
    await expect.poll(() => heading.textContent()).toBe(title);
    expect(await page.locator('main img, main script').count()).toBe(0);
    expect(await page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned)).toBeUndefined();
    await visit(page, '#/approvals');
    const card = page.locator(`[data-approval="${approvalId}"]`);
    await expect.poll(() => card.locator('.purpose').textContent()).toBe(purpose);
    expect(await card.locator('img, b').count()).toBe(0);

    // Markup can reach no HTML sink: Trusted Types are required and no policy may make them.
    const sinkRefused = await page.evaluate(() => {
      try {
        document.body.insertAdjacentHTML('beforeend', '<b id="injected">x</b>');
        return false;
      } catch (err) {
        return err instanceof TypeError;
      }
    });
    expect(sinkRefused).toBe(true);
    expect(await page.locator('#injected').count()).toBe(0);
    // Nor can an inline handler be set; the browser reports what the policy refused.
    const handlerRefused = await page.evaluate(() => {
      const el = document.createElement('button');
      try {
        el.setAttribute('onclick', 'window.__inline = 1');
      } catch (err) {
        return err instanceof TypeError;
      }
      document.body.append(el);
      el.click();
      return false;
    });
    expect(handlerRefused).toBe(true);
    expect(await page.evaluate(() => (window as unknown as { __inline?: number }).__inline)).toBeUndefined();
    await expect.poll(() => violations).toContain('require-trusted-types-for');
  });

  it('signs out to the sign-in form, and a page without a token reads nothing', async () => {
    const page = await newPage();
    await signIn(page, qm.url, 'carol@example.com');
    // While signed in, the page's polls carry the token; once signed out, none does.
    const authorized: boolean[] = [];
    page.on('request', (r) => {
      if (new URL(r.url()).pathname.startsWith('/v1/')) authorized.push(r.headers().authorization !== undefined);
    });
    await expect.poll(() => authorized.includes(true), { timeout: 10_000 }).toBe(true);
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('button', { name: 'Sign in (development)' }).waitFor();
    authorized.length = 0;
    await page.getByLabel('Your name (an e-mail address)').fill('carol@example.com');
    await expect.poll(() => authorized.length, { timeout: 5000 }).toBe(0);
    expect(await page.getByTestId('subject').count()).toBe(0);
  });

  it('passes axe on every view, the sign-in included', async () => {
    const incident = await seedIncident(qm, 'INC-AXE', 'Certificate expiry on edge-lb', 2);
    await requestApproval(qm, incident, 'rotate the edge-lb certificate');
    const page = await newPage();
    await page.goto(`${qm.url}/console/`);
    await page.getByRole('button', { name: 'Sign in (development)' }).waitFor();
    expect(await axeViolations(page), 'sign-in').toEqual([]);
    await signIn(page, qm.url, 'alice@example.com');
    const views: Array<[string, string, string]> = [
      ['incidents', '#/', 'Incidents'],
      ['incident', `#/incidents/${incident}`, 'Certificate expiry on edge-lb'],
      ['approvals', '#/approvals', 'Approvals'],
      ['agent', `#/agents/${encodeURIComponent(ENRICHER)}`, `Agent ${ENRICHER}`],
      ['report', `#/incidents/${incident}/report`, 'Post-incident report: Certificate expiry on edge-lb'],
    ];
    for (const [name, hash, heading] of views) {
      await visit(page, hash);
      await page.getByRole('heading', { level: 1, name: heading }).waitFor();
      await page.waitForLoadState('networkidle');
      expect(await axeViolations(page), name).toEqual([]);
    }
  });

  // Two brokers, twelve grants and a browser: under the whole suite's load it has taken over 30 s.
  it('shows a large close revoke n of N while the provider answers, then all revoked', async () => {
    // The gate answers the first 4 revocations and holds the other 8 until released: the console shows the close midway.
    const gate = await startRevocationGate(4);
    const gated = await startConsoleBroker(built.dir, {
      providers: { gated: { gateUrl: gate.url } },
      profiles: {
        read: { provider: 'gated', maxTtl: 900, tier: 'read', agents: ['spiffe://dev\\.local/agent/[a-z]+'], params: {} },
        fix: { provider: 'gated', maxTtl: 900, tier: 'remediate', agents: ['spiffe://dev\\.local/agent/[a-z]+'], params: {} },
      },
      providerFactories: [...builtInProviders, gatedProvider],
    });
    try {
      const incident = await seedIncident(gated, 'INC-BIG', 'Credential stuffing against the API gateway', 12, 'sev1');
      const page = await newPage();
      // Under the whole suite's load a step has run past the default 15 s; the test's own 90 s still bounds them all.
      page.setDefaultTimeout(30_000);
      await signIn(page, gated.url, 'alice@example.com');
      await page.getByRole('link', { name: 'Credential stuffing against the API gateway' }).click();
      await expect.poll(() => page.getByTestId('live-count').textContent()).toBe('12 live credentials of 12');
      await page.getByRole('button', { name: 'Close incident…' }).click();
      await page.getByRole('dialog').getByRole('button', { name: 'Close and revoke 12' }).click();
      await page.getByText('Revoked 4 of 12').waitFor();
      expect(await page.locator('#close-progress').getAttribute('value')).toBe('4');
      expect(gate.held.length).toBeGreaterThan(0);
      gate.release();
      await page.getByText('All 12 revoked').waitFor();
      // Once the close is done the grant list is read again: every grant revoked.
      await expect.poll(() => page.locator('table.grants .badge').allTextContents()).toEqual(Array(12).fill('revoked'));
      const readout = await gated.request('GET', `/v1/incidents/${incident}?grants=false`, { token: await gated.operatorToken() });
      expect(readout.body.revocation).toMatchObject({ outstanding: 0, by_state: { revoked: 12 } });
    } finally {
      // Released first: a broker stopping waits for its batch in flight, and held calls would hold it (and hide a failure above).
      gate.release();
      await gated.stop();
      await gate.close();
    }
  }, 90_000);
});
