/**
 * `npm run console:screenshots`: a picture of every console view, for a reviewer who does not run
 * a browser. Builds the console, starts a broker on the development sign-in with a seeded world
 * (incidents with grants, waiting approvals, a quarantined agent, a closed incident), drives
 * Debian's chromium through each view and writes docs/console/<view>.png.
 *
 *   npm run console:screenshots            → docs/console/*.png
 *   npm run console:screenshots -- DIR     → DIR/*.png
 */
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import process from 'node:process';
import {
  buildConsole,
  ENRICHER,
  launchBrowser,
  requestApproval,
  seedIncident,
  signIn,
  startConsoleBroker,
} from '../test/support/console_world.js';

// The callback given to page.evaluate runs in the browser: this names its global for the type checker.
declare const window: { location: { hash: string } };

const SCRAPER = 'spiffe://dev.local/agent/scraper';

const outDir = resolve(process.argv[2] ?? 'docs/console');
mkdirSync(outDir, { recursive: true });

const built = await buildConsole();
const qm = await startConsoleBroker(built.dir);
const browser = await launchBrowser();
try {
  const operator = await qm.operatorToken('oncall@example.com');
  const live = await seedIncident(qm, 'INC-4711', 'Checkout latency: payment API 5xx', 4, 'sev1');
  await requestApproval(qm, live, 'suppress the flapping payment-api alert while the fix rolls out');
  await seedIncident(qm, 'INC-4712', 'Disk pressure on db-7', 2, 'sev3');
  await requestApproval(qm, 'INC-4712', 'rotate logs on db-7 to free disk');
  await seedIncident(qm, 'INC-4713', 'Suspicious logins on the VPN', 2, 'sev2');
  const closed = await seedIncident(qm, 'INC-4690', 'Leaked deploy key in a public gist', 3, 'sev2', SCRAPER);
  await seedIncident(qm, 'INC-4688', 'Phishing wave against finance', 1, 'sev3', SCRAPER);
  // The scraper went wrong: quarantined (its grants everywhere revoked), then the incident closed.
  await qm.request('POST', `/v1/agents/${encodeURIComponent(SCRAPER)}/quarantine`, {
    token: operator,
    body: { reason: 'asked for 40 credentials in a minute' },
  });
  await qm.request('POST', `/v1/incidents/${closed}/close`, { token: operator });

  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  page.setDefaultTimeout(15_000);
  const shot = async (name: string, fullPage = true): Promise<void> => {
    await page.waitForLoadState('networkidle');
    await page.screenshot({ path: join(outDir, `${name}.png`), fullPage });
    process.stdout.write(`${join(outDir, `${name}.png`)}\n`);
  };
  const visit = async (hash: string, heading: string): Promise<void> => {
    await page.evaluate((h) => {
      window.location.hash = h;
    }, hash);
    await page.getByRole('heading', { level: 1, name: heading }).waitFor();
  };

  await page.goto(`${qm.url}/console/`);
  await page.getByLabel('Your name (an e-mail address)').fill('alice@example.com');
  await shot('sign-in');
  await signIn(page, qm.url, 'alice@example.com');
  await page.locator('tr[data-incident="INC-4711"] td', { hasText: 'jwt:' }).waitFor();
  await shot('incidents');
  await visit(`#/incidents/${live}`, 'Checkout latency: payment API 5xx');
  await page.locator('ol.timeline li').first().waitFor();
  await page.getByText(/Audit chain verified/u).waitFor();
  await shot('incident');
  await page.getByRole('button', { name: 'Close incident…' }).click();
  // The dialog is modal: the viewport is what the person sees.
  await shot('close-confirmation', false);
  await page.getByRole('button', { name: 'Cancel' }).click();
  await visit('#/incidents/INC-4713', 'Suspicious logins on the VPN');
  await page.getByRole('button', { name: 'Close incident…' }).click();
  await page.getByRole('button', { name: 'Close and revoke 2' }).click();
  await page.getByText('All 2 revoked').waitFor();
  await shot('close-progress', false);
  await visit('#/approvals', 'Approvals');
  await page.locator('[data-approval]').first().waitFor();
  await shot('approvals');
  await visit(`#/agents/${encodeURIComponent(ENRICHER)}`, `Agent ${ENRICHER}`);
  await page.getByLabel('Reason to quarantine (revokes every grant of this agent)').fill('enriching with data outside the incident');
  await shot('agent');
  await visit(`#/agents/${encodeURIComponent(SCRAPER)}`, `Agent ${SCRAPER}`);
  await page.getByText(/Quarantined .* by oncall@example.com/u).waitFor();
  await shot('agent-quarantined');
  await visit(`#/incidents/${closed}`, 'Leaked deploy key in a public gist');
  await shot('incident-closed');
  await visit(`#/incidents/${closed}/report`, 'Post-incident report: Leaked deploy key in a public gist');
  await shot('report');
  await page.emulateMedia({ media: 'print' });
  await shot('report-print');
} finally {
  await browser.close();
  await qm.stop();
  built.remove();
}
