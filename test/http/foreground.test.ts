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
  let arrival = new Promise<void>((resolve) => {
    entered = resolve;
  });
  let answer: (() => Promise<void>) | undefined;
  const app = express();
  app.use(foreground(lanes));
  app.get('/slow', (_req, res) => {
    answer = async () => {
      res.json({ ok: true });
      // Done once Node has ended the response (to a gone client too) and whatever follows an end
      // (its finish and close events) has had its event-loop turn.
      await eventually(async () => res.writableFinished, 5000);
      await new Promise((resolve) => setImmediate(resolve));
    };
    const arrived = entered;
    arrival = new Promise<void>((resolve) => {
      entered = resolve;
    });
    arrived();
  });
  server = createServer(app);
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', () => resolve()));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    lanes,
    url,
    /** Resolves when the next request (or the one on its way) reaches the route. */
    arrived: () => arrival,
    /** Answers the request the route holds; resolves once the answer is written (or written off). */
    async answer(): Promise<void> {
      if (!answer) throw new Error('no request is waiting for an answer');
      const pending = answer;
      answer = undefined;
      await pending();
    },
  };
}

it('counts a request as foreground until its response is done', async () => {
  const app = await start();
  expect(app.lanes.state().foreground).toBe(0);
  const response = fetch(`${app.url}/slow`);
  await app.arrived();
  expect(app.lanes.state().foreground).toBe(1);
  await app.answer();
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
  // The late answer to the gone client, once Node has written it off, leaves the count alone…
  await app.answer();
  expect(app.lanes.state().foreground).toBe(0);
  // …so the next request counts from zero again.
  const next = fetch(`${app.url}/slow`);
  await app.arrived();
  expect(app.lanes.state().foreground).toBe(1);
  await app.answer();
  expect(await (await next).json()).toEqual({ ok: true });
  await eventually(async () => app.lanes.state().foreground === 0, 5000);
});
