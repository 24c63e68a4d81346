/**
 * The foreground middleware over real HTTP: a request counts as foreground work from its arrival
 * until its response is done, and also until its connection is gone when the client gives up,
 * so background lanes never stay narrowed by a request that no longer exists.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { afterEach, expect, it } from 'vitest';
import { createBackgroundLanes } from '../../src/background_lanes.js';
import { foreground } from '../../src/http/middleware/foreground.js';
import { eventually } from '../support/broker_harness.js';

let server: Server | undefined;
afterEach(async () => {
  server?.closeAllConnections();
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  server = undefined;
});

/** An app whose /slow route answers only when the test says so. */
async function start() {
  const lanes = createBackgroundLanes(1);
  let entered!: () => void;
  const arrived = new Promise<void>((resolve) => { entered = resolve; });
  let answer: (() => void) | undefined;
  const app = express();
  app.use(foreground(lanes));
  app.get('/slow', (_req, res) => {
    answer = () => res.json({ ok: true });
    entered();
  });
  server = createServer(app);
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', () => resolve()));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    lanes,
    url,
    arrived: () => arrived,
    answer: () => answer?.(),
  };
}

it('counts a request as foreground until its response is done', async () => {
  const app = await start();
  expect(app.lanes.state().foreground).toBe(0);
  const response = fetch(`${app.url}/slow`);
  await app.arrived();
  expect(app.lanes.state().foreground).toBe(1);
  app.answer();
  expect(await (await response).json()).toEqual({ ok: true });
  await eventually(async () => app.lanes.state().foreground === 0, 5000);
});

it('stops counting a request whose client went away before the answer', async () => {
  const app = await start();
  const controller = new AbortController();
  const response = fetch(`${app.url}/slow`, { signal: controller.signal }).catch((err: unknown) => err);
  await app.arrived();
  expect(app.lanes.state().foreground).toBe(1);
  controller.abort();
  expect(await response).toBeInstanceOf(Error);
  await eventually(async () => app.lanes.state().foreground === 0, 5000);
  // The late answer to a gone client leaves the count alone.
  app.answer();
  expect(app.lanes.state().foreground).toBe(0);
});
