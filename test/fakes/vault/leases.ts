/**
 * The fake Vault's lease table for dynamic secrets
 * (https://developer.hashicorp.com/vault/docs/concepts/lease). Each lease belongs to the token that
 * read it and dies with that token. Real Vault revokes a revoked token's leases lazily (it marks
 * them expired and its expiration manager revokes them moments later; vault/expiration.go
 * RevokeByToken); `lazy` reproduces that window, otherwise the cascade is immediate.
 */
import { base62 } from './values.js';

export interface FakeLease {
  readonly id: string;
  readonly tokenId: string;
  readonly issuedAt: number;
  readonly expiresAt: number;
  readonly renewable: boolean;
  /** The upstream secret the lease stands for, e.g. a database user. */
  readonly secret: string;
  /** Set when its token was revoked under lazy revocation: still visible until processed. */
  revokePending: boolean;
}

export class LeaseStore {
  private readonly leases = new Map<string, FakeLease>();
  /** Upstream secrets (database users, certificates) that still work. */
  readonly liveSecrets = new Set<string>();
  lazy = false;
  /** Earliest expiry of any lease (ms): sweeps only when the clock reaches it. */
  private nextEnd = Infinity;

  constructor(private readonly now: () => number) {}

  create(path: string, tokenId: string, ttlSeconds: number, secret: string): FakeLease {
    const now = this.now();
    const lease: FakeLease = {
      id: `${path}/${base62(24)}`,
      tokenId,
      issuedAt: now,
      expiresAt: now + ttlSeconds * 1000,
      renewable: true,
      secret,
      revokePending: false,
    };
    this.leases.set(lease.id, lease);
    this.liveSecrets.add(secret);
    this.nextEnd = Math.min(this.nextEnd, lease.expiresAt);
    return lease;
  }

  lookup(id: string): FakeLease | undefined {
    this.expireDue();
    return this.leases.get(id);
  }

  /** `sys/leases/revoke` with sync: gone when this returns; unknown ids are a no-op, as in Vault. */
  revoke(id: string): void {
    const lease = this.leases.get(id);
    if (!lease) return;
    this.leases.delete(id);
    this.liveSecrets.delete(lease.secret);
  }

  revokeByToken(tokenId: string): void {
    for (const lease of [...this.leases.values()]) {
      if (lease.tokenId !== tokenId) continue;
      if (this.lazy) lease.revokePending = true;
      else this.revoke(lease.id);
    }
  }

  /** Runs the expiration manager: revokes leases pending revocation. */
  processPending(): void {
    for (const lease of [...this.leases.values()]) if (lease.revokePending) this.revoke(lease.id);
  }

  get size(): number {
    this.expireDue();
    return this.leases.size;
  }

  private expireDue(): void {
    const now = this.now();
    if (now < this.nextEnd) return;
    let next = Infinity;
    for (const lease of [...this.leases.values()]) {
      if (lease.expiresAt <= now && !lease.revokePending) this.revoke(lease.id);
      else if (lease.expiresAt > now) next = Math.min(next, lease.expiresAt);
    }
    this.nextEnd = next;
  }
}
