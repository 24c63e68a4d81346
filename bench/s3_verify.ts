/**
 * S3 (docs/performance.md): JWT verification — cold, warm key cache, verified-token cache hit —
 * against a raw node:crypto verify of the same token, measured in the same run.
 *
 *  - raw: `crypto.verify` of the token's signature over `header.payload` with a prepared
 *    KeyObject: the floor any verifier pays.
 *  - cold: the first verification on a freshly booted verifier (key set just loaded from its
 *    file, nothing cached); boot itself is timed separately and not included.
 *  - warm: the full pipeline with keys loaded and the verified-token cache off (maxEntries 0).
 *  - cached: a verified-token cache hit.
 *  - jose: jose 6 `jwtVerify` with a local JWK Set, for reference (what identity v0 used).
 *
 * Per algorithm (ES256: SPIRE's default and the dev issuer's; RS256: Kubernetes and GitHub
 * Actions), the series run interleaved in blocks so machine noise hits them alike; the table
 * shows the median over runs of each statistic. Standalone: `npx tsx bench/s3_verify.ts`.
 */
import { constants, createPublicKey, verify, type KeyObject } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { createLocalJWKSet, jwtVerify } from 'jose';
import { configSchema } from '../src/config/schema.js';
import { createLogger } from '../src/logging.js';
import type { Identity } from '../src/identity/types.js';
import { createIdentity } from '../src/identity/verifier.js';
import { createSigner, signBytes, type Signer } from '../test/identity/token_factory.js';
import { medianOfRuns, summarize, timeSequential, type Summary } from './stats.js';

export interface S3Options {
  readonly requests: number;
  readonly runs: number;
  readonly warmup: number;
}

const SERIES = ['raw', 'cold', 'warm', 'cached', 'jose'] as const;
type Series = (typeof SERIES)[number];
export type S3Run = Record<Series, Summary> & { readonly bootUs: number };
export interface S3AlgResult {
  readonly alg: 'ES256' | 'RS256';
  readonly median: S3Run;
}

const BLOCK = 100;
/** Fresh verifiers per run for the cold series (each boots from files). */
const COLD_SAMPLES = 200;
const IAT = 1_893_499_200;
const b64 = (v: string | Buffer): string => Buffer.from(v).toString('base64url');

function tokenFor(signer: Signer): string {
  const header = b64(JSON.stringify({ alg: signer.alg, typ: 'JWT', kid: signer.kid }));
  const payload = b64(
    JSON.stringify({
      iss: 'https://spire.bench.example',
      sub: 'spiffe://bench.example/ns/agents/sa/triage',
      aud: 'quartermaster',
      iat: IAT,
      exp: IAT + 600,
      jti: 'bench-1',
    }),
  );
  return `${header}.${payload}.${b64(signBytes(signer, `${header}.${payload}`))}`;
}

function rawVerifier(signer: Signer, token: string): () => boolean {
  const key: KeyObject = createPublicKey(signer.privateKey);
  const i = token.lastIndexOf('.');
  const data = Buffer.from(token.slice(0, i), 'latin1');
  const signature = Buffer.from(token.slice(i + 1), 'base64url');
  const options = signer.alg === 'ES256' ? { key, dsaEncoding: 'ieee-p1363' as const } : { key, padding: constants.RSA_PKCS1_PADDING };
  return () => verify('sha256', data, options, signature);
}

async function runAlg(alg: 'ES256' | 'RS256', options: S3Options): Promise<S3AlgResult> {
  const signer = createSigner(alg, `bench-${alg}`);
  const token = tokenFor(signer);
  const dir = mkdtempSync(join(tmpdir(), 'qm-bench-s3-'));
  try {
    const bundle = join(dir, 'bundle.json');
    const operators = join(dir, 'operators.json');
    writeFileSync(bundle, JSON.stringify({ keys: [{ ...signer.jwk, use: 'jwt-svid' }] }));
    writeFileSync(operators, JSON.stringify({ keys: [createSigner('ES256', 'op').jwk] }));
    const config = (maxEntries: number) =>
      configSchema.shape.identity.parse({
        audience: 'quartermaster',
        tokenCache: { maxEntries },
        agents: {
          spiffe: [{ trustDomain: 'bench.example', issuer: 'https://spire.bench.example', bundle: { file: bundle }, algorithms: [alg] }],
        },
        operators: { issuer: 'https://operators.bench.example', keys: { file: operators }, algorithms: ['ES256'] },
      });
    const deps = { logger: createLogger({ level: 'silent' }), now: () => IAT * 1000 };
    const boot = (maxEntries: number): Promise<Identity> => createIdentity(config(maxEntries), deps);
    const raw = rawVerifier(signer, token);
    if (!raw()) throw new Error('raw verify failed');
    const warm = await boot(0);
    const cached = await boot(10_000);
    await cached.authenticateAgent(token);
    const jwks = createLocalJWKSet({ keys: [{ ...signer.jwk, use: 'sig' }] as never });
    const joseOptions = { audience: 'quartermaster', currentDate: new Date(IAT * 1000) };

    const calls: Record<Exclude<Series, 'cold'>, () => Promise<unknown>> = {
      raw: async () => {
        if (!raw()) throw new Error('raw verify failed');
      },
      warm: () => warm.authenticateAgent(token),
      cached: () => cached.authenticateAgent(token),
      jose: () => jwtVerify(token, jwks, joseOptions),
    };
    const runs: S3Run[] = [];
    for (let r = 0; r < options.runs; r++) {
      const samples: Record<Series, bigint[]> = { raw: [], cold: [], warm: [], cached: [], jose: [] };
      for (const fn of Object.values(calls)) for (let i = 0; i < options.warmup; i++) await fn();
      for (let done = 0; done < options.requests; done += BLOCK) {
        for (const [name, fn] of Object.entries(calls) as Array<[Exclude<Series, 'cold'>, () => Promise<unknown>]>) {
          samples[name].push(...(await timeSequential(Math.min(BLOCK, options.requests - done), () => fn().then(() => undefined))));
        }
      }
      const bootNs: bigint[] = [];
      for (let i = 0; i < COLD_SAMPLES; i++) {
        const started = process.hrtime.bigint();
        const fresh = await boot(10_000);
        bootNs.push(process.hrtime.bigint() - started);
        samples.cold.push(...(await timeSequential(1, () => fresh.authenticateAgent(token).then(() => undefined))));
      }
      const run = Object.fromEntries(SERIES.map((s) => [s, summarize(samples[s])])) as Record<Series, Summary>;
      runs.push({ ...run, bootUs: summarize(bootNs).p50Us });
    }
    const median = Object.fromEntries(SERIES.map((s) => [s, medianOfRuns(runs.map((run) => run[s]))])) as Record<Series, Summary>;
    const boots = runs.map((run) => run.bootUs).sort((a, b) => a - b);
    return { alg, median: { ...median, bootUs: boots[Math.floor(boots.length / 2)] ?? 0 } };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function runS3(options: S3Options): Promise<S3AlgResult[]> {
  return [await runAlg('ES256', options), await runAlg('RS256', options)];
}

const LABELS: Record<Series, string> = {
  raw: 'raw node:crypto verify (baseline)',
  cold: 'cold: first verify on a fresh verifier',
  warm: 'warm: keys loaded, no token cache',
  cached: 'cached: verified-token cache hit',
  jose: 'jose 6 jwtVerify (reference)',
};

export function s3Markdown(results: readonly S3AlgResult[], options: S3Options): string {
  const lines = [
    `### S3: JWT verification (${options.runs} runs × ${options.requests} per series, ${options.warmup} warm-up; cold: ${COLD_SAMPLES} fresh verifiers per run)`,
    '',
  ];
  for (const { alg, median: m } of results) {
    lines.push(`**${alg}** (boot of a verifier with a file key set, not in any series: p50 ${m.bootUs.toFixed(0)} µs)`, '');
    lines.push('| series | p50 µs | p99 µs | mean µs | p50 ÷ raw |', '|---|---:|---:|---:|---:|');
    for (const s of SERIES) {
      lines.push(
        `| ${LABELS[s]} | ${m[s].p50Us.toFixed(1)} | ${m[s].p99Us.toFixed(1)} | ${m[s].meanUs.toFixed(1)} | ${(m[s].p50Us / m.raw.p50Us).toFixed(2)} |`,
      );
    }
    const warmOk = m.warm.p50Us <= 1.5 * m.raw.p50Us;
    const hitOk = m.cached.p50Us <= 10;
    lines.push(
      '',
      `Targets: warm ≤ 1.5 × raw → ${(m.warm.p50Us / m.raw.p50Us).toFixed(2)} × (${warmOk ? 'met' : 'NOT met'}); cache hit ≤ 10 µs → ${m.cached.p50Us.toFixed(1)} µs (${hitOk ? 'met' : 'NOT met'}).`,
      '',
    );
  }
  return lines.join('\n');
}

const entry = process.argv[1];
if (entry !== undefined && import.meta.url === pathToFileURL(entry).href) {
  const options = { requests: 2000, runs: 3, warmup: 200 };
  runS3(options).then(
    (r) => console.log(s3Markdown(r, options)),
    (err: unknown) => {
      process.stderr.write(`s3: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exitCode = 1;
    },
  );
}
