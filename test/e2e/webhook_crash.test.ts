/**
 * A broker killed with SIGKILL right after answering 2xx to a resolve webhook loses nothing: the
 * delivery is in the durable inbox before the answer, so the broker that comes up next on the
 * same Redis applies it and revokes every grant of the incident.
 *
 * The first broker is a real child process (src/main.ts's `main`) that runs no worker
 * (test/support/receiver_broker_child.ts): the kill lands between the 2xx and the apply by
 * construction, not by timing.
 */
import type { ChildProcess } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRedisStore } from '../../src/store/redis_store.js';
import { startTestBroker, type TestBroker } from '../support/broker_harness.js';
import { callBroker, devTokens, spawnBrokerProcess } from '../support/broker_process.js';
import { eventually } from '../support/eventually.js';
import { startRedisServer, type RedisServer } from '../support/redis_server.js';
import { testConfigObject } from '../support/test_config.js';

const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
const KEY_PREFIX = 'qm-webhook-crash:';
const INCIDENT = 'generic:INC-KILL';
let redis: RedisServer;
let child: ChildProcess | undefined;
let successor: TestBroker | undefined;

beforeAll(async () => {
  redis = await startRedisServer();
});
afterAll(async () => {
  if (child && child.exitCode === null) child.kill('SIGKILL');
  await successor?.stop();
  await redis?.stop();
});

describe('a resolve webhook survives a broker killed right after its 2xx', () => {
  it('is applied by the next broker on the same Redis, revoking every grant', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'qm-webhook-crash-'));
    const keyDir = join(dir, 'keys');
    const secretFile = join(dir, 'generic-secret');
    writeFileSync(secretFile, SECRET);
    chmodSync(secretFile, 0o600);
    const options = {
      keyDir,
      store: { kind: 'redis' as const, url: redis.url, keyPrefix: KEY_PREFIX },
      webhooks: { generic: { secretFiles: [secretFile] } },
    };
    const configFile = join(dir, 'quartermaster.yaml');
    writeFileSync(configFile, stringify(testConfigObject(options)));
    const started = await spawnBrokerProcess('test/support/receiver_broker_child.ts', configFile);
    child = started.proc;
    const call = (method: string, path: string, token: string, body?: unknown) => callBroker(started.url, method, path, token, body);
    const { operator, agent } = await devTokens(keyDir);
    const now = Date.now();
    expect((await call('POST', '/v1/incidents', operator, { id: INCIDENT, title: 'kill test', severity: 'sev2' })).status).toBe(201);
    for (let i = 0; i < 5; i++)
      expect((await call('POST', '/v1/grants', agent, { incident_id: INCIDENT, profile: 'demo', purpose: 'p' })).status).toBe(201);

    const body = JSON.stringify({ incident_id: 'INC-KILL', event: 'resolved', occurred_at: new Date(now).toISOString() });
    const id = 'msg_kill_1';
    const timestamp = String(Math.floor(now / 1000));
    const signature = `v1,${createHmac('sha256', Buffer.from(SECRET.slice(6), 'base64'))
      .update(`${id}.${timestamp}.${body}`)
      .digest('base64')}`;
    const answer = await fetch(`${started.url}/v1/webhooks/generic`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'webhook-id': id, 'webhook-timestamp': timestamp, 'webhook-signature': signature },
      body,
    });
    expect(answer.status).toBe(202);
    child.kill('SIGKILL');
    await new Promise((resolve) => child?.once('exit', resolve));

    // What the dead broker left: the delivery in the inbox, the incident still open.
    const store = await createRedisStore({ url: redis.url, keyPrefix: KEY_PREFIX });
    expect(await store.inboxDepth()).toBe(1);
    expect((await store.getIncident(INCIDENT))?.status).toBe('open');

    successor = await startTestBroker(options);
    const report = await eventually(async () => {
      const res = await successor?.request('GET', `/v1/incidents/${INCIDENT}`, { token: await successor.operatorToken() });
      return res?.body.incident.status === 'closed' && res.body.revocation.outstanding === 0 ? res.body : null;
    }, 20_000);
    expect(report.grants.map((g: { state: string }) => g.state)).toEqual(['revoked', 'revoked', 'revoked', 'revoked', 'revoked']);
    expect(report.incident.closed_by).toBe('webhook:generic');
    expect(await store.inboxDepth()).toBe(0);
    await store.close();
  });
});
