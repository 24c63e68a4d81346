/**
 * The console's test world, shared by its browser tests and `npm run console:screenshots`: the
 * console built into a temp directory (the same vite config `npm run build` uses), a broker
 * serving it, Debian's chromium through playwright-core, and incidents seeded through the public API.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type Locator, type Page } from 'playwright-core';
import { build } from 'vite';
import { startTestBroker, type TestBroker } from './broker_harness.js';

// Callbacks given to page.evaluate run in the browser: this names its globals for the type checker (the suite has no DOM lib).
declare const document: any;

export const CHROMIUM = '/usr/bin/chromium';

export const FIXER = 'spiffe://dev.local/agent/fixer';
export const ENRICHER = 'spiffe://dev.local/agent/enricher';

const profile = (tier: string, extra: Record<string, unknown> = {}) => ({
  provider: 'jwt',
  maxTtl: 900,
  defaultTtl: 600,
  tier,
  agents: ['spiffe://dev\\.local/agent/[a-z]+'],
  params: { audience: 'urn:quartermaster:demo-api', scope: tier === 'read' ? 'alerts:read' : 'alerts:write' },
  ...extra,
});

/** Builds the console once into a fresh directory; returns it and a cleanup. */
export async function buildConsole(): Promise<{ dir: string; remove: () => void }> {
  const dir = mkdtempSync(join(tmpdir(), 'qm-console-'));
  await build({ configFile: 'console/vite.config.ts', build: { outDir: dir, emptyOutDir: true, sourcemap: false }, logLevel: 'silent' });
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** A broker serving the built console: `read` issues at once, `fix` waits for one operator's approval; `viewer` may only look. */
export async function startConsoleBroker(assetsDir: string, options: Parameters<typeof startTestBroker>[0] = {}): Promise<TestBroker> {
  return startTestBroker({
    logLevel: 'warn',
    profiles: {
      read: profile('read', { description: 'Read alerts' }),
      fix: profile('remediate', { description: 'Suppress and resolve alerts', approval: { approvers: ['operator'], quorum: 1 } }),
    },
    operators: { permissions: { viewer: ['incidents.read', 'approvals.read', 'audit.read'] } },
    console: { assetsDir },
    ...options,
  });
}

export async function launchBrowser(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-dev-shm-usage'] });
}

/** Opens an incident and issues `grants` read grants to `agent` (the enricher) in it; returns the incident id. */
export async function seedIncident(
  qm: TestBroker,
  id: string,
  title: string,
  grants: number,
  severity = 'sev2',
  agentId = ENRICHER,
): Promise<string> {
  const token = await qm.operatorToken('oncall@example.com');
  const opened = await qm.request('POST', '/v1/incidents', { token, body: { id, title, severity } });
  if (opened.status !== 201) throw new Error(`opening ${id}: ${opened.status} ${opened.text}`);
  const agent = await qm.agentToken(agentId);
  for (let i = 0; i < grants; i += 1) {
    const res = await qm.request('POST', '/v1/grants', {
      token: agent,
      body: { incident_id: id, profile: 'read', purpose: `enrich alert ${i + 1} with asset owners` },
    });
    if (res.status !== 201) throw new Error(`grant in ${id}: ${res.status} ${res.text}`);
  }
  return id;
}

/** The fixer asks for a remediate grant: it waits for approval. Returns the approval id. */
export async function requestApproval(qm: TestBroker, incidentId: string, purpose: string): Promise<string> {
  const res = await qm.request('POST', '/v1/grants', {
    token: await qm.agentToken(FIXER),
    body: { incident_id: incidentId, profile: 'fix', purpose },
  });
  if (res.status !== 202) throw new Error(`approval request: ${res.status} ${res.text}`);
  return res.body.approval.id as string;
}

/** Development sign-in, as a person does it: the name, the roles, the button. */
export async function signIn(page: Page, url: string, subject: string, roles: readonly string[] = ['operator']): Promise<void> {
  await page.goto(`${url}/console/`);
  await page.getByLabel('Your name (an e-mail address)').fill(subject);
  for (const box of await page.getByRole('checkbox').all()) {
    const role = await box.getAttribute('value');
    if (role !== null && roles.includes(role) !== (await box.isChecked())) await box.click();
  }
  await page.getByRole('button', { name: 'Sign in (development)' }).click();
  await page.getByTestId('subject').filter({ hasText: subject }).waitFor();
}

/** Presses Tab until `target` has focus (at most `limit` times): proves it is reachable by keyboard alone. */
export async function tabTo(page: Page, target: Locator, limit = 60): Promise<void> {
  const handle = await target.elementHandle();
  if (handle === null) throw new Error('tabTo: the target is not in the page');
  for (let i = 0; i < limit; i += 1) {
    await page.keyboard.press('Tab');
    if (await handle.evaluate((el) => el === document.activeElement)) return;
  }
  throw new Error(`tabTo: not reached with ${limit} presses of Tab`);
}
