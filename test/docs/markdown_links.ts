/**
 * Checks the repository's Markdown as a reader on GitHub meets it: every relative link leads to a
 * file or directory that exists, and every `#fragment` to a heading of the page it names. Pure:
 * the caller hands in the tree (which paths exist, and the text of a page), so a unit test can
 * feed it a broken link and a broken anchor without touching the disk.
 *
 * Anchors follow GitHub's rules (github-slugger): the heading's text, lower-cased, every character
 * that is not a letter, mark, digit, connector (`_`) or `-` dropped, each space turned into `-`;
 * a repeated slug gets `-1`, `-2`, … in order. Links inside fenced code blocks and inline code are
 * not links, so they are skipped; so are `http:`, `https:` and `mailto:` links.
 */
import { posix } from 'node:path';

export interface DocTree {
  /** What a repository-relative POSIX path is: a file, a directory, or nothing. */
  kind(path: string): 'file' | 'dir' | undefined;
  /** The text of a path that `kind` calls a file. */
  read(path: string): string;
}

export interface MarkdownLink {
  /** 1-based. */
  readonly line: number;
  readonly target: string;
}

export interface LinkProblem {
  readonly file: string;
  readonly line: number;
  readonly target: string;
  readonly problem: string;
}

/** A run of N backticks up to the next run of exactly N (CommonMark 6.1). */
const CODE_SPAN = /(`+)(?!`)([\s\S]*?[^`])\1(?!`)/g;
/** Any indentation: a fence inside a list item is indented by the item's content. */
const FENCE = /^[ \t]*(`{3,}|~{3,})(.*)$/;
const ATX_HEADING = /^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$/;
const SETEXT_UNDERLINE = /^ {0,3}(?:=+|-+)[ \t]*$/;
/** `[text](target "title")` and `![alt](target)`; the target may be wrapped in `<…>`. */
const INLINE_LINK = /!?\[(?:[^\]\\]|\\.)*\]\(\s*(<[^>\n]*>|[^\s()]*(?:\([^\s()]*\)[^\s()]*)*)(?:\s+(?:"[^"]*"|'[^']*'|\([^)]*\)))?\s*\)/g;
/** `[label]: target` reference definitions. */
const REFERENCE_DEFINITION = /^ {0,3}\[(?:[^\]\\]|\\.)+\]:\s*(<[^>\n]*>|\S+)/;
const HTML_ANCHOR = /<a\s[^>]*\b(?:id|name)\s*=\s*["']([^"']+)["']/gi;
const EXTERNAL = /^(?:https?:|mailto:)/i;
/** What github-slugger keeps; everything else (punctuation, symbols) is dropped. */
const NOT_KEPT = /[^\p{L}\p{M}\p{N}\p{Pc} -]/gu;

/**
 * The lines of a document with fenced code blocks blanked (the line count is kept, so line
 * numbers stay right). `inline` also blanks code spans.
 */
export function proseLines(markdown: string, options: { readonly inline: boolean }): string[] {
  const lines = markdown.split(/\r?\n/);
  const out: string[] = [];
  let fence: { char: string; length: number } | null = null;
  for (const line of lines) {
    const m = FENCE.exec(line);
    if (fence) {
      if (m?.[1] && m[1][0] === fence.char && m[1].length >= fence.length && (m[2] ?? '').trim() === '') fence = null;
      out.push('');
      continue;
    }
    // A backtick fence's info string may not contain a backtick (CommonMark 4.5).
    if (m?.[1] && !(m[1][0] === '`' && (m[2] ?? '').includes('`'))) {
      fence = { char: m[1][0] as string, length: m[1].length };
      out.push('');
      continue;
    }
    out.push(options.inline ? blankCodeSpans(line) : line);
  }
  return out;
}

/** Replaces each code span with spaces. */
function blankCodeSpans(line: string): string {
  return line.replace(CODE_SPAN, (span) => ' '.repeat(span.length));
}

/** Relative and external link targets of a document, with their lines; none from code. */
export function extractLinks(markdown: string): MarkdownLink[] {
  const links: MarkdownLink[] = [];
  const lines = proseLines(markdown, { inline: true });
  lines.forEach((text, i) => {
    const definition = REFERENCE_DEFINITION.exec(text);
    if (definition?.[1]) links.push({ line: i + 1, target: unwrap(definition[1]) });
  });
  // Over the whole text, not line by line: a link's text may wrap onto the next line.
  const prose = lines.join('\n');
  for (const m of prose.matchAll(INLINE_LINK)) {
    const line = prose.slice(0, m.index).split('\n').length;
    links.push({ line, target: unwrap(m[1] ?? '') });
  }
  return links.sort((a, b) => a.line - b.line);
}

const unwrap = (target: string): string => (target.startsWith('<') && target.endsWith('>') ? target.slice(1, -1) : target);

/** GitHub's slug of one heading text, before duplicates are numbered. */
export function githubSlug(headingText: string): string {
  return plainText(headingText).toLowerCase().replace(NOT_KEPT, '').replace(/ /g, '-');
}

/** What a heading renders as: code spans by their content, images by their alt text, links by their text, no tags. */
function plainText(heading: string): string {
  const spans: string[] = [];
  const outside = heading.replace(CODE_SPAN, (_span, _ticks: string, content: string) => `\uE000${spans.push(content) - 1}\uE000`);
  return outside
    .replace(/!?\[((?:[^\]\\]|\\.)*)\]\([^)]*\)/g, '$1')
    .replace(/<[^>]*>/g, '')
    .replace(/\uE000(\d+)\uE000/g, (_m, i: string) => spans[Number(i)] ?? '')
    .trim();
}

/** Every anchor a page offers: its headings' slugs (duplicates numbered) and explicit `<a id>`/`<a name>`. */
export function headingAnchors(markdown: string): Set<string> {
  const anchors = new Set<string>();
  const occurrences = new Map<string, number>();
  const add = (text: string): void => {
    const base = githubSlug(text);
    let slug = base;
    while (occurrences.has(slug)) {
      const n = (occurrences.get(base) ?? 0) + 1;
      occurrences.set(base, n);
      slug = `${base}-${n}`;
    }
    occurrences.set(slug, 0);
    anchors.add(slug);
  };
  const lines = proseLines(markdown, { inline: false });
  lines.forEach((line, i) => {
    const atx = ATX_HEADING.exec(line);
    if (atx) {
      add(atx[2] ?? '');
    } else if (i > 0 && SETEXT_UNDERLINE.test(line) && isParagraphLine(lines[i - 1] ?? '')) {
      add(lines[i - 1] ?? '');
    }
    for (const m of blankCodeSpans(line).matchAll(HTML_ANCHOR)) if (m[1]) anchors.add(m[1]);
  });
  return anchors;
}

/** A line that can be the text of a setext heading: not blank, not a heading, list, quote or table. */
function isParagraphLine(line: string): boolean {
  return line.trim() !== '' && !/^ {0,3}(?:#|>|[-*+] |\d+[.)] |\|)/.test(line) && !SETEXT_UNDERLINE.test(line);
}

/** Every broken relative link and anchor of one Markdown file (`file` is repository-relative). */
export function checkMarkdownFile(file: string, markdown: string, tree: DocTree): LinkProblem[] {
  const problems: LinkProblem[] = [];
  const anchorsOf = new Map<string, Set<string>>();
  const anchors = (path: string): Set<string> => {
    let found = anchorsOf.get(path);
    if (!found) {
      found = headingAnchors(path === file ? markdown : tree.read(path));
      anchorsOf.set(path, found);
    }
    return found;
  };

  for (const { line, target } of extractLinks(markdown)) {
    if (EXTERNAL.test(target)) continue;
    const report = (problem: string): void => {
      problems.push({ file, line, target, problem });
    };
    const hash = target.indexOf('#');
    const rawPath = (hash === -1 ? target : target.slice(0, hash)).replace(/\?.*$/, '');
    let path: string;
    let fragment: string;
    try {
      path = decodeURIComponent(rawPath);
      fragment = hash === -1 ? '' : decodeURIComponent(target.slice(hash + 1));
    } catch {
      report('is not valid percent-encoding');
      continue;
    }

    let resolved = file;
    if (path !== '') {
      resolved = posix.normalize(path.startsWith('/') ? path.slice(1) : posix.join(posix.dirname(file), path)).replace(/\/$/, '');
      if (resolved === '..' || resolved.startsWith('../')) {
        report('points outside the repository');
        continue;
      }
      if (resolved === '.') resolved = '';
    }
    // A same-page link names the linking file itself; '' after resolving is the repository root.
    const kind = path === '' ? 'file' : resolved === '' ? 'dir' : tree.kind(resolved);
    if (kind === undefined) {
      report(`names ${resolved}, which does not exist`);
      continue;
    }
    if (fragment === '' || kind !== 'file' || !/\.md$/i.test(resolved)) continue;
    if (!anchors(resolved).has(fragment)) report(`names #${fragment}, which no heading of ${resolved} has`);
  }
  return problems;
}

/** Lines (1-based) of `text` on which `pattern` occurs, with what matched. */
export function findMentions(text: string, pattern: RegExp): Array<{ readonly line: number; readonly match: string }> {
  const flags = pattern.flags.includes('g') ? pattern.flags : `${pattern.flags}g`;
  const global = new RegExp(pattern.source, flags);
  const hits: Array<{ line: number; match: string }> = [];
  text.split(/\r?\n/).forEach((line, i) => {
    for (const m of line.matchAll(global)) hits.push({ line: i + 1, match: m[0] });
  });
  return hits;
}
