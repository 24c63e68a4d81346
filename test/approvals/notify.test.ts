/**
 * Approvers hear of an approval request (approvals.notify, src/approvals/notify.ts): a broker
 * sends one Standard Webhooks-signed, Slack-compatible POST that the standardwebhooks package
 * verifies, naming agent, incident, profile, tier, scope, TTL, purpose and a link; what the agent
 * wrote is escaped for Slack (no channel ping, no forged link); no secret or token is in it; asking
 * again while a request waits sends no second notice.
 */
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { slackText } from '../../src/approvals/notify.js';
import { startTestBroker, type TestBroker } from '../support/broker_harness.js';
import { eventually } from '../support/eventually.js';

const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
const received: Array<{ headers: IncomingMessage['headers']; body: string }> = [];
const server = createServer((req, res) => {
  let body = '';
  req.on('data', (c: Buffer) => (body += c.toString()));
  req.on('end', () => {
    received.push({ headers: req.headers, body });
    res.writeHead(200).end('ok');
  });
});
let qm: TestBroker;

beforeAll(async () => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const secretFile = join(mkdtempSync(join(tmpdir(), 'qm-approval-notice-')), 'secret');
  writeFileSync(secretFile, SECRET);
  chmodSync(secretFile, 0o600);
  qm = await startTestBroker({
    server: { publicUrl: 'https://qm.example.com' },
    profiles: {
      demo: {
        provider: 'jwt',
        maxTtl: 900,
        defaultTtl: 600,
        tier: 'remediate',
        agents: ['spiffe://dev\\.local/agent/[a-z]+'],
        params: { audience: 'urn:tool', scope: 'alerts:write' },
        approval: { approvers: ['operator'], quorum: 1 },
      },
    },
    approvals: { notify: { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/slack`, secretFile, timeoutMs: 2000 } },
  });
});
afterAll(async () => {
  await qm?.stop();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

describe('approval notices', () => {
  it('sends one signed Slack-compatible notice per request, with the agent text escaped', async () => {
    const opened = await qm.request('POST', '/v1/incidents', {
      token: await qm.operatorToken(),
      body: { id: 'INC-N1', title: 't', severity: 'sev2' },
    });
    expect(opened.status).toBe(201);
    const token = await qm.agentToken('spiffe://dev.local/agent/fixer');
    const purpose = 'rotate <!channel> & <https://evil.example|click here>';
    const asked = await qm.request('POST', '/v1/grants', { token, body: { incident_id: 'INC-N1', profile: 'demo', purpose } });
    expect(asked.status).toBe(202);
    const id = asked.body.approval.id as string;

    const notice = await eventually(async () => received[0] ?? null);
    const payload = new Webhook(SECRET).verify(notice.body, notice.headers as Record<string, string>) as Record<string, any>;
    expect(payload.quartermaster).toMatchObject({
      type: 'approval.requested',
      approval_id: id,
      incident_id: 'INC-N1',
      agent: 'spiffe://dev.local/agent/fixer',
      profile: 'demo',
      tier: 'remediate',
      scope: { audience: 'urn:tool', scope: 'alerts:write' },
      ttl_seconds: 600,
      purpose,
      quorum: 1,
      approvers: ['operator'],
      link: `https://qm.example.com/v1/approvals/${id}`,
    });
    expect(payload.text).toContain(slackText(purpose));
    // What Slack renders (text, blocks) is escaped; the raw purpose is data for a bot, never rendered.
    const rendered = JSON.stringify({ text: payload.text, blocks: payload.blocks });
    expect(rendered).toContain('rotate');
    expect(rendered).not.toContain('<!channel>');
    expect(rendered).not.toContain('<https://evil.example|');
    expect(notice.body).not.toContain(token.split('.')[2]);
    // Asking again while it waits answers the same request: no second record, no second notice.
    const again = await qm.request('POST', '/v1/grants', {
      token: await qm.agentToken('spiffe://dev.local/agent/fixer'),
      body: { incident_id: 'INC-N1', profile: 'demo', purpose: 'again' },
    });
    expect([again.status, again.body.approval.id]).toEqual([202, id]);
    const other = await qm.request('POST', '/v1/grants', {
      token: await qm.agentToken('spiffe://dev.local/agent/helper'),
      body: { incident_id: 'INC-N1', profile: 'demo', purpose: 'another agent' },
    });
    expect(other.status).toBe(202);
    expect(other.body.approval.id).not.toBe(id);
    await eventually(async () => received.length === 2);
    expect(received).toHaveLength(2);
  });

  it('escapes Slack control characters and nothing else', () => {
    expect(slackText('plain text, 100% fine')).toBe('plain text, 100% fine');
    expect(slackText('<@U123> & <!here>')).toBe('&lt;@U123&gt; &amp; &lt;!here&gt;');
  });
});
