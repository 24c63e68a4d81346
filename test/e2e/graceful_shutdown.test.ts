/**
 * SIGTERM semantics (what main.ts runs on the signal): stop accepting, finish the request in
 * flight, stop the worker after its batch, close the store. The request is caught on arrival by
 * the server's own 'request' event, so the stop lands while it is in flight without any sleep.
 */
import { request as httpRequest, Agent } from 'node:http';
import { describe, expect, it } from 'vitest';
import { startTestBroker } from '../support/broker_harness.js';

function post(url: string, path: string, token: string, body: unknown, agent: Agent): Promise<{ status: number; body: any }> {
  return new Promise((resolve, reject) => {
    const data = JSON.stringify(body);
    const req = httpRequest(
      `${url}${path}`,
      {
        method: 'POST',
        agent,
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) },
      },
      (res) => {
        let text = '';
        res.on('data', (c: Buffer) => {
          text += c.toString();
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) }));
      },
    );
    req.on('error', reject);
    req.end(data);
  });
}

describe('graceful shutdown', () => {
  it('finishes the grant request in flight, then refuses new connections', async () => {
    const qm = await startTestBroker();
    const operator = await qm.operatorToken();
    const agentToken = await qm.agentToken('spiffe://dev.local/agent/triage');
    expect(
      (await qm.request('POST', '/v1/incidents', { token: operator, body: { id: 'INC-STOP', title: 't', severity: 'sev4' } })).status,
    ).toBe(201);

    let stopping: Promise<void> | undefined;
    qm.broker.server.once('request', () => {
      stopping = qm.stop();
    });
    const agent = new Agent({ keepAlive: true });
    const inFlight = await post(qm.url, '/v1/grants', agentToken, { incident_id: 'INC-STOP', profile: 'demo', purpose: 'p' }, agent);
    expect(inFlight.status).toBe(201);
    expect(inFlight.body.grant.state).toBe('active');
    expect(stopping).toBeDefined();
    await stopping;

    await expect(fetch(`${qm.url}/healthz`)).rejects.toThrow();
    agent.destroy();
  });
});
