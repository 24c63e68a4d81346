/**
 * A Redis that loses its data must not go unnoticed. In production mode the broker refuses to
 * start on a Redis without persistence unless the config accepts it; once running, a wipe
 * (FLUSHALL, as a restart without persistence leaves it) makes every broker on that Redis —
 * including one started after the wipe — unready and refuse every request, until a named
 * operator acknowledges the loss (here with the real CLI).
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mintAgentToken, mintOperatorToken } from '../../src/identity/dev_issuer.js';
import { createLogger } from '../../src/logging.js';
import { startBroker, type RunningBroker } from '../../src/main.js';
import { eventually } from '../support/broker_harness.js';
import { runCli } from '../support/cli.js';
import { createLogCapture, type LogCapture } from '../support/log_capture.js';
import { productionConfig } from '../support/production_config.js';
import { startRedisServer, type RedisServer } from '../support/redis_server.js';
import { AGENT_ISSUER, AUDIENCE, OPERATOR_AUDIENCE, OPERATOR_ISSUER } from '../support/test_config.js';

let volatile: RedisServer;
let durable: RedisServer;
const running: RunningBroker[] = [];

beforeAll(async () => {
  [volatile, durable] = await Promise.all([startRedisServer(), startRedisServer({ appendOnly: true })]);
});
afterAll(async () => {
  for (const b of running) await b.stop();
  await Promise.all([volatile?.stop(), durable?.stop()]);
});

async function start(config: Awaited<ReturnType<typeof productionConfig>>['config']): Promise<{ broker: RunningBroker; logs: LogCapture }> {
  const logs = createLogCapture();
  const broker = await startBroker(config, { logger: createLogger({ level: 'info', destination: logs }), port: 0 });
  running.push(broker);
  return { broker, logs };
}

async function call(
  broker: RunningBroker,
  method: string,
  path: string,
  token?: string,
  body?: unknown,
): Promise<{ status: number; body: any }> {
  const res = await fetch(`${broker.url}${path}`, {
    method,
    headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body ? { 'content-type': 'application/json' } : {}) },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  return { status: res.status, body: text.startsWith('{') ? JSON.parse(text) : text };
}

describe('Redis persistence in production mode', () => {
  it('starts on a Redis with AOF, and readiness says durable', async () => {
    const keyDir = mkdtempSync(join(tmpdir(), 'qm-prod-'));
    const { config } = await productionConfig({ keyDir, redisUrl: durable.url, keyPrefix: 'qm-durable:' });
    const { broker } = await start(config);
    expect(await call(broker, 'GET', '/readyz')).toEqual({
      status: 200,
      body: { status: 'ready', store: 'redis', persistence: 'durable' },
    });
    expect(await (await fetch(`${broker.url}/metrics`)).text()).toMatch(/^quartermaster_store_persistent 1$/mu);
  });

  it('refuses to start on a Redis without persistence, naming Redis and the fix', async () => {
    const keyDir = mkdtempSync(join(tmpdir(), 'qm-prod-'));
    const { config } = await productionConfig({ keyDir, redisUrl: volatile.url, keyPrefix: 'qm-refused:' });
    await expect(startBroker(config, { logger: createLogger({ level: 'silent' }), port: 0 })).rejects.toThrow(
      new RegExp(
        `^refusing to start: Redis at redis://127\\.0\\.0\\.1:${volatile.port} is not persistent \\(appendonly no, appendfsync everysec\\).*appendonly yes.*store\\.allowVolatile: true`,
        'u',
      ),
    );
  });

  it('with allowVolatile, a wipe makes every broker unready and refuse requests until an operator acknowledges it', async () => {
    const keyDir = mkdtempSync(join(tmpdir(), 'qm-prod-'));
    const { config, yaml } = await productionConfig({
      keyDir,
      redisUrl: volatile.url,
      keyPrefix: 'qm-wiped:',
      store: { allowVolatile: true, integrityCheckSeconds: 1 },
    });
    const [a, b] = [await start(config), await start(config)];
    const operator = await mintOperatorToken({
      keyDir,
      issuer: OPERATOR_ISSUER,
      audience: OPERATOR_AUDIENCE,
      subject: 'alice@example.com',
      roles: ['operator'],
      ttlSeconds: 3600,
      now: Date.now(),
    });
    const agent = await mintAgentToken({
      keyDir,
      issuer: AGENT_ISSUER,
      audience: AUDIENCE,
      agentId: 'spiffe://dev.local/agent/triage',
      ttlSeconds: 3600,
      now: Date.now(),
    });
    expect(await call(a.broker, 'GET', '/readyz')).toEqual({
      status: 200,
      body: { status: 'ready', store: 'redis', persistence: 'volatile' },
    });
    expect(await (await fetch(`${a.broker.url}/metrics`)).text()).toMatch(/^quartermaster_store_persistent 0$/mu);
    expect(a.logs.text()).toContain('store is not persistent');

    const incident = { id: 'INC-WIPED', title: 'wiped', severity: 'sev2' };
    expect((await call(a.broker, 'POST', '/v1/incidents', operator, incident)).status).toBe(201);
    expect(
      (await call(b.broker, 'POST', '/v1/grants', agent, { incident_id: 'INC-WIPED', profile: 'demo', purpose: 'triage' })).status,
    ).toBe(201);
    expect((await call(a.broker, 'POST', '/v1/incidents/INC-WIPED/close', operator)).status).toBe(202);

    const admin = new Redis(volatile.url);
    try {
      await admin.flushall();
    } finally {
      admin.disconnect();
    }
    for (const { broker } of [a, b]) {
      const ready = await eventually(async () => {
        const res = await call(broker, 'GET', '/readyz');
        return res.status === 503 ? res : null;
      });
      expect(ready.body).toMatchObject({
        status: 'not_ready',
        reason: 'store_data_lost',
        store: 'redis',
        loss_detected_at: expect.any(String),
      });
    }
    // The closed incident cannot be opened again on the emptied store, nor anything issued.
    const reopened = await call(b.broker, 'POST', '/v1/incidents', operator, incident);
    expect([reopened.status, reopened.body.error.code]).toEqual([503, 'ERR_STORE_UNAVAILABLE']);
    const granted = await call(a.broker, 'POST', '/v1/grants', agent, { incident_id: 'INC-WIPED', profile: 'demo', purpose: 'again' });
    expect([granted.status, granted.body.error.code]).toEqual([503, 'ERR_STORE_UNAVAILABLE']);
    expect(await (await fetch(`${a.broker.url}/metrics`)).text()).toMatch(/^quartermaster_store_data_lost 1$/mu);
    expect(
      a.logs.lines
        .map((l) => JSON.parse(l) as { level: string; msg: string })
        .filter((l) => l.level === 'error' && l.msg.startsWith('store data loss')),
    ).toHaveLength(1);

    // A broker started after the wipe boots refusing too.
    const c = await start(config);
    expect((await call(c.broker, 'GET', '/readyz')).body.reason).toBe('store_data_lost');

    // A named operator acknowledges with the CLI; every broker serves again.
    const configFile = join(keyDir, 'quartermaster.yaml');
    writeFileSync(configFile, yaml);
    const cli = await runCli([
      'store',
      'acknowledge-loss',
      '--by',
      'alice@example.com',
      '--reason',
      'Redis restarted without AOF; incidents re-opened by hand',
      '--config',
      configFile,
    ]);
    expect(cli.code).toBe(0);
    expect(JSON.parse(cli.stdout)).toMatchObject({ acknowledged: { by: 'alice@example.com', loss_id: expect.any(String) } });
    for (const { broker } of [a, b, c]) {
      await eventually(async () => (await call(broker, 'GET', '/readyz')).status === 200);
    }
    expect(await (await fetch(`${a.broker.url}/metrics`)).text()).toMatch(/^quartermaster_store_data_lost 0$/mu);
    expect((await call(b.broker, 'POST', '/v1/incidents', operator, incident)).status).toBe(201);
    const audit = await call(a.broker, 'GET', '/v1/audit', operator);
    expect(audit.body.events[0]).toMatchObject({
      type: 'store.loss_acknowledged',
      actor: 'alice@example.com',
      data: { reason: 'Redis restarted without AOF; incidents re-opened by hand' },
    });
    const again = await call(c.broker, 'POST', '/v1/store/acknowledge-loss', operator, { reason: 'twice' });
    expect([again.status, again.body.error.code]).toEqual([409, 'ERR_NO_STORE_LOSS']);
  }, 60_000);
});
