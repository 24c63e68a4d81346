/**
 * The optional notice of an overdue revocation: one Standard Webhooks-signed POST per grant, even
 * when several replicas escalate it (a store claim), verifiable with the standardwebhooks
 * package; a receiver that is down costs a log line, never an exception in the worker.
 */
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/logging.js';
import type { Grant } from '../../src/model.js';
import { createOverdueNotice } from '../../src/revocation/overdue_notice.js';
import { createMemoryStore } from '../../src/store/memory_store.js';
import { createLogCapture } from '../support/log_capture.js';

const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
const received: Array<{ headers: IncomingMessage['headers']; body: string }> = [];
let url: string;
const server = createServer((req, res) => {
  let body = '';
  req.on('data', (c: Buffer) => (body += c.toString()));
  req.on('end', () => {
    received.push({ headers: req.headers, body });
    res.writeHead(204).end();
  });
});
let secretFile: string;

beforeAll(async () => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks/overdue`;
  secretFile = join(mkdtempSync(join(tmpdir(), 'qm-overdue-')), 'secret');
  writeFileSync(secretFile, SECRET);
  chmodSync(secretFile, 0o600);
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

const grant: Grant = {
  id: 'grt_overdue0000000000000001',
  incidentId: 'INC-7',
  profile: 'aws-read',
  provider: 'aws_sts',
  agent: 'spiffe://prod.example/agent/triage',
  purpose: 'p',
  state: 'revoking',
  createdAt: Date.UTC(2026, 11, 1),
  ttlSeconds: 900,
  expiresAt: Date.UTC(2026, 11, 1) + 900_000,
  revokeRequestedAt: Date.UTC(2026, 11, 1, 0, 5),
};
const config = (target: string) => ({
  mode: 'development' as const,
  revocation: { overdueNotification: { url: target, secretFile, timeoutMs: 2000 } },
});

describe('overdue revocation notice', () => {
  it('is off without configuration', async () => {
    expect(
      await createOverdueNotice({ mode: 'development', revocation: {} } as never, {
        store: createMemoryStore(),
        logger: createLogger({ level: 'silent' }),
        now: Date.now,
      }),
    ).toBeNull();
  });

  it('posts one signed notice per grant, whichever replica escalates, and the receiver can verify it', async () => {
    const store = createMemoryStore();
    const deps = { store, logger: createLogger({ level: 'silent' }), now: Date.now };
    const [a, b] = [await createOverdueNotice(config(url) as never, deps), await createOverdueNotice(config(url) as never, deps)];
    await a?.send(grant, { code: 'ERR_PROVIDER_QUOTA', attempt: 2, blocked: 'policy full' });
    await b?.send(grant, { code: 'ERR_PROVIDER_QUOTA', attempt: 3, blocked: 'policy full' });
    await a?.send({ ...grant, id: 'grt_overdue0000000000000002' }, { code: 'ERR_PROVIDER_UNAVAILABLE', attempt: 9 });
    expect(received).toHaveLength(2);
    const [first, second] = received;
    const verified = new Webhook(SECRET).verify(first?.body ?? '', first?.headers as Record<string, string>);
    expect(verified).toEqual({
      type: 'revocation.blocked',
      grant_id: grant.id,
      incident_id: 'INC-7',
      provider: 'aws_sts',
      profile: 'aws-read',
      agent: grant.agent,
      code: 'ERR_PROVIDER_QUOTA',
      attempt: 2,
      revoke_requested_at: '2026-12-01T00:05:00.000Z',
      blocked: 'policy full',
    });
    expect(JSON.parse(second?.body ?? '{}')).toMatchObject({ type: 'revocation.overdue', code: 'ERR_PROVIDER_UNAVAILABLE' });
  });

  it('logs, and does not throw, when the receiver is down', async () => {
    const logs = createLogCapture();
    const notice = await createOverdueNotice(config('http://127.0.0.1:9/down') as never, {
      store: createMemoryStore(),
      logger: createLogger({ level: 'info', destination: logs }),
      now: Date.now,
    });
    await expect(notice?.send(grant, { code: 'ERR_PROVIDER_UNAVAILABLE', attempt: 5 })).resolves.toBeUndefined();
    expect(logs.text()).toContain('overdue revocation notice not delivered');
  });
});
