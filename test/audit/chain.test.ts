/**
 * The audit hash chain (src/audit/): the sealer links events in seq order and signs checkpoints
 * every N events or T seconds; a checkpoint verifies with only the public key; and an export in
 * which one byte was flipped, or an event deleted, reordered, inserted, or the tail cut off, is
 * caught naming the first bad event. Every tamper case starts from the untouched export passing.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import canonicalize from 'canonicalize';
import { compactVerify, importJWK } from 'jose';
import { beforeEach, describe, expect, it } from 'vitest';
import { CHAIN_GENESIS, chainLink } from '../../src/audit/chain.js';
import {
  generateCheckpointJwk,
  loadCheckpointSigner,
  publicKeysFromJson,
  readCheckpoint,
  type CheckpointSigner,
} from '../../src/audit/checkpoints.js';
import { createAuditSealer } from '../../src/audit/sealer.js';
import { exportLines, verifyExport, verifyStoredChain } from '../../src/audit/verify.js';
import { createLogger } from '../../src/logging.js';
import { createMetrics } from '../../src/metrics.js';
import type { AuditEvent } from '../../src/model.js';
import { createMemoryStore } from '../../src/store/memory_store.js';
import type { Store } from '../../src/store/store.js';
import { createLogCapture } from '../support/log_capture.js';

const T0 = Date.UTC(2026, 0, 1);
const logs = createLogCapture();
const logger = createLogger({ level: 'info', destination: logs });

async function signer(): Promise<CheckpointSigner> {
  const dir = mkdtempSync(join(tmpdir(), 'qm-chain-'));
  return loadCheckpointSigner({
    keyFile: join(dir, 'key.jwk'),
    previousPublicKeyFiles: [],
    generateIfMissing: true,
    strictPermissions: true,
    logger,
  });
}

interface World {
  store: Store;
  signer: CheckpointSigner;
  clock: { now: number };
  seal: ReturnType<typeof createAuditSealer>;
  metrics: ReturnType<typeof createMetrics>;
}

async function world(options: { checkpointEvery?: number; checkpointSeconds?: number } = {}): Promise<World> {
  const store = createMemoryStore();
  const s = await signer();
  const clock = { now: T0 };
  const metrics = createMetrics({ defaultMetrics: false });
  const seal = createAuditSealer(
    { store, signer: s, logger, metrics, now: () => clock.now },
    { intervalMs: 1000, checkpointEvery: options.checkpointEvery ?? 1000, checkpointSeconds: options.checkpointSeconds ?? 60 },
  );
  return { store, signer: s, clock, seal, metrics };
}

const append = async (store: Store, n: number, from = 0): Promise<void> => {
  for (let i = 0; i < n; i += 1) {
    await store.appendAudit({
      at: T0 + from + i,
      type: 'grant.issued',
      actor: 'spiffe://dev.local/agent/triage',
      incidentId: 'INC-1',
      grantId: `g-${from + i}`,
      data: { ttlSeconds: 300, purpose: 'triage ✓', decidedBy: ['policy:tier-read'] },
    });
  }
};

const exportOf = async (store: Store): Promise<string[]> => {
  const lines: string[] = [];
  for await (const line of exportLines(store)) lines.push(line);
  return lines;
};

const keysOf = async (s: CheckpointSigner) => publicKeysFromJson(JSON.stringify({ keys: s.publicKeys.map((k) => k.jwk) }), 'test');

describe('the chain link', () => {
  it('is SHA-256 over the previous link, a newline and the RFC 8785 form of the event', () => {
    const event: AuditEvent = { seq: 1, at: T0, type: 'incident.opened', actor: 'alice', data: { b: 1, a: 'é' } };
    const expected = createHash('sha256')
      .update(`${CHAIN_GENESIS}\n${canonicalize(event) as string}`)
      .digest('hex');
    expect(chainLink(CHAIN_GENESIS, event)).toBe(expected);
    // Key order does not matter; any value does.
    expect(chainLink(CHAIN_GENESIS, { data: { a: 'é', b: 1 }, actor: 'alice', type: 'incident.opened', at: T0, seq: 1 })).toBe(expected);
    expect(chainLink(CHAIN_GENESIS, { ...event, actor: 'alicf' })).not.toBe(expected);
    expect(chainLink('1'.repeat(64), event)).not.toBe(expected);
  });
});

describe('the sealer', () => {
  let w: World;
  beforeEach(async () => {
    w = await world({ checkpointEvery: 5, checkpointSeconds: 60 });
  });

  it('links every event in order and signs a checkpoint every N events', async () => {
    await append(w.store, 12);
    const pass = await w.seal.sealOnce();
    expect(pass).toMatchObject({ sealed: 12, raced: false, more: false, checkpoint: { seq: 12 } });
    const verdict = await verifyStoredChain(w.store, w.signer.publicKeys);
    expect(verdict).toMatchObject({
      ok: true,
      events: 12,
      lastSeq: 12,
      sealedThrough: 12,
      checkpoints: 1,
      checkpointsMatched: 1,
      unsealed: 0,
    });
    await append(w.store, 3, 12);
    expect((await w.seal.sealOnce()).checkpoint).toBeUndefined();
    await append(w.store, 2, 15);
    expect((await w.seal.sealOnce()).checkpoint?.seq).toBe(17);
    expect((await verifyStoredChain(w.store, w.signer.publicKeys)).checkpointsMatched).toBe(2);
  });

  it('signs a checkpoint after T seconds even when fewer than N events came', async () => {
    await append(w.store, 6);
    expect((await w.seal.sealOnce()).checkpoint?.seq).toBe(6);
    await append(w.store, 1, 6);
    w.clock.now += 59_999;
    expect((await w.seal.sealOnce()).checkpoint).toBeUndefined();
    w.clock.now += 1;
    const pass = await w.seal.sealOnce();
    expect(pass).toMatchObject({ sealed: 0, checkpoint: { seq: 7 } });
    // Nothing new: no checkpoint, however long it has been.
    w.clock.now += 3_600_000;
    expect(await w.seal.sealOnce()).toEqual({ sealed: 0, raced: false, more: false });
  });

  it('never forks the chain when sealers race: the one whose head moved writes nothing', async () => {
    const other = createAuditSealer(
      { store: w.store, signer: w.signer, logger, metrics: w.metrics, now: () => w.clock.now },
      { intervalMs: 1000, checkpointEvery: 5, checkpointSeconds: 60 },
    );
    await append(w.store, 4);
    const passes = await Promise.all([w.seal.sealOnce(), other.sealOnce()]);
    expect(passes.map((p) => p.raced).sort()).toEqual([false, true]);
    expect(passes.reduce((n, p) => n + p.sealed, 0)).toBe(4);
    expect(await verifyStoredChain(w.store, w.signer.publicKeys)).toMatchObject({ ok: true, sealedThrough: 4 });
  });

  it('reports events appended but not yet sealed, and verifies them by order only', async () => {
    await append(w.store, 3);
    await w.seal.sealOnce();
    await append(w.store, 2, 3);
    expect(await verifyStoredChain(w.store, w.signer.publicKeys)).toMatchObject({ ok: true, events: 5, sealedThrough: 3, unsealed: 2 });
  });

  it('works through more events than one pass takes', async () => {
    await append(w.store, 1001);
    expect(await w.seal.sealOnce()).toMatchObject({ sealed: 1000, more: true });
    expect(await w.seal.sealOnce()).toMatchObject({ sealed: 1, more: false });
    expect(await verifyStoredChain(w.store, w.signer.publicKeys)).toMatchObject({ ok: true, events: 1001, sealedThrough: 1001 });
  });
});

describe('checkpoints', () => {
  it('verify with only the public key, by any JOSE library', async () => {
    const w = await world();
    await append(w.store, 3);
    const { checkpoint } = await w.seal.sealOnce();
    const jwk = w.signer.publicKeys[0]?.jwk as Record<string, string>;
    expect(Object.keys(jwk).sort()).toEqual(['alg', 'crv', 'kid', 'kty', 'use', 'x']);
    const { payload, protectedHeader } = await compactVerify(checkpoint?.jws as string, await importJWK(jwk, 'EdDSA'));
    expect(protectedHeader).toMatchObject({ alg: 'EdDSA', kid: jwk.kid });
    const head = await w.store.getAuditChainHead();
    expect(JSON.parse(new TextDecoder().decode(payload))).toEqual({ seq: 3, hash: head?.hash, at: T0 });
  });

  it('refuses a checkpoint signed by another key, or altered', async () => {
    const w = await world();
    await append(w.store, 1);
    const jws = (await w.seal.sealOnce()).checkpoint?.jws as string;
    const keys = await keysOf(w.signer);
    expect(readCheckpoint(jws, keys).invalid).toBeUndefined();
    const stranger = await keysOf(await signer());
    expect(readCheckpoint(jws, stranger).invalid).toMatch(/which no given key has/u);
    const [h, p, s] = jws.split('.') as [string, string, string];
    const forged = Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(p, 'base64url').toString()), seq: 2 })).toString('base64url');
    expect(readCheckpoint(`${h}.${forged}.${s}`, keys).invalid).toBe('its signature does not verify');
  });

  it('refuses a key file whose x does not match its d, or that holds no private key', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'qm-chain-key-'));
    const a = JSON.parse(generateCheckpointJwk()) as Record<string, string>;
    const b = JSON.parse(generateCheckpointJwk()) as Record<string, string>;
    const write = async (name: string, jwk: object) => {
      const { writeFileSync } = await import('node:fs');
      writeFileSync(join(dir, name), JSON.stringify(jwk), { mode: 0o600 });
      return join(dir, name);
    };
    const load = (keyFile: string) =>
      loadCheckpointSigner({ keyFile, previousPublicKeyFiles: [], generateIfMissing: false, strictPermissions: true, logger });
    await expect(load(await write('ok.jwk', a))).resolves.toMatchObject({ kid: expect.any(String) });
    await expect(load(await write('mixed.jwk', { ...a, x: b.x }))).rejects.toThrow(/has an "x" that does not match its "d"/u);
    await expect(load(await write('public.jwk', { kty: 'OKP', crv: 'Ed25519', x: a.x }))).rejects.toThrow(/holds a public key only/u);
    expect(readFileSync(join(dir, 'ok.jwk'), 'utf8')).toContain('"d"');
  });
});

describe('tampering with an export', () => {
  let w: World;
  let lines: string[];
  let keys: Awaited<ReturnType<typeof keysOf>>;
  /** The export's event lines by seq, and the lines of checkpoints. */
  const eventLine = (seq: number): number => lines.findIndex((l) => l.includes(`"seq":${seq},`) && l.startsWith('{"type":"event"'));
  const verify = (text: string[], extra: string[] = []) => verifyExport(text.join('\n'), keys, { extraCheckpoints: extra });

  beforeEach(async () => {
    w = await world({ checkpointEvery: 4 });
    for (let i = 0; i < 3; i += 1) {
      await append(w.store, 4, i * 4);
      await w.seal.sealOnce();
    }
    lines = await exportOf(w.store);
    keys = await keysOf(w.signer);
    expect(lines.filter((l) => l.startsWith('{"type":"checkpoint"'))).toHaveLength(3);
    expect(await verify(lines)).toMatchObject({ ok: true, events: 12, checkpointsMatched: 3 });
  });

  it('names a modified event (one byte flipped)', async () => {
    const at = eventLine(6);
    const copy = [...lines];
    copy[at] = (copy[at] as string).replace('g-5', 'g-6');
    expect((await verify(copy)).firstBad).toMatchObject({ seq: 6, problem: 'modified' });
  });

  it('names the range a modified event lies in when its link was rewritten too, by the checkpoint it misses', async () => {
    const copy = lines.map((l) => {
      const record = JSON.parse(l) as { type: string; event?: AuditEvent; link?: string };
      if (record.type !== 'event') return l;
      // Links dropped everywhere: only the checkpoints are left to catch the change.
      const rest = { type: record.type, event: record.event };
      return JSON.stringify(record.event?.seq === 6 ? { ...rest, event: { ...record.event, actor: 'mallory' } } : rest);
    });
    expect((await verify(copy)).firstBad).toMatchObject({ seq: 5, problem: 'checkpoint_mismatch' });
  });

  it('names a deleted event', async () => {
    const copy = lines.filter((_, i) => i !== eventLine(7));
    expect((await verify(copy)).firstBad).toMatchObject({ seq: 7, problem: 'missing' });
  });

  it('names reordered events', async () => {
    const copy = [...lines];
    const [a, b] = [eventLine(2), eventLine(3)];
    [copy[a], copy[b]] = [copy[b] as string, copy[a] as string];
    expect((await verify(copy)).firstBad).toMatchObject({ seq: 2, problem: 'missing' });
  });

  it('names an inserted event', async () => {
    const copy = [...lines];
    const forged = JSON.parse(copy[eventLine(9)] as string) as { event: AuditEvent };
    copy.splice(eventLine(10), 0, JSON.stringify({ type: 'event', event: { ...forged.event, actor: 'mallory' } }));
    expect((await verify(copy)).firstBad).toMatchObject({ seq: 9, problem: 'out_of_order' });
  });

  it('names a truncated export by a checkpoint beyond its end, in the file or held apart', async () => {
    const cut = lines.slice(0, eventLine(11));
    const last = JSON.parse(lines.at(-1) as string) as { jws: string };
    expect((await verify([...cut, lines.at(-1) as string])).firstBad).toMatchObject({ seq: 11, problem: 'truncated' });
    expect(await verify(cut)).toMatchObject({ ok: true, lastSeq: 10 });
    expect((await verify(cut, [last.jws])).firstBad).toMatchObject({ seq: 11, problem: 'truncated' });
  });

  it('names a line that is not JSON, and a checkpoint whose signature was altered', async () => {
    const copy = [...lines];
    copy[eventLine(4)] = (copy[eventLine(4)] as string).slice(0, -2);
    expect((await verify(copy)).firstBad).toMatchObject({ seq: 4, problem: 'unreadable' });
    const cp = lines.findIndex((l) => l.startsWith('{"type":"checkpoint"'));
    const altered = [...lines];
    const record = JSON.parse(altered[cp] as string) as { seq: number; jws: string };
    altered[cp] = JSON.stringify({ ...record, jws: `${record.jws.slice(0, -4)}AAAA` });
    expect((await verify(altered)).firstBad).toMatchObject({ seq: 4, problem: 'bad_checkpoint' });
  });
});
