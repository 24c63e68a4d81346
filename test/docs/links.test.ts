/**
 * The repository stands on its own: every relative link of its Markdown leads somewhere that
 * exists (and every `#anchor` to a heading there), and nothing points at team notes kept outside
 * it. The checker is markdown_links.ts; the first block proves it can fail, on a tree built here.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { checkMarkdownFile, extractLinks, findMentions, githubSlug, headingAnchors, type DocTree } from './markdown_links.js';

/** A tree of files given by path; directories are implied by the paths under them. */
function memoryTree(files: Readonly<Record<string, string>>): DocTree {
  return {
    kind: (path) => {
      if (Object.hasOwn(files, path)) return 'file';
      return Object.keys(files).some((f) => f.startsWith(`${path}/`)) ? 'dir' : undefined;
    },
    read: (path) => files[path] ?? '',
  };
}

const GUIDE = [
  '# Guide',
  '',
  '## Close and revoke (flows 3, 4)',
  '',
  '## Close and revoke (flows 3, 4)',
  '',
  '## `src/store/` — the `{inc:<id>}` tag',
  '',
  'Setext heading',
  '--------------',
].join('\n');

describe('the Markdown link checker', () => {
  const tree = memoryTree({
    'docs/guide.md': GUIDE,
    'docs/sub/page.md': '# Page\n',
    'src/main.ts': '',
    'README.md': '',
  });
  const check = (markdown: string, file = 'docs/index.md'): string[] =>
    checkMarkdownFile(file, markdown, tree).map((p) => `${p.line}: ${p.target} ${p.problem}`);

  it('passes links to existing files, directories, headings and same-page headings', () => {
    const page = [
      '# Index',
      '',
      '## Same page',
      '',
      'See [the guide](guide.md), [a section](guide.md#close-and-revoke-flows-3-4),',
      'its [twin](guide.md#close-and-revoke-flows-3-4-1), [code](guide.md#srcstore--the-incid-tag),',
      '[setext](guide.md#setext-heading), [a page](sub/page.md#page), [src](../src/main.ts),',
      '[a folder](../src/), [root](/README.md), [here](#same-page), [web](https://example.com/x#y),',
      '[mail](mailto:a@example.com) and a link whose text',
      '[wraps onto',
      'the next line](guide.md).',
    ].join('\n');
    expect(check(page)).toEqual([]);
  });

  it('reports a broken link and a broken anchor, and passes the same page with both fixed', () => {
    expect(check('# Top\n\nRead [the guide](guide.md#guide), then [the end](#top).')).toEqual([]);
    expect(check('# Top\n\nRead [the guide](guid.md#guide), then [the end](#end).')).toEqual([
      '3: guid.md#guide names docs/guid.md, which does not exist',
      '3: #end names #end, which no heading of docs/index.md has',
    ]);
  });

  it('reports a link to a file that does not exist', () => {
    expect(check('[ok](guide.md)')).toEqual([]);
    expect(check('[broken](gide.md)')).toEqual(['1: gide.md names docs/gide.md, which does not exist']);
  });

  it('reports an anchor that no heading of the target has, on another page and on the same page', () => {
    expect(check('# Top\n\n[ok](guide.md#guide) [ok](#top)')).toEqual([]);
    expect(check('# Top\n\n[other](guide.md#close-and-revoke) [same](#bottom)')).toEqual([
      '3: guide.md#close-and-revoke names #close-and-revoke, which no heading of docs/guide.md has',
      '3: #bottom names #bottom, which no heading of docs/index.md has',
    ]);
  });

  it('reports a link that leaves the repository', () => {
    expect(check('[ok](../README.md)')).toEqual([]);
    expect(check('[out](../../elsewhere/notes.md)')).toEqual(['1: ../../elsewhere/notes.md points outside the repository']);
  });

  it('ignores links in fenced code blocks and inline code', () => {
    expect(check('[real](missing.md)')).toHaveLength(1);
    expect(check('```md\n[not a link](missing.md)\n```\n\n~~~\n[nor](this.md)\n~~~\n\n`[nor](that.md)` and ``[x](y.md)``')).toEqual([]);
    expect(check('1. a step\n\n   ```sh\n   [in a list](missing.md)\n   ```\n')).toEqual([]);
  });

  it('extracts reference definitions and titled links', () => {
    expect(extractLinks('[a](x.md "title") [b][ref]\n\n[ref]: <y.md#z>')).toEqual([
      { line: 1, target: 'x.md' },
      { line: 3, target: 'y.md#z' },
    ]);
  });

  it('slugs headings as GitHub does', () => {
    expect(githubSlug('1. Workload JWT verification')).toBe('1-workload-jwt-verification');
    expect(githubSlug('S1: issue a grant, sequentially (`bench/s1_issue.ts`)')).toBe('s1-issue-a-grant-sequentially-benchs1_issuets');
    expect(githubSlug('S4 for Vault: revoke — N = 1 000 ≤ 1.25×')).toBe('s4-for-vault-revoke--n--1-000--125');
    expect(githubSlug('See [the API](api.md) *now*')).toBe('see-the-api-now');
    expect([...headingAnchors('# A\n# A\n# A-1\n```\n# not a heading\n```\n<a id="custom"></a>')]).toEqual(['a', 'a-1', 'a-1-1', 'custom']);
  });

  it('finds every mention of a pattern with its line', () => {
    expect(findMentions('nothing here', /needle/)).toEqual([]);
    expect(findMentions('a needle\nnone\nneedle, needle', /needle/)).toEqual([
      { line: 1, match: 'needle' },
      { line: 3, match: 'needle' },
      { line: 3, match: 'needle' },
    ]);
  });
});

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const tracked = execFileSync('git', ['ls-files', '-z'], { cwd: ROOT, encoding: 'utf8' })
  .split('\0')
  .filter((f) => f !== '');
const trackedSet = new Set(tracked);
const repoTree: DocTree = {
  kind: (path) => (trackedSet.has(path) ? 'file' : tracked.some((f) => f.startsWith(`${path}/`)) ? 'dir' : undefined),
  read: (path) => readFileSync(join(ROOT, path), 'utf8'),
};
const DOCS = /^(?:README\.md|CONTRIBUTING\.md|docs\/.+\.md|providers\/[^/]+\/README\.md)$/;
const markdownFiles = tracked.filter((f) => DOCS.test(f));

/** Tracked files that are text (no NUL byte), with their contents. */
function trackedText(): Array<{ file: string; text: string }> {
  return tracked.flatMap((file) => {
    const bytes = readFileSync(join(ROOT, file));
    return bytes.includes(0) ? [] : [{ file, text: bytes.toString('utf8') }];
  });
}

describe("the repository's documentation", () => {
  it('covers the README, CONTRIBUTING.md, docs/ and every provider README', () => {
    for (const file of [
      'README.md',
      'CONTRIBUTING.md',
      'docs/architecture.md',
      'docs/security.md',
      'docs/performance.md',
      'providers/vault/README.md',
    ]) {
      expect(markdownFiles).toContain(file);
    }
  });

  it('has no broken relative link or anchor', () => {
    const problems = markdownFiles.flatMap((file) => checkMarkdownFile(file, repoTree.read(file), repoTree));
    expect(problems.map((p) => `${p.file}:${p.line}: ${p.target} ${p.problem}`)).toEqual([]);
  });

  it('points at nothing outside the repository: no tracked file mentions the shared folder', () => {
    // Built from parts so that this file does not mention it either.
    const sharedFolder = new RegExp(['\\.\\.', 'shared'].join('/'));
    const hits = trackedText().flatMap(({ file, text }) => findMentions(text, sharedFolder).map((h) => `${file}:${h.line}`));
    expect(hits).toEqual([]);
  });

  it('cites its own pages, not the team notes they were written from', () => {
    // Upper-case names only: docs/security.md and docs/performance.md are the repository's own.
    const teamNotes = new RegExp(`\\b(?:${['SECURITY', 'DESIGN', 'STYLE', 'PERFORMANCE'].join('|')})\\.md\\b`);
    const hits = trackedText().flatMap(({ file, text }) => findMentions(text, teamNotes).map((h) => `${file}:${h.line}: ${h.match}`));
    expect(hits).toEqual([]);
  });
});
