/**
 * /metrics on its own listener (server.metricsListener): the scrape port answers the registry
 * and nothing else, and the API port no longer answers /metrics.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestBroker, type TestBroker } from '../support/broker_harness.js';

let qm: TestBroker;
beforeAll(async () => {
  qm = await startTestBroker({ server: { metricsListener: { host: '127.0.0.1', port: 0 } } });
});
afterAll(async () => qm?.stop());

describe('a separate metrics listener', () => {
  it('serves /metrics there, only there, and nothing else there', async () => {
    const metricsUrl = qm.broker.metricsUrl;
    expect(metricsUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/u);
    expect(metricsUrl).not.toBe(qm.url);
    expect((await qm.request('GET', '/healthz')).status).toBe(200);
    const scraped = await fetch(`${metricsUrl}/metrics`);
    expect(scraped.status).toBe(200);
    expect(await scraped.text()).toContain('quartermaster_http_request_duration_seconds');
    const onApi = await qm.request('GET', '/metrics');
    expect([onApi.status, onApi.body.error.code]).toEqual([404, 'ERR_NOT_FOUND']);
    for (const path of ['/healthz', '/v1/grants', '/metrics/x']) {
      expect((await fetch(`${metricsUrl}${path}`)).status, path).toBe(404);
    }
  });
});
