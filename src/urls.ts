/**
 * Loopback addresses: where plain http, a development listener or an unencrypted Redis is
 * acceptable, because the bytes never leave the host (a local Vault agent, a sidecar, tests).
 */
export function isLoopbackHost(hostname: string): boolean {
  const host = hostname.startsWith('[') && hostname.endsWith(']') ? hostname.slice(1, -1) : hostname;
  return host === 'localhost' || host === '::1' || /^127(?:\.\d{1,3}){3}$/u.test(host);
}

/** True for a parseable URL whose host is a loopback address. */
export function isLoopbackUrl(value: string): boolean {
  try {
    return isLoopbackHost(new URL(value).hostname);
  } catch {
    return false;
  }
}
