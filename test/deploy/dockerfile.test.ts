/**
 * The image cannot be built here (no Docker daemon), so what can be checked without one is checked
 * on the Dockerfile itself: a multi-stage build whose last stage runs as a numeric non-root user
 * with production dependencies only (`npm ci --omit=dev`, and none of them needs an install
 * script, which the build skips), on an LTS Node base, with a health check on /healthz; every file
 * the COPY lines name exists and is not shut out by .dockerignore, and the context leaves out what
 * must never reach an image (node_modules, var/ with development keys, .git).
 */
import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

const dockerfile = readFileSync('Dockerfile', 'utf8');
const ignored = readFileSync('.dockerignore', 'utf8')
  .split('\n')
  .map((l) => l.trim())
  .filter((l) => l !== '' && !l.startsWith('#'));
/** Instructions with their continuation lines joined. */
const instructions = dockerfile
  .replace(/\\\n/gu, ' ')
  .split('\n')
  .map((l) => l.trim())
  .filter((l) => l !== '' && !l.startsWith('#'));
const stages: string[][] = [];
for (const line of instructions) {
  if (/^FROM\s/iu.test(line)) stages.push([]);
  stages.at(-1)?.push(line);
}
const last = stages.at(-1) ?? [];

describe('the Dockerfile', () => {
  it('builds in stages and runs the last as a numeric non-root user', () => {
    expect(stages.length).toBeGreaterThanOrEqual(2);
    const user = last.filter((l) => /^USER\s/iu.test(l)).at(-1);
    expect(user).toMatch(/^USER\s+(\d+)(:\d+)?$/u);
    expect(Number(/^USER\s+(\d+)/u.exec(user ?? '')?.[1])).toBeGreaterThan(0);
    expect(last.some((l) => /^ENTRYPOINT \["node", "dist\/src\/main.js"\]$/u.test(l))).toBe(true);
  });

  it('runs on an LTS Node (an even major) at least as new as package.json asks', () => {
    const image = /^ARG NODE_IMAGE=node:(\d+)-/mu.exec(dockerfile)?.[1];
    expect(image).toBeDefined();
    const major = Number(image);
    expect(major % 2).toBe(0);
    const wanted = Number(
      /(\d+)/u.exec((JSON.parse(readFileSync('package.json', 'utf8')) as { engines: { node: string } }).engines.node)?.[1],
    );
    expect(major).toBeGreaterThanOrEqual(wanted);
  });

  it('ships production dependencies only, none of which needs the install script the build skips', () => {
    const deps = instructions.find((l) => /npm ci --omit=dev/u.test(l));
    expect(deps).toMatch(/--ignore-scripts/u);
    // What reaches the last stage's node_modules comes from that stage, not from the build's.
    const from = last.find((l) => /^COPY --from=\S+ \/app\/node_modules/u.test(l));
    const stage = /--from=(\S+)/u.exec(from ?? '')?.[1];
    expect(stages.find((s) => s[0]?.endsWith(` AS ${stage}`))?.some((l) => /npm ci --omit=dev/u.test(l))).toBe(true);
    const lock = JSON.parse(readFileSync('package-lock.json', 'utf8')) as {
      packages: Record<string, { dev?: boolean; hasInstallScript?: boolean; optional?: boolean }>;
    };
    const scripted = Object.entries(lock.packages)
      .filter(([path, p]) => path !== '' && p.dev !== true && p.hasInstallScript === true)
      .map(([path]) => path);
    expect(scripted).toEqual([]);
  });

  it('checks its health on /healthz', () => {
    expect(last.find((l) => /^HEALTHCHECK\s/u.test(l))).toMatch(/\/healthz/u);
  });

  it('copies only files that exist and that .dockerignore lets in', () => {
    const sources = instructions
      .filter((l) => /^COPY\s/u.test(l) && !/--from=/u.test(l))
      .flatMap((l) =>
        l
          .replace(/^COPY\s+(--\S+\s+)*/u, '')
          .split(/\s+/u)
          .slice(0, -1),
      );
    expect(sources.length).toBeGreaterThan(3);
    for (const source of sources) {
      expect(existsSync(source), source).toBe(true);
      expect(
        ignored.some((pattern) => source === pattern || source.startsWith(`${pattern}/`)),
        source,
      ).toBe(false);
    }
  });

  it('keeps secrets, dependencies and history out of the build context', () => {
    for (const path of ['node_modules', 'var', '.git', 'dist', '.env']) expect(ignored, path).toContain(path);
  });
});
