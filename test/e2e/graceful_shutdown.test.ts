/**
 * SIGTERM semantics (what main.ts runs on the signal): stop accepting, finish the request in
 * flight, stop the worker after its batch, close the store. The request is caught on arrival by
 * the server's own 'request' event, so the stop lands while it is in flight without any sleep.
 * A client that keeps sending on a keep-alive connection (the console polls) does not hold the
 * stop open: node's server.close() alone would serve it on that connection for as long as it polls.
 */
import { request as httpRequest, Agent } from 'node:http';
import { describe, expect, it } from 'vitest';
import { startTestBroker } from '../support/broker_harness.js';

function get(url: string, path: string, agent: Agent): Promise<{ status: number; connection: string | undefined }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(`${url}${path}`, { agent }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, connection: res.headers.connection }));
    });
    req.on('error', reject);
    req.end();
  });
}

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

  it('ends a keep-alive connection whose client keeps polling through the stop', async () => {
    const qm = await startTestBroker();
    // One socket, reused for every request, and a next request as soon as an answer is read.
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const answers: Array<{ status: number; connection: string | undefined }> = [];
    let polling = true;
    const poller = (async () => {
      while (polling) {
        try {
          answers.push(await get(qm.url, '/healthz', agent));
        } catch (err) {
          return err as NodeJS.ErrnoException;
        }
      }
      return undefined;
    })();
    // The stop lands while a poll is in flight on the kept-alive socket, as it did under the console.
    let stopping: Promise<void> | undefined;
    qm.broker.server.on('request', function onRequest() {
      if (answers.length < 3) return;
      qm.broker.server.off('request', onRequest);
      stopping = qm.stop();
    });
    const ended = await poller;
    polling = false;
    await stopping;

    // The polls before the stop were served and kept the connection; the one in flight was answered.
    expect(answers.slice(0, 3)).toEqual(Array(3).fill({ status: 200, connection: 'keep-alive' }));
    expect(answers[3]?.status).toBe(200);
    // A poll that reached the connection before the sweep closed it was answered with close, and
    // was the last on it; then the broker refuses a new connection: the poller's next request failed.
    expect(answers.slice(4)).toEqual(answers.length > 4 ? [{ status: 200, connection: 'close' }] : []);
    expect(ended?.code).toMatch(/^(ECONNREFUSED|ECONNRESET)$/u);
    agent.destroy();
  });
});
