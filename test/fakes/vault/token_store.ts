/**
 * The fake Vault's token store, with the semantics the broker relies on
 * (https://developer.hashicorp.com/vault/docs/concepts/tokens):
 *  - every token but an orphan has a parent; revoking or expiring a parent revokes its whole
 *    subtree, and each revoked token's leases (the `onRevoke` hook);
 *  - TTLs run on an injectable clock and are capped by `explicit_max_ttl`;
 *  - `num_uses` counts down with every authenticated request; the last use is served, then the
 *    token is revoked like any other.
 */
import { newAccessor, newTokenId } from './values.js';

export interface FakeToken {
  readonly id: string;
  readonly accessor: string;
  readonly policies: readonly string[];
  readonly parentId: string | null;
  readonly children: Set<string>;
  readonly meta: Readonly<Record<string, string>>;
  readonly displayName: string;
  /** The API path that created it, e.g. `auth/token/create/qm-incident`. */
  readonly path: string;
  readonly createdAt: number;
  readonly creationTtlSeconds: number;
  /** ms since epoch; null = never (root). */
  expiresAt: number | null;
  readonly explicitMaxTtlSeconds: number;
  /** Absolute cap from explicit_max_ttl, ms; null = none. */
  readonly hardExpiresAt: number | null;
  numUses: number;
  readonly renewable: boolean;
  readonly orphan: boolean;
}

export interface CreateTokenInput {
  readonly policies: readonly string[];
  readonly parentId: string | null;
  readonly meta?: Readonly<Record<string, string>>;
  readonly displayName?: string;
  readonly path: string;
  /** 0 = no expiry (only for root). */
  readonly ttlSeconds: number;
  readonly explicitMaxTtlSeconds?: number;
  readonly numUses?: number;
  readonly renewable?: boolean;
  readonly id?: string;
}

export class TokenStore {
  private readonly tokens = new Map<string, FakeToken>();
  private readonly byAccessorIndex = new Map<string, string>();
  /** Every token ever revoked or expired, by accessor: how tests confirm "dead". */
  readonly dead = new Set<string>();
  /** Earliest end of any live token (ms): sweeps only when the clock reaches it, so requests stay O(1). */
  private nextEnd = Infinity;

  constructor(
    private readonly now: () => number,
    private readonly onRevoke: (token: FakeToken) => void,
  ) {}

  create(input: CreateTokenInput): FakeToken {
    const now = this.now();
    const explicitMax = input.explicitMaxTtlSeconds ?? 0;
    let ttl = input.ttlSeconds;
    if (explicitMax > 0 && (ttl === 0 || ttl > explicitMax)) ttl = explicitMax;
    const token: FakeToken = {
      id: input.id ?? newTokenId(),
      accessor: newAccessor(),
      policies: [...input.policies],
      parentId: input.parentId,
      children: new Set(),
      meta: { ...input.meta },
      displayName: input.displayName ?? 'token',
      path: input.path,
      createdAt: now,
      creationTtlSeconds: ttl,
      expiresAt: ttl > 0 ? now + ttl * 1000 : null,
      explicitMaxTtlSeconds: explicitMax,
      hardExpiresAt: explicitMax > 0 ? now + explicitMax * 1000 : null,
      numUses: input.numUses ?? 0,
      renewable: input.renewable ?? true,
      orphan: input.parentId === null,
    };
    this.tokens.set(token.id, token);
    this.byAccessorIndex.set(token.accessor, token.id);
    this.nextEnd = Math.min(this.nextEnd, endOf(token));
    if (input.parentId !== null) this.tokens.get(input.parentId)?.children.add(token.id);
    return token;
  }

  /** A live token by id, after expiring whatever is due. */
  byId(id: string): FakeToken | undefined {
    this.expireDue();
    return this.tokens.get(id);
  }

  byAccessor(accessor: string): FakeToken | undefined {
    this.expireDue();
    const id = this.byAccessorIndex.get(accessor);
    return id === undefined ? undefined : this.tokens.get(id);
  }

  get size(): number {
    this.expireDue();
    return this.tokens.size;
  }

  all(): FakeToken[] {
    this.expireDue();
    return [...this.tokens.values()];
  }

  /** Revokes the token and its whole subtree (children first, like Vault's revokeTree). */
  revokeTree(id: string): void {
    const root = this.tokens.get(id);
    if (!root) return;
    for (const child of [...root.children]) this.revokeTree(child);
    this.tokens.delete(id);
    this.byAccessorIndex.delete(root.accessor);
    this.dead.add(root.accessor);
    if (root.parentId !== null) this.tokens.get(root.parentId)?.children.delete(id);
    this.onRevoke(root);
  }

  /** Counts one use of a limited-use token; true when that was its last one. */
  use(token: FakeToken): boolean {
    if (token.numUses <= 0) return false;
    token.numUses -= 1;
    return token.numUses === 0;
  }

  /** Extends a renewable token's TTL, never past explicit_max_ttl. Returns the new TTL in seconds. */
  renew(token: FakeToken, incrementSeconds: number): number {
    const now = this.now();
    let until = now + (incrementSeconds > 0 ? incrementSeconds : token.creationTtlSeconds) * 1000;
    if (token.hardExpiresAt !== null) until = Math.min(until, token.hardExpiresAt);
    token.expiresAt = until;
    this.nextEnd = Math.min(this.nextEnd, until);
    return Math.max(0, Math.floor((until - now) / 1000));
  }

  ttlSeconds(token: FakeToken): number {
    return token.expiresAt === null ? 0 : Math.max(0, Math.floor((token.expiresAt - this.now()) / 1000));
  }

  /** Expiry is revocation: an expired parent takes its children and their leases with it. */
  expireDue(): void {
    const now = this.now();
    if (now < this.nextEnd) return;
    const due: string[] = [];
    let next = Infinity;
    for (const t of this.tokens.values()) {
      const end = endOf(t);
      if (end <= now) due.push(t.id);
      else next = Math.min(next, end);
    }
    this.nextEnd = next;
    for (const id of due) this.revokeTree(id);
  }
}

function endOf(t: FakeToken): number {
  return Math.min(t.expiresAt ?? Infinity, t.hardExpiresAt ?? Infinity);
}
