/**
 * Live views without reloading: each view polls the API for what it shows (conditional GETs, so an
 * unchanged answer is a bodiless 304) and pauses while the tab is hidden. Polling rather than
 * server-sent events: an EventSource cannot send the bearer token (only cookies, which the console
 * does not use), and polling reaches every replica behind the load balancer alike.
 */
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { api, ApiError } from './api';

export interface Polled<T> {
  readonly data: T | null;
  readonly error: ApiError | null;
  /** Fetch now (after an action), without waiting for the next tick. */
  readonly refresh: () => Promise<void>;
}

const asApiError = (err: unknown): ApiError =>
  err instanceof ApiError ? err : new ApiError(0, 'ERR_NETWORK', 'the broker did not answer (network error)');

export function usePoll<T>(path: string | null, intervalMs: number): Polled<T> {
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const current = useRef(path);
  current.current = path;
  // The interval may change while polling (faster during a close) without starting over.
  const interval = useRef(intervalMs);
  interval.current = intervalMs;
  // Loads can overlap (a tick, a refresh after an action, a wake): only the latest one started may land.
  const latest = useRef(0);

  const load = useCallback(async (): Promise<void> => {
    if (path === null) return;
    const ticket = (latest.current += 1);
    try {
      const answer = await api<T>('GET', path);
      if (current.current === path && ticket === latest.current) {
        setData(answer);
        setError(null);
      }
    } catch (err) {
      if (current.current === path && ticket === latest.current) setError(asApiError(err));
    }
  }, [path]);

  useEffect(() => {
    setData(null);
    setError(null);
    if (path === null) return undefined;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let stopped = false;
    const tick = async (): Promise<void> => {
      if (!document.hidden) await load();
      if (!stopped) timer = setTimeout(() => void tick(), interval.current);
    };
    void tick();
    const wake = (): void => {
      if (!document.hidden) void load();
    };
    document.addEventListener('visibilitychange', wake);
    return () => {
      stopped = true;
      clearTimeout(timer);
      document.removeEventListener('visibilitychange', wake);
    };
  }, [path, load]);

  return { data, error, refresh: load };
}
