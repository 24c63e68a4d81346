/**
 * The shared provider contract (CONTRIBUTING.md #17): every provider runs this suite against its real
 * client (jwt locally; Vault and AWS against their fake servers). It checks what core relies on
 * at the boundary, so a provider bug fails here rather than in an incident.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GrantRef, IssuedCredential, IssueRequest, Provider, RevocationReceipt } from '../../src/sdk.js';

export interface ProviderContractSetup<P> {
  readonly provider: Provider<P>;
  readonly profile: { readonly name: string; readonly params: P };
  cleanup(): Promise<void>;
}

const AGENT = { id: 'spiffe://contract.test/agent/runner', issuer: 'https://issuer.contract.test' } as const;

export function describeProviderContract<P>(name: string, setup: () => Promise<ProviderContractSetup<P>>): void {
  describe(`provider contract: ${name}`, () => {
    let current: ProviderContractSetup<P> | undefined;
    beforeAll(async () => {
      current = await setup();
    });
    afterAll(async () => {
      await current?.cleanup();
    });
    const ctx = {
      get provider(): Provider<P> {
        if (!current) throw new Error('provider contract setup failed');
        return current.provider;
      },
      get profile(): ProviderContractSetup<P>['profile'] {
        if (!current) throw new Error('provider contract setup failed');
        return current.profile;
      },
    };

    /** A TTL every provider accepts: 5 minutes, moved into [min, max]. */
    const ttl = (): number => {
      const { minTtlSeconds, maxTtlSeconds } = ctx.provider.capabilities;
      return Math.min(Math.max(300, minTtlSeconds), maxTtlSeconds);
    };
    const request = (overrides: Partial<IssueRequest<P>> = {}): IssueRequest<P> => ({
      grantId: `grt_${randomUUID()}`,
      incidentId: `inc_${randomUUID()}`,
      agent: AGENT,
      profile: ctx.profile,
      ttlSeconds: ttl(),
      purpose: 'provider contract test',
      signal: new AbortController().signal,
      ...overrides,
    });
    const refOf = (req: IssueRequest<P>, issued: IssuedCredential): GrantRef => ({
      grantId: req.grantId,
      incidentId: req.incidentId,
      handle: issued.handle,
      expiresAt: issued.expiresAt,
    });
    const secretsOf = (issued: IssuedCredential): string[] => issued.secretFields.map((f) => String(issued.credential[f]));

    it('declares sane capabilities', () => {
      const caps = ctx.provider.capabilities;
      expect(ctx.provider.name).toMatch(/^[a-z][a-z0-9_]*$/u);
      expect(['upstream', 'ledger', 'none']).toContain(caps.grantRevocation);
      expect(Number.isInteger(caps.minTtlSeconds) && Number.isInteger(caps.maxTtlSeconds)).toBe(true);
      expect(caps.minTtlSeconds).toBeGreaterThanOrEqual(1);
      expect(caps.minTtlSeconds).toBeLessThanOrEqual(caps.maxTtlSeconds);
      // A provider must be able to take a credential back somehow, or only expiry would end it.
      expect(caps.grantRevocation !== 'none' || caps.incidentRevocation).toBe(true);
      if (caps.incidentRevocation) expect(typeof ctx.provider.revokeIncident).toBe('function');
    });

    it('reports itself healthy', async () => {
      const health = await ctx.provider.health(new AbortController().signal);
      expect(health.ok).toBe(true);
    });

    it('issues a credential that expires within its TTL', async () => {
      const req = request();
      const before = Date.now();
      const issued = await ctx.provider.issue(req);
      const after = Date.now();
      expect(Number.isFinite(issued.expiresAt)).toBe(true);
      expect(issued.expiresAt).toBeGreaterThan(before);
      expect(issued.expiresAt).toBeLessThanOrEqual(after + req.ttlSeconds * 1000);
    });

    it('returns every secret field in the credential and none of them in the handle', async () => {
      const issued = await ctx.provider.issue(request());
      expect(issued.secretFields.length).toBeGreaterThan(0);
      for (const field of issued.secretFields) {
        expect(issued.credential, `secret field ${field}`).toHaveProperty([field]);
        expect(String(issued.credential[field]).length).toBeGreaterThan(0);
      }
      // The handle is stored in the ledger and shown to operators (guarantee 5).
      const handleJson = JSON.stringify(issued.handle);
      expect(JSON.parse(handleJson)).toEqual(issued.handle);
      for (const secret of secretsOf(issued)) expect(handleJson).not.toContain(secret);
    });

    it('gives different secrets to two issues', async () => {
      const first = secretsOf(await ctx.provider.issue(request()));
      const second = secretsOf(await ctx.provider.issue(request()));
      for (const secret of second) expect(first).not.toContain(secret);
    });

    /** A provider whose revocation bites after upstream propagation says `denied`, never confirmed; any other says revoked. */
    const revokedOutcome = (): string => (ctx.provider.capabilities.revocationTakesEffect === 'after_propagation' ? 'denied' : 'revoked');
    const expectHonest = (receipt: RevocationReceipt): void => {
      expect([revokedOutcome(), 'already_dead']).toContain(receipt.outcome);
      if (receipt.outcome === 'denied') expect(receipt.confirmed).toBe(false);
    };

    it('revokes a grant idempotently', async () => {
      const req = request();
      const ref = refOf(req, await ctx.provider.issue(req));
      const first = await ctx.provider.revokeGrant({ ...ref, signal: new AbortController().signal });
      const second = await ctx.provider.revokeGrant({ ...ref, signal: new AbortController().signal });
      expect(first).toMatchObject({ grantId: req.grantId, outcome: revokedOutcome() });
      expectHonest(first);
      expect(second.grantId).toBe(req.grantId);
      expectHonest(second);
    });

    it('revokes a whole incident covering every grant given, when it declares incidentRevocation', async () => {
      const revokeIncident = ctx.provider.revokeIncident?.bind(ctx.provider);
      if (!ctx.provider.capabilities.incidentRevocation || !revokeIncident) {
        // Without incident revocation, per-grant revocation is the only way to take it back.
        expect(ctx.provider.capabilities.grantRevocation).not.toBe('none');
        return;
      }
      const incidentId = `inc_${randomUUID()}`;
      const refs: GrantRef[] = [];
      for (let i = 0; i < 2; i++) {
        const req = request({ incidentId });
        refs.push(refOf(req, await ctx.provider.issue(req)));
      }
      const receipts = await revokeIncident({ incidentId, grants: refs, signal: new AbortController().signal });
      expect(receipts.map((r) => r.grantId).sort()).toEqual(refs.map((r) => r.grantId).sort());
      for (const r of receipts) expectHonest(r);
      const again = await revokeIncident({ incidentId, grants: refs, signal: new AbortController().signal });
      expect(again.map((r) => r.grantId).sort()).toEqual(refs.map((r) => r.grantId).sort());
    });

    it('kills a whole incident from its own records, when it has killIncident, and receipts still follow for every grant', async () => {
      const kill = ctx.provider.killIncident?.bind(ctx.provider);
      const revokeIncident = ctx.provider.revokeIncident?.bind(ctx.provider);
      if (!kill) return;
      // Core calls it only beside revokeIncident, which must still cover every grant afterwards.
      expect(ctx.provider.capabilities.incidentRevocation).toBe(true);
      expect(typeof revokeIncident).toBe('function');
      const incidentId = `inc_${randomUUID()}`;
      const refs: GrantRef[] = [];
      for (let i = 0; i < 2; i++) {
        const req = request({ incidentId });
        refs.push(refOf(req, await ctx.provider.issue(req)));
      }
      expect(await kill({ incidentId: `inc_${randomUUID()}`, signal: new AbortController().signal })).toBe(false);
      expect(await kill({ incidentId, signal: new AbortController().signal })).toBe(true);
      // Idempotent: nothing is left to end.
      expect(await kill({ incidentId, signal: new AbortController().signal })).toBe(false);
      const receipts = (await revokeIncident?.({ incidentId, grants: refs, signal: new AbortController().signal })) ?? [];
      expect(receipts.map((r) => r.grantId).sort()).toEqual(refs.map((r) => r.grantId).sort());
      for (const r of receipts) {
        expectHonest(r);
        // The kill ended them in this process: the receipts say so, not "already dead".
        expect(r.outcome).toBe(revokedOutcome());
      }
    });

    it('rejects an issue whose signal is already aborted', async () => {
      const controller = new AbortController();
      controller.abort(new Error('caller gave up'));
      await expect(ctx.provider.issue(request({ signal: controller.signal }))).rejects.toThrow();
    });
  });
}
