/**
 * The audit chain's routes (src/http/routes/audit.ts, docs/audit.md) on a running broker: verify,
 * export, keys and checkpoints answer with `audit.read` and refuse without it; unknown query
 * parameters are a 400; with the chain off they answer 404 ERR_AUDIT_CHAIN_OFF. The export's
 * events are the ones GET /v1/audit lists, with their links once sealed.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestBroker, type TestBroker } from '../support/broker_harness.js';

let qm: TestBroker;
let auditor: string;
let closer: string;

beforeAll(async () => {
  qm = await startTestBroker({ operators: { permissions: { auditor: ['audit.read'], closer: ['incidents.close'] } } });
  auditor = await qm.operatorToken('auditor@example.com', ['auditor']);
  closer = await qm.operatorToken('closer@example.com', ['closer']);
  const opened = await qm.request('POST', '/v1/incidents', {
    token: await qm.operatorToken(),
    body: { id: 'INC-AR', title: 't', severity: 'sev3' },
  });
  expect(opened.status).toBe(201);
});
afterAll(() => qm?.stop());

const ROUTES = ['/v1/audit/verify', '/v1/audit/export', '/v1/audit/keys', '/v1/audit/checkpoints'];

describe('audit chain routes', () => {
  it('answer an operator with audit.read, and refuse one without it', async () => {
    for (const path of ROUTES) {
      expect((await qm.request('GET', path, { token: auditor })).status, path).toBe(200);
      const refused = await qm.request('GET', path, { token: closer });
      expect([refused.status, refused.body.error.code], path).toEqual([403, 'ERR_FORBIDDEN']);
    }
  });

  it('refuse a query parameter they do not take', async () => {
    for (const path of ROUTES) {
      expect((await qm.request('GET', path, { token: auditor })).status, path).toBe(200);
      const refused = await qm.request('GET', `${path}?bogus=1`, { token: auditor });
      expect([refused.status, refused.body.error.code], path).toEqual([400, 'ERR_VALIDATION']);
    }
  });

  it('export the events GET /v1/audit lists, linked once sealed, and verify them', async () => {
    const listed = (await qm.request('GET', '/v1/audit', { token: auditor })).body.events as { seq: number }[];
    expect(listed.length).toBeGreaterThan(0);
    await qm.broker.sealer?.sealOnce();
    const exported = await qm.request('GET', '/v1/audit/export', { token: auditor });
    expect(exported.headers.get('content-type')).toMatch(/^application\/x-ndjson/u);
    const lines = exported.text
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l) as { type: string; event?: { seq: number }; link?: string });
    const events = lines.filter((l) => l.type === 'event');
    expect(events.map((l) => l.event?.seq)).toEqual(listed.map((e) => e.seq));
    expect(events.every((l) => /^[0-9a-f]{64}$/u.test(l.link ?? ''))).toBe(true);
    expect(lines.filter((l) => l.type === 'checkpoint')).toHaveLength(1);
    const verified = await qm.request('GET', '/v1/audit/verify', { token: auditor });
    expect(verified.body).toMatchObject({ ok: true, unsealed: 0, checkpoints: 1, checkpoints_matched: 1, first_bad: null });
    const keys = await qm.request('GET', '/v1/audit/keys', { token: auditor });
    expect(keys.body.keys).toEqual([expect.objectContaining({ kty: 'OKP', crv: 'Ed25519', alg: 'EdDSA' })]);
    expect(JSON.stringify(keys.body)).not.toContain('"d"');
    const after = await qm.request('GET', `/v1/audit/export?after=${listed.at(-1)?.seq}`, { token: auditor });
    expect(after.text).toBe('');
  });
});

describe('with the chain off', () => {
  it('answer 404 ERR_AUDIT_CHAIN_OFF, while GET /v1/audit still answers', async () => {
    const broker = await startTestBroker({ audit: { chain: { enabled: false } } });
    try {
      const token = await broker.operatorToken();
      expect((await broker.request('GET', '/v1/audit', { token })).status).toBe(200);
      for (const path of ROUTES) {
        const refused = await broker.request('GET', path, { token });
        expect([refused.status, refused.body.error.code], path).toEqual([404, 'ERR_AUDIT_CHAIN_OFF']);
      }
    } finally {
      await broker.stop();
    }
  });
});
