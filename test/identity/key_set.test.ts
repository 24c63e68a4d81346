/**
 * One key set's refresh policy (src/identity/key_set.ts), driven by an injected loader and clock:
 * background refreshes when due (refreshSeconds, a shorter refresh hint, never under the cooldown),
 * unknown kids refetched at most once per cooldown, the last good keys kept up to
 * maxStalenessSeconds and then 503, and unchanged keys keeping their entry objects. Every boundary
 * is shown from both sides: the instant before changes nothing, the instant itself does.
 */
import type { KeyObject } from 'node:crypto';
import { beforeEach, describe, expect, it } from 'vitest';
import type { BrokerError } from '../../src/errors.js';
import type { KeyDocument, VerificationKey } from '../../src/identity/jwk_document.js';
import { createKeySet, type KeySet } from '../../src/identity/key_set.js';
import { createLogger } from '../../src/logging.js';
import { createLogCapture, type LogCapture } from '../support/log_capture.js';

const T0 = Date.UTC(2030, 0, 1, 12, 0, 0);
const POLICY = { refreshMs: 300_000, cooldownMs: 30_000, maxStalenessMs: 3_600_000 };
const LABEL = 'identity.agents.spiffe[dev.local].bundle';

const key = (kid: string, thumbprint = `t-${kid}`): VerificationKey => ({ kid, kty: 'EC', key: {} as KeyObject, thumbprint });
const doc = (keys: VerificationKey[], extra: Partial<KeyDocument> = {}): KeyDocument => ({
  keys: new Map(keys.map((k) => [k.kid, k])),
  ignored: 0,
  ...extra,
});

let now = T0;
let loads = 0;
/** What the next load answers: a document, or an error to throw. */
let next: () => KeyDocument = () => doc([key('a')]);
let refreshes: string[] = [];
let capture: LogCapture;

beforeEach(() => {
  now = T0;
  loads = 0;
  next = () => doc([key('a')]);
  refreshes = [];
  capture = createLogCapture();
});

async function boot(policy = POLICY): Promise<KeySet> {
  const set = createKeySet(
    LABEL,
    async () => {
      loads += 1;
      return next();
    },
    policy,
    {
      logger: createLogger({ level: 'info', destination: capture }),
      now: () => now,
      onKeySetRefresh: (label, outcome) => refreshes.push(`${label} ${outcome}`),
    },
  );
  await set.loaded.catch(() => undefined);
  return set;
}

/** Lets a background refresh that has started run to its end. */
const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

async function unavailable(call: Promise<unknown>): Promise<BrokerError> {
  const err = (await call.then(
    () => {
      throw new Error('expected a 503');
    },
    (e: unknown) => e,
  )) as BrokerError;
  expect({ code: err.code, status: err.status }).toEqual({ code: 'ERR_IDENTITY_UNAVAILABLE', status: 503 });
  return err;
}

const logged = (msg: string): Array<Record<string, unknown>> =>
  capture.lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.msg === msg);

describe('first load', () => {
  it('loads once and serves keys by kid, reporting the refresh', async () => {
    const set = await boot();
    expect(loads).toBe(1);
    expect(set.label).toBe(LABEL);
    expect((await set.keyFor('a'))?.kid).toBe('a');
    expect(set.peek('a')?.kid).toBe('a');
    expect(set.peek('b')).toBeUndefined();
    expect(loads).toBe(1);
    expect(refreshes).toEqual([`${LABEL} ok`]);
    expect(logged('key set loaded')).toMatchObject([{ keySet: LABEL, kids: ['a'], ignored: 0 }]);
  });

  it('says so when the set is empty', async () => {
    next = () => doc([]);
    const set = await boot();
    expect(await set.keyFor('a')).toBeUndefined();
    expect(logged('key set loaded; it is empty and trusts nothing')).toHaveLength(1);
    expect(logged('key set loaded')).toHaveLength(0);
  });

  it('rejects loaded with the load error, and retries only once the cooldown has passed', async () => {
    const down = new Error('connection refused');
    next = () => {
      throw down;
    };
    const set = createKeySet(
      LABEL,
      async () => {
        loads += 1;
        return next();
      },
      POLICY,
      { logger: createLogger({ level: 'silent' }), now: () => now, onKeySetRefresh: (l, o) => refreshes.push(`${l} ${o}`) },
    );
    await expect(set.loaded).rejects.toBe(down);
    expect(refreshes).toEqual([`${LABEL} failed`]);
    expect(set.peek('a')).toBeUndefined();
    now = T0 + 29_999;
    const early = await unavailable(set.keyFor('a'));
    expect(early.detail).toBe(`${LABEL}: no keys loaded yet; last error: Error: connection refused`);
    expect(loads).toBe(1);
    next = () => doc([key('a')]);
    now = T0 + 30_000;
    expect((await set.keyFor('a'))?.kid).toBe('a');
    expect(loads).toBe(2);
  });
});

describe('background refresh', () => {
  it('starts on the first use at refreshMs after the last success, not a millisecond before', async () => {
    const set = await boot();
    now = T0 + 299_999;
    expect(set.peek('a')?.kid).toBe('a');
    await set.keyFor('a');
    expect(loads).toBe(1);
    now = T0 + 300_000;
    next = () => doc([key('b')]);
    // The request that finds the refresh due is answered from the current keys.
    expect(set.peek('a')?.kid).toBe('a');
    expect(loads).toBe(2);
    // One refresh at a time.
    set.peek('a');
    expect(loads).toBe(2);
    await settle();
    expect(set.peek('a')).toBeUndefined();
    expect(set.peek('b')?.kid).toBe('b');
    expect(refreshes).toEqual([`${LABEL} ok`, `${LABEL} ok`]);
  });

  it('counts the next interval from when the refresh started', async () => {
    const set = await boot();
    now = T0 + 300_000;
    set.peek('a');
    await settle();
    now = T0 + 599_999;
    set.peek('a');
    expect(loads).toBe(2);
    now = T0 + 600_000;
    set.peek('a');
    expect(loads).toBe(3);
  });

  it.each([
    ['a shorter refresh hint', 60, 60_000],
    ['a hint under the cooldown, floored at the cooldown', 5, 30_000],
    ['a hint longer than refreshSeconds, capped at it', 10_000, 300_000],
  ])('follows %s', async (_name, hintSeconds, dueMs) => {
    next = () => doc([key('a')], { refreshHintSeconds: hintSeconds });
    const set = await boot();
    now = T0 + dueMs - 1;
    set.peek('a');
    expect(loads).toBe(1);
    now = T0 + dueMs;
    set.peek('a');
    expect(loads).toBe(2);
  });

  it('logs the keys again only when they changed', async () => {
    const set = await boot();
    now = T0 + 300_000;
    set.peek('a');
    await settle();
    expect(logged('key set loaded')).toHaveLength(1);
    next = () => doc([key('a'), key('b')], { sequence: 7, refreshHintSeconds: 400 });
    now = T0 + 600_000;
    set.peek('a');
    await settle();
    expect(logged('key set loaded')).toMatchObject([{ kids: ['a'] }, { kids: ['a', 'b'], sequence: 7, refreshHintSeconds: 400 }]);
    next = () => doc([key('a'), key('b', 'rotated')]);
    now = T0 + 900_000;
    set.peek('a');
    await settle();
    expect(logged('key set loaded')).toHaveLength(3);
    // A key removed, the others unchanged.
    next = () => doc([key('a')]);
    now = T0 + 1_200_000;
    set.peek('a');
    await settle();
    expect(logged('key set loaded').at(-1)).toMatchObject({ kids: ['a'] });
    expect(logged('key set loaded')).toHaveLength(4);
  });
});

describe('keys across a refresh', () => {
  it('keeps the entry of an unchanged key, replaces a changed one and drops a removed one', async () => {
    next = () => doc([key('a'), key('b'), key('c')]);
    const set = await boot();
    const [a, b] = [set.peek('a'), set.peek('b')];
    next = () => doc([key('a'), key('b', 'new-thumbprint')]);
    now = T0 + 300_000;
    set.peek('a');
    await settle();
    expect(set.peek('a')).toBe(a);
    expect(set.peek('b')).not.toBe(b);
    expect(set.peek('b')?.thumbprint).toBe('new-thumbprint');
    expect(set.peek('c')).toBeUndefined();
  });
});

describe('unknown kids', () => {
  it('refetches at most once per cooldown after the last attempt', async () => {
    const set = await boot();
    next = () => doc([key('a'), key('b')]);
    now = T0 + 29_999;
    expect(await set.keyFor('b')).toBeUndefined();
    expect(loads).toBe(1);
    now = T0 + 30_000;
    expect((await set.keyFor('b'))?.kid).toBe('b');
    expect(loads).toBe(2);
    expect(await set.keyFor('x')).toBeUndefined();
    now = T0 + 59_999;
    expect(await set.keyFor('y')).toBeUndefined();
    expect(loads).toBe(2);
  });

  it('lets concurrent lookups share one refetch', async () => {
    const set = await boot();
    next = () => doc([key('a'), key('b')]);
    now = T0 + 30_000;
    const found = await Promise.all([set.keyFor('b'), set.keyFor('b'), set.keyFor('c')]);
    expect(found.map((k) => k?.kid)).toEqual(['b', 'b', undefined]);
    expect(loads).toBe(2);
  });

  it('answers 503 for a kid the last good keys lack while the source is failing', async () => {
    const set = await boot();
    next = () => {
      throw new Error('HTTP 503');
    };
    now = T0 + 30_000;
    const refetched = await unavailable(set.keyFor('b'));
    expect(refetched.detail).toBe(`${LABEL}: kid not in the last good keys and the last refresh failed; last error: Error: HTTP 503`);
    expect(loads).toBe(2);
    const cooling = await unavailable(set.keyFor('b'));
    expect(cooling.detail).toBe(
      `${LABEL}: kid not in the last good keys and the last refresh failed (cooldown); last error: Error: HTTP 503`,
    );
    expect(loads).toBe(2);
    // Known kids still verify.
    expect((await set.keyFor('a'))?.kid).toBe('a');
  });
});

describe('staleness', () => {
  it('keeps the last good keys up to maxStalenessMs after the last success, then fails closed until a fetch succeeds', async () => {
    const set = await boot();
    next = () => {
      throw new Error('HTTP 500');
    };
    now = T0 + 300_000;
    expect((await set.keyFor('a'))?.kid).toBe('a');
    await settle();
    expect(refreshes).toEqual([`${LABEL} ok`, `${LABEL} failed`]);
    expect(logged('key set refresh failed')).toMatchObject([{ err: 'Error: HTTP 500', keptLastGood: true, staleForMs: 300_000 }]);
    now = T0 + 3_600_000;
    expect((await set.keyFor('a'))?.kid).toBe('a');
    expect(set.peek('a')?.kid).toBe('a');
    now = T0 + 3_600_001;
    expect(set.peek('a')).toBeUndefined();
    const err = await unavailable(set.keyFor('a'));
    expect(err.detail).toBe(`${LABEL}: keys are older than maxStalenessSeconds (3600); last error: Error: HTTP 500`);
    // Within the cooldown of the last attempt (at T0 + 3600 s) nothing was fetched again.
    expect(logged('key set refresh failed').at(-1)).toMatchObject({ keptLastGood: true, staleForMs: 3_600_000 });
    now = T0 + 3_630_000;
    await unavailable(set.keyFor('a'));
    expect(logged('key set refresh failed').at(-1)).toMatchObject({ keptLastGood: false, staleForMs: 3_630_000 });
    next = () => doc([key('a')]);
    now += 30_000;
    expect((await set.keyFor('a'))?.kid).toBe('a');
  });

  it('fails closed when the keys go stale while an unknown kid is refetched', async () => {
    // No refresh falls due on the way: only the refetch for the unknown kid runs.
    const set = await boot({ ...POLICY, refreshMs: 7_200_000 });
    now = T0 + 3_599_000;
    next = () => {
      now = T0 + 3_600_001;
      throw new Error('slow and failing');
    };
    const err = await unavailable(set.keyFor('b'));
    expect(err.detail).toBe(`${LABEL}: keys went stale while refetching; last error: Error: slow and failing`);
  });

  it('fails closed, with no last error to name, when a refetch succeeds only after the keys went stale', async () => {
    const set = await boot({ ...POLICY, refreshMs: 7_200_000 });
    now = T0 + 3_599_000;
    next = () => {
      now = T0 + 3_599_000 + 3_600_001;
      return doc([key('a')]);
    };
    const err = await unavailable(set.keyFor('b'));
    expect(err.detail).toBe(`${LABEL}: keys went stale while refetching`);
  });

  it('counts staleness from when the successful fetch started', async () => {
    const set = await boot();
    next = () => {
      throw new Error('down');
    };
    now = T0 + 300_000;
    set.peek('a');
    await settle();
    // A fetch that starts at T0 + 400 s and succeeds: fresh for another maxStalenessMs from its start.
    next = () => {
      now += 10_000;
      return doc([key('a')]);
    };
    now = T0 + 400_000;
    set.peek('a');
    await settle();
    next = () => {
      throw new Error('down again');
    };
    now = T0 + 400_000 + 3_600_000;
    expect(set.peek('a')?.kid).toBe('a');
    now += 1;
    expect(set.peek('a')).toBeUndefined();
  });
});
