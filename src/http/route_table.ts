/**
 * Which route pattern a request is for, from the table of every route the broker serves
 * (openapi.ts OPERATIONS; test/http/openapi.test.ts proves the table and Express's own routes are
 * the same set). Matching follows Express's router: case-insensitive, an optional trailing slash,
 * a parameter is one or more characters other than `/`, matched on the raw (still encoded) path.
 *
 * Metric labels and log lines use the pattern, never the client's spelling of the path: routing
 * ignores case, so labelling by the path let 50 case variants of one URL make 50 series. A path
 * no route has is `unmatched`; a known path with a method it lacks answers 405 with `Allow`.
 */
export interface MatchedRoute {
  /** The route as /openapi.json names it, e.g. `/v1/incidents/{id}/close`. */
  readonly pattern: string;
  /** Methods the route serves, as an `Allow` header lists them (HEAD wherever GET is; OPTIONS everywhere). */
  readonly allow: readonly string[];
  readonly methodAllowed: boolean;
}

export type RouteMatcher = (method: string, path: string) => MatchedRoute | null;

interface Entry {
  readonly pattern: string;
  readonly regex: RegExp;
  readonly allow: readonly string[];
}

const escapeRegex = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

export function createRouteMatcher(operations: readonly { readonly method: string; readonly path: string }[]): RouteMatcher {
  const methods = new Map<string, Set<string>>();
  for (const op of operations) {
    const set = methods.get(op.path) ?? new Set<string>(['OPTIONS']);
    set.add(op.method.toUpperCase());
    if (op.method.toUpperCase() === 'GET') set.add('HEAD');
    methods.set(op.path, set);
  }
  const entries: Entry[] = [...methods].map(([pattern, set]) => ({
    pattern,
    regex: new RegExp(
      `^${pattern
        .split(/(\{[^}]+\})/)
        .map((part) => (part.startsWith('{') ? '[^/]+' : escapeRegex(part)))
        .join('')}/?$`,
      'i',
    ),
    allow: [...set].sort(),
  }));
  return (method, path) => {
    for (const entry of entries) {
      if (entry.regex.test(path))
        return { pattern: entry.pattern, allow: entry.allow, methodAllowed: entry.allow.includes(method.toUpperCase()) };
    }
    return null;
  };
}
