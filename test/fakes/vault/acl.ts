/**
 * ACL policies in Vault's JSON policy syntax (Vault accepts JSON wherever it accepts HCL:
 * https://developer.hashicorp.com/vault/docs/concepts/policies#policy-syntax). Enough of the
 * matching rules to prove the broker's documented minimum policy: exact paths, a trailing `*`
 * prefix glob, `+` for one segment; the most specific match per policy; `deny` wins.
 */
import { badRequest } from './values.js';

export type Capability = 'create' | 'read' | 'update' | 'delete' | 'list' | 'sudo' | 'deny';
type Rules = ReadonlyMap<string, ReadonlySet<Capability>>;

/**
 * The parts of Vault's built-in `default` policy the broker touches
 * (https://developer.hashicorp.com/vault/docs/concepts/policies#default-policy).
 */
const DEFAULT_POLICY = JSON.stringify({
  path: {
    'auth/token/lookup-self': { capabilities: ['read'] },
    'auth/token/renew-self': { capabilities: ['update'] },
    'auth/token/revoke-self': { capabilities: ['update'] },
    'sys/leases/lookup': { capabilities: ['update'] },
    'sys/leases/renew': { capabilities: ['update'] },
  },
});

export class AclStore {
  private readonly policies = new Map<string, Rules>();

  constructor() {
    this.put('default', DEFAULT_POLICY);
  }

  put(name: string, text: string): void {
    let doc: unknown;
    try {
      doc = JSON.parse(text);
    } catch {
      throw badRequest('failed to parse policy: the fake Vault accepts only the JSON policy syntax');
    }
    const paths = (doc as { path?: unknown } | null)?.path;
    if (typeof paths !== 'object' || paths === null) throw badRequest('failed to parse policy: no "path" object');
    const rules = new Map<string, Set<Capability>>();
    for (const [pattern, rule] of Object.entries(paths)) {
      const caps = (rule as { capabilities?: unknown } | null)?.capabilities;
      if (!Array.isArray(caps)) throw badRequest(`failed to parse policy: path ${pattern} has no capabilities`);
      rules.set(pattern, new Set(caps as Capability[]));
    }
    this.policies.set(name, rules);
  }

  has(name: string): boolean {
    return this.policies.has(name);
  }

  /** Whether any of `policies` grants one of `wanted` on `path` (and none denies it). */
  allows(policies: readonly string[], path: string, wanted: readonly Capability[]): boolean {
    if (policies.includes('root')) return true;
    let granted = false;
    for (const name of policies) {
      const caps = mostSpecific(this.policies.get(name), path);
      if (!caps) continue;
      if (caps.has('deny')) return false;
      if (wanted.some((c) => caps.has(c))) granted = true;
    }
    return granted;
  }
}

function mostSpecific(rules: Rules | undefined, path: string): ReadonlySet<Capability> | undefined {
  if (!rules) return undefined;
  const exact = rules.get(path);
  if (exact) return exact;
  let best: { score: number; caps: ReadonlySet<Capability> } | undefined;
  for (const [pattern, caps] of rules) {
    if (!matches(pattern, path)) continue;
    // Longer literal text is more specific (Vault's priority rules, simplified).
    const score = pattern.replace(/[*+]/gu, '').length;
    if (!best || score > best.score) best = { score, caps };
  }
  return best?.caps;
}

function matches(pattern: string, path: string): boolean {
  const prefix = pattern.endsWith('*');
  const body = prefix ? pattern.slice(0, -1) : pattern;
  const source = body
    .split('+')
    .map((part) => part.replace(/[.?^${}()|[\]\\/]/gu, '\\$&'))
    .join('[^/]+');
  return new RegExp(`^${source}${prefix ? '' : '$'}`, 'u').test(path);
}
