/**
 * Background lanes (src/background_lanes.ts): unbounded while no request is in flight, narrowed to
 * `whileServing` while one is and for the linger after it, never stopped (no call waits longer
 * than maxWaitMs), and widened again (queued work released in order) after that. Driven with promises the test resolves itself and
 * vitest's fake clock: no real waiting.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createBackgroundLanes } from '../../src/background_lanes.js';

/** Work that runs until the test releases it, recording start order. */
function gatedWork(started: number[]) {
  const releases = new Map<number, () => void>();
  const work = (id: number) => () =>
    new Promise<number>((resolve) => {
      started.push(id);
      releases.set(id, () => resolve(id));
    });
  return { work, release: (id: number) => releases.get(id)?.() };
}

const settle = async (): Promise<void> => {
  for (let i = 0; i < 5; i++) await Promise.resolve();
};

afterEach(() => {
  vi.useRealTimers();
});

describe('background lanes', () => {
  it('runs background work unbounded while nothing is served', async () => {
    const lanes = createBackgroundLanes(2);
    const started: number[] = [];
    const { work, release } = gatedWork(started);
    const all = [1, 2, 3, 4, 5].map((id) => lanes.run(work(id)));
    await settle();
    expect(started).toEqual([1, 2, 3, 4, 5]);
    expect(lanes.state()).toEqual({ foreground: 0, running: 5, queued: 0 });
    for (const id of [1, 2, 3, 4, 5]) release(id);
    await expect(Promise.all(all)).resolves.toEqual([1, 2, 3, 4, 5]);
    expect(lanes.state()).toEqual({ foreground: 0, running: 0, queued: 0 });
  });

  it('narrows to whileServing while a request is in flight, keeps going, and widens when it ends', async () => {
    const lanes = createBackgroundLanes(2, 0);
    const started: number[] = [];
    const { work, release } = gatedWork(started);
    const leave = lanes.enterForeground();
    const all = [1, 2, 3, 4, 5].map((id) => lanes.run(work(id)));
    await settle();
    expect(started).toEqual([1, 2]);
    expect(lanes.state()).toEqual({ foreground: 1, running: 2, queued: 3 });

    // Narrowed, not stopped: a finished call lets the next queued one start.
    release(1);
    await settle();
    expect(started).toEqual([1, 2, 3]);

    // The request ends: everything queued starts, in order.
    leave();
    await settle();
    expect(started).toEqual([1, 2, 3, 4, 5]);
    expect(lanes.state()).toEqual({ foreground: 0, running: 4, queued: 0 });
    for (const id of [2, 3, 4, 5]) release(id);
    await expect(Promise.all(all)).resolves.toEqual([1, 2, 3, 4, 5]);
  });

  it('counts overlapping requests, and a request that leaves twice counts once', async () => {
    const lanes = createBackgroundLanes(1, 0);
    const a = lanes.enterForeground();
    const b = lanes.enterForeground();
    a();
    a();
    expect(lanes.state().foreground).toBe(1);
    const started: number[] = [];
    const { work, release } = gatedWork(started);
    const both = [1, 2].map((id) => lanes.run(work(id)));
    await settle();
    expect(started).toEqual([1]);
    b();
    await settle();
    expect(started).toEqual([1, 2]);
    release(1);
    release(2);
    await Promise.all(both);
  });

  it('stays narrow for the linger after the last request, across a gap before the next one', async () => {
    vi.useFakeTimers();
    const lanes = createBackgroundLanes(1, 50);
    const started: number[] = [];
    const { work, release } = gatedWork(started);
    const first = lanes.enterForeground();
    const all = [1, 2, 3].map((id) => lanes.run(work(id)));
    await settle();
    expect(started).toEqual([1]);

    first();
    await vi.advanceTimersByTimeAsync(30);
    expect(started).toEqual([1]);
    // The next request arrives within the linger and ends; the linger starts again from there.
    lanes.enterForeground()();
    await vi.advanceTimersByTimeAsync(30);
    expect(started).toEqual([1]);
    release(1);
    await settle();
    expect(started).toEqual([1, 2]);

    // Linger over with no request: everything queued starts.
    await vi.advanceTimersByTimeAsync(25);
    expect(started).toEqual([1, 2, 3]);
    release(2);
    release(3);
    await expect(Promise.all(all)).resolves.toEqual([1, 2, 3]);
  });

  it('runs a call that waited maxWaitMs for a lane anyway, so steady traffic cannot stall it', async () => {
    vi.useFakeTimers();
    const lanes = createBackgroundLanes(1, 50, 250);
    const started: number[] = [];
    const { work, release } = gatedWork(started);
    const leave = lanes.enterForeground();
    const first = lanes.run(work(1));
    await settle();
    await vi.advanceTimersByTimeAsync(100);
    const later = [2, 3].map((id) => lanes.run(work(id)));
    await vi.advanceTimersByTimeAsync(249);
    expect(started).toEqual([1]);
    await vi.advanceTimersByTimeAsync(1);
    expect(started).toEqual([1, 2, 3]);
    expect(lanes.state()).toEqual({ foreground: 1, running: 3, queued: 0 });
    for (const id of [1, 2, 3]) release(id);
    await expect(Promise.all([first, ...later])).resolves.toEqual([1, 2, 3]);
    leave();
    expect(lanes.state()).toEqual({ foreground: 0, running: 0, queued: 0 });
  });

  it('frees the lane when work fails, and passes the failure on', async () => {
    const lanes = createBackgroundLanes(1);
    const leave = lanes.enterForeground();
    const failing = lanes.run(() => Promise.reject(new Error('lookup failed')));
    const next = lanes.run(() => Promise.resolve('ran'));
    await expect(failing).rejects.toThrow('lookup failed');
    await expect(next).resolves.toBe('ran');
    leave();
    expect(lanes.state()).toEqual({ foreground: 0, running: 0, queued: 0 });
  });

  it('refuses a width that is not a positive integer', () => {
    expect(() => createBackgroundLanes(1)).not.toThrow();
    expect(() => createBackgroundLanes(0)).toThrow(/positive integer/u);
    expect(() => createBackgroundLanes(1.5)).toThrow(/positive integer/u);
  });
});
