/**
 * Hash routes (`#/incidents/INC-1`): the broker serves one page at /console/, so a route never
 * needs the server, and a link can be shared or bookmarked.
 */
import { useEffect, useState } from 'preact/hooks';

export type Route =
  | { readonly view: 'incidents' }
  | { readonly view: 'incident'; readonly id: string }
  | { readonly view: 'report'; readonly id: string }
  | { readonly view: 'approvals' }
  | { readonly view: 'agent'; readonly agent: string };

const decode = (part: string): string | null => {
  try {
    return decodeURIComponent(part);
  } catch {
    return null;
  }
};

export function parseRoute(hash: string): Route {
  const parts = hash.replace(/^#\/?/u, '').split('/');
  const [head, arg, tail] = parts;
  const value = arg === undefined ? null : decode(arg);
  if (head === 'approvals' && parts.length === 1) return { view: 'approvals' };
  if (head === 'incidents' && value && tail === 'report' && parts.length === 3) return { view: 'report', id: value };
  if (head === 'incidents' && value && parts.length === 2) return { view: 'incident', id: value };
  if (head === 'agents' && value && parts.length === 2) return { view: 'agent', agent: value };
  return { view: 'incidents' };
}

export const href = {
  incidents: (): string => '#/',
  incident: (id: string): string => `#/incidents/${encodeURIComponent(id)}`,
  report: (id: string): string => `#/incidents/${encodeURIComponent(id)}/report`,
  approvals: (): string => '#/approvals',
  agent: (agent: string): string => `#/agents/${encodeURIComponent(agent)}`,
};

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseRoute(location.hash));
  useEffect(() => {
    const changed = (): void => setRoute(parseRoute(location.hash));
    window.addEventListener('hashchange', changed);
    return () => window.removeEventListener('hashchange', changed);
  }, []);
  return route;
}
