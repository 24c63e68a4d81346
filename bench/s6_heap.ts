/**
 * S6 (docs/performance.md), the heap half: the broker's heap while it issues N grants that expire
 * (TTL 1 s asked, raised to the jwt provider's 5 s minimum; jwt provider, Redis store on its own
 * redis-server), 8 requests in flight. The heap is
 * read from the broker's own /metrics (`quartermaster_nodejs_heap_size_used_bytes`, prom-client's
 * default metrics) at checkpoints; after the last grant the bench waits until the broker has swept
 * every grant to `expired`. There is no baseline process: the first checkpoint (after a warm-up of
 * 2000 grants) is the reference, and a flat heap means the later checkpoints stay near it.
 * The heap is sampled every 200 ms while grants are issued, and each checkpoint reports the
 * smallest sample of its window: without a forced GC a single reading carries V8's garbage, while
 * the low points track the live heap after collections.
 */
import { runLimited } from '../src/revocation/revoke_jobs.js';
import type { LogLevel } from './broker_child.js';
import { startRedisBrokerWorld } from './redis_world.js';

export interface HeapOptions {
  readonly requests: number;
  readonly logLevel: LogLevel;
}

interface Checkpoint {
  readonly issued: number;
  readonly heapMiB: number;
  readonly rssMiB: number;
  readonly expired: number;
  readonly samples: number;
}

const CHECKPOINTS = 10;
const WARMUP = 2000;
const MiB = 1024 * 1024;

function metric(text: string, name: string): number {
  const match = new RegExp(`^${name}(?:\\{[^}]*\\})? ([0-9.e+]+)$`, 'mu').exec(text);
  return match ? Number(match[1]) : NaN;
}

export async function runS6Heap(options: HeapOptions): Promise<Checkpoint[]> {
  const world = await startRedisBrokerWorld({ logLevel: options.logLevel, keyPrefix: 'qm-heap:', incidentId: 'INC-HEAP', maxSockets: 8 });
  try {
    const issue = async (count: number): Promise<void> =>
      runLimited([...Array(count).keys()], 8, async () => {
        await world.grant({ purpose: 'bench s6 heap', ttl_seconds: 1 });
      });
    const sample = async (): Promise<{ heap: number; rss: number; expired: number }> => {
      const text = (await world.get('/metrics')).body;
      return {
        heap: metric(text, 'quartermaster_nodejs_heap_size_used_bytes') / MiB,
        rss: metric(text, 'quartermaster_process_resident_memory_bytes') / MiB,
        expired: metric(text, 'quartermaster_grants_expired_total'),
      };
    };
    /** Issues `count` grants while sampling; the checkpoint is the window's lowest heap. */
    const window = async (issued: number, count: number): Promise<Checkpoint> => {
      const samples: Array<{ heap: number; rss: number; expired: number }> = [];
      let done = false;
      const sampler = (async () => {
        while (!done) {
          samples.push(await sample());
          await new Promise((r) => setTimeout(r, 200));
        }
      })();
      try {
        await issue(count);
      } finally {
        done = true;
        await sampler;
      }
      samples.push(await sample());
      const low = samples.reduce((a, b) => (b.heap < a.heap ? b : a));
      const lastSample = samples[samples.length - 1] as (typeof samples)[number];
      return { issued, heapMiB: low.heap, rssMiB: lastSample.rss, expired: lastSample.expired, samples: samples.length };
    };

    const points: Checkpoint[] = [await window(0, WARMUP)];
    const step = Math.ceil(options.requests / CHECKPOINTS);
    for (let issued = 0; issued < options.requests; issued += step) {
      const n = Math.min(step, options.requests - issued);
      points.push(await window(issued + n, n));
      process.stderr.write(`bench: s6-heap ${issued + n}/${options.requests}\n`);
    }
    // Every grant swept to expired (1 s TTL): the ledger side of "issued and expired".
    const total = options.requests + WARMUP;
    const deadline = Date.now() + 120_000;
    let last = points[points.length - 1] as Checkpoint;
    while (!(last.expired >= total)) {
      if (Date.now() > deadline) throw new Error(`only ${last.expired} of ${total} grants swept to expired within 120 s`);
      await new Promise((r) => setTimeout(r, 1000));
      const now2 = await sample();
      last = { issued: options.requests, heapMiB: now2.heap, rssMiB: now2.rss, expired: now2.expired, samples: 1 };
    }
    points.push(last);
    return points;
  } finally {
    await world.stop();
  }
}

export function s6HeapMarkdown(points: readonly Checkpoint[], options: HeapOptions): string {
  const first = points[0] as Checkpoint;
  const lines = [
    `### S6 — broker heap while ${options.requests} grants are issued and expire (jwt provider, Redis store, 1 s TTL asked, raised to the provider minimum of 5 s; 8 in flight)`,
    '',
    '| grants issued after warm-up | lowest heap used in the window, MiB (samples) | RSS MiB | swept to expired |',
    '|---:|---:|---:|---:|',
    ...points.map(
      (p, i) =>
        `| ${p.issued}${i === points.length - 1 ? ' (all swept; one reading)' : ''} | ${p.heapMiB.toFixed(1)} (${p.samples}) | ${p.rssMiB.toFixed(1)} | ${p.expired} |`,
    ),
    '',
  ];
  const windows = points.slice(1, -1);
  const tail = windows.slice(-3);
  const tailMax = Math.max(...tail.map((p) => p.heapMiB));
  const early = windows[0] ?? first;
  lines.push(
    `Lowest heap in the first window after warm-up ${early.heapMiB.toFixed(1)} MiB; the largest low point of the last three windows ${tailMax.toFixed(1)} MiB (${tailMax - early.heapMiB >= 0 ? '+' : ''}${(tailMax - early.heapMiB).toFixed(1)} MiB over ${options.requests} grants).`,
  );
  return lines.join('\n');
}
