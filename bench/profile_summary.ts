/**
 * Where a broker child's CPU goes per request, from the .cpuprofile that `--cpu-prof-dir` writes
 * (docs/performance.md, "Where the time goes per request"). Only the steady window counts: from
 * the first to the last sample taken inside `issueGrant`, so boot and shutdown are left out. Self
 * time is grouped into the parts a request passes through and divided by the number of grant
 * requests the bench sent (warm-up included), so each figure is µs per grant and the healthz
 * request it is interleaved with.
 *
 *   npx tsx bench/profile_summary.ts <file.cpuprofile> <grant requests>
 */
import { readFileSync } from 'node:fs';

interface ProfileNode {
  readonly id: number;
  readonly callFrame: { readonly functionName: string; readonly url: string };
  readonly children?: readonly number[];
}

interface CpuProfile {
  readonly nodes: readonly ProfileNode[];
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

export interface ProfileRow {
  readonly part: string;
  readonly usPerRequest: number;
  readonly share: number;
}

export interface ProfileSummary {
  readonly busyUs: number;
  readonly idleUs: number;
  readonly rows: readonly ProfileRow[];
}

/** express 5's own dependency tree: what a request passes through before and after our handlers. */
const EXPRESS_PACKAGES = new Set([
  'express',
  'router',
  'body-parser',
  'raw-body',
  'content-type',
  'type-is',
  'finalhandler',
  'send',
  'on-finished',
  'statuses',
  'media-typer',
  'mime-types',
  'mime-db',
  'qs',
  'depd',
  'iconv-lite',
  'http-errors',
  'accepts',
  'negotiator',
  'vary',
  'etag',
  'fresh',
  'range-parser',
  'parseurl',
  'cookie',
  'setprototypeof',
  'encodeurl',
  'escape-html',
  'proxy-addr',
  'forwarded',
  'merge-descriptors',
  'utils-merge',
  'safe-buffer',
  'debug',
  'ms',
  'bytes',
  'unpipe',
  'destroy',
  'ee-first',
  'is-promise',
  'path-to-regexp',
]);
const HASHES = new Set(['hash', 'digest', 'update', 'Hash', 'Hmac']);
const SOCKET_WRITES = new Set(['writev', 'writeUtf8String', 'writeBuffer', 'writeLatin1String']);

function partOf(frame: ProfileNode['callFrame']): string {
  const { functionName: f, url } = frame;
  if (f === 'signOneShot') return 'crypto: signing the credential';
  if (f === 'verifyOneShot') return 'crypto: token signature verify';
  if (f === 'randomFillSync') return 'crypto: randomBytes (ids)';
  if (HASHES.has(f)) return 'crypto: hashes (audit chain, token ids)';
  if (SOCKET_WRITES.has(f)) return 'kernel: socket writes';
  if (f === '(garbage collector)') return 'GC';
  if (url === '') return 'other native code';
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url)?.[1];
  if (pkg !== undefined) return EXPRESS_PACKAGES.has(pkg) ? 'express and its middleware' : `npm: ${pkg}`;
  const own = /dist\/(src\/[^/]+|providers)/.exec(url)?.[1];
  if (own !== undefined) return `quartermaster: ${own.replace(/\.js$/, '')}`;
  if (/_http|node:net|streams|stream_base|node:events|internal\/http/.test(url)) return 'node: http, net, streams, events';
  return `node: ${url.replace('node:internal/', '').split('/')[0] ?? url}`;
}

export function summarizeProfile(profile: CpuProfile, requests: number): ProfileSummary {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const underIssueGrant = (id: number): boolean => {
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      if (byId.get(cur)?.callFrame.functionName === 'issueGrant') return true;
    }
    return false;
  };
  let first = -1;
  let last = -1;
  profile.samples.forEach((id, i) => {
    if (!underIssueGrant(id)) return;
    if (first === -1) first = i;
    last = i;
  });
  if (first === -1) throw new Error('no sample inside issueGrant: is this a broker child profile of S1?');
  const parts = new Map<string, number>();
  let busy = 0;
  let idle = 0;
  for (let i = first; i <= last; i++) {
    // A sample's delta is the time until the next one: what the sampled frame was doing.
    const dt = profile.timeDeltas[i + 1] ?? 0;
    const frame = byId.get(profile.samples[i] ?? -1)?.callFrame;
    if (!frame || frame.functionName === '(idle)') {
      idle += dt;
      continue;
    }
    busy += dt;
    const part = partOf(frame);
    parts.set(part, (parts.get(part) ?? 0) + dt);
  }
  const rows = [...parts]
    .map(([part, us]) => ({ part, usPerRequest: us / requests, share: us / busy }))
    .sort((a, b) => b.usPerRequest - a.usPerRequest);
  return { busyUs: busy / requests, idleUs: idle / requests, rows };
}

function main(): void {
  const [file, count] = process.argv.slice(2);
  const requests = Number(count);
  if (file === undefined || !Number.isInteger(requests) || requests <= 0) {
    console.error('usage: npx tsx bench/profile_summary.ts <file.cpuprofile> <grant requests, warm-up included>');
    process.exit(2);
  }
  const summary = summarizeProfile(JSON.parse(readFileSync(file, 'utf8')) as CpuProfile, requests);
  console.log(`busy ${summary.busyUs.toFixed(0)} µs, idle ${summary.idleUs.toFixed(0)} µs per grant (and its healthz twin)\n`);
  console.log('| part | µs per grant | share of busy |\n|---|---:|---:|');
  for (const row of summary.rows.filter((r) => r.usPerRequest >= 3)) {
    console.log(`| ${row.part} | ${row.usPerRequest.toFixed(0)} | ${(row.share * 100).toFixed(0)} % |`);
  }
}

if (import.meta.url === `file://${process.argv[1]}`) main();
