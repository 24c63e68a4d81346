/**
 * The console's only way to the broker: the public HTTP API (/openapi.json), with the operator
 * token in this module's memory only — never localStorage, sessionStorage or a cookie — so it dies
 * with the tab. GETs are conditional (If-None-Match with the ETag of the last answer), so polling
 * an unchanged view costs a 304 and no body.
 */

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

let token: string | null = null;
const sessionEnded = new Set<() => void>();
const cache = new Map<string, { readonly tag: string; readonly body: unknown }>();

export function setToken(value: string): void {
  token = value;
}

export function signOut(): void {
  token = null;
  cache.clear();
}

export const signedIn = (): boolean => token !== null;

/** Called when the broker refuses the token (expired, revoked key): the console asks to sign in again. */
export function onSessionEnded(listener: () => void): () => void {
  sessionEnded.add(listener);
  return () => sessionEnded.delete(listener);
}

async function errorOf(res: Response): Promise<ApiError> {
  let code = 'ERR_HTTP';
  let message = `${res.status} ${res.statusText}`;
  try {
    const body = (await res.json()) as { error?: { code?: unknown; message?: unknown } };
    if (typeof body.error?.code === 'string') code = body.error.code;
    if (typeof body.error?.message === 'string') message = body.error.message;
  } catch {
    /* not the JSON error envelope: keep the status line */
  }
  return new ApiError(res.status, code, message);
}

export async function api<T>(method: 'GET' | 'POST' | 'PATCH', path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (token !== null) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const cached = method === 'GET' ? cache.get(path) : undefined;
  if (cached) headers['if-none-match'] = cached.tag;
  const res = await fetch(path, {
    method,
    headers,
    cache: 'no-store',
    credentials: 'omit',
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  if (res.status === 304 && cached) return cached.body as T;
  if (!res.ok) {
    const error = await errorOf(res);
    if (res.status === 401 && token !== null) {
      signOut();
      for (const listener of sessionEnded) listener();
    }
    throw error;
  }
  const parsed = (await res.json()) as T;
  const tag = res.headers.get('etag');
  if (method === 'GET' && tag !== null) cache.set(path, { tag, body: parsed });
  return parsed;
}

export const enc = encodeURIComponent;
