/**
 * The agent-facing reads of the grants module in-process (grant_world.ts): an agent's own grant
 * (another agent's is not found, like one that does not exist), its own grants in every incident
 * or in one, the profiles with what each allows this agent, and RFC 7662 introspection, where a
 * token is active only if a provider verifies it AND the ledger holds its grant active.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import type { Catalog } from '../../src/catalog/catalog.js';
import { getOwnGrant } from '../../src/grants/get_grant.js';
import { introspectToken, introspectorsOf } from '../../src/grants/introspect.js';
import { issueGrant } from '../../src/grants/issue_grant.js';
import { listOwnGrants } from '../../src/grants/list_grants.js';
import { listProfilesFor } from '../../src/grants/list_profiles.js';
import { releaseGrant } from '../../src/grants/release_grant.js';
import type { Grant } from '../../src/model.js';
import type { Provider, TokenIntrospector } from '../../src/sdk.js';
import type { Store } from '../../src/store/store.js';
import type { PolicyDecision, PolicyRequest } from '../../src/policy/policy_set.js';
import { quarantineAgent } from '../../src/agents/quarantine.js';
import { agent, agentNamed, createGrantWorld, INCIDENT, request, T0, type GrantWorld } from './grant_world.js';

const OTHER_INCIDENT = 'INC-GRANTS-2';

describe('grant reads', () => {
  let w: GrantWorld;
  const issueAs = async (who = agent, incidentId = INCIDENT): Promise<Grant> => {
    const outcome = await issueGrant(w.deps, who, { ...request, incidentId });
    if (outcome.status !== 'issued') throw new Error('expected an issued grant');
    return outcome.grant;
  };

  beforeEach(async () => {
    w = await createGrantWorld();
    await w.store.createIncident({
      id: OTHER_INCIDENT,
      source: 'api',
      title: 't',
      severity: 'sev2',
      status: 'open',
      openedAt: T0,
      openedBy: 'op',
    });
  });

  describe('getOwnGrant', () => {
    it("returns the agent's own grant as the ledger holds it", async () => {
      const grant = await issueAs();
      await expect(getOwnGrant(w.deps, agent, grant.id)).resolves.toEqual(await w.store.getGrant(grant.id));
      expect((await getOwnGrant(w.deps, agent, grant.id)).id).toBe(grant.id);
    });

    it("answers another agent's grant 404 ERR_GRANT_NOT_FOUND, exactly like a grant that does not exist", async () => {
      const grant = await issueAs();
      await expect(getOwnGrant(w.deps, agent, grant.id)).resolves.toMatchObject({ id: grant.id });
      const strangers = getOwnGrant(w.deps, agentNamed('contain'), grant.id);
      await expect(strangers).rejects.toMatchObject({ code: 'ERR_GRANT_NOT_FOUND', status: 404 });
      const missing = getOwnGrant(w.deps, agent, 'g-does-not-exist');
      await expect(missing).rejects.toMatchObject({ code: 'ERR_GRANT_NOT_FOUND', status: 404 });
      const [a, b] = await Promise.allSettled([strangers, missing]);
      expect(a).toEqual(b);
    });
  });

  describe('listOwnGrants', () => {
    it("lists the agent's own grants, oldest first, in every incident or in the one asked", async () => {
      const first = await issueAs(agent, INCIDENT);
      w.now = T0 + 1000;
      const second = await issueAs(agent, OTHER_INCIDENT);
      w.now = T0 + 2000;
      const third = await issueAs(agent, INCIDENT);
      const theirs = await issueAs(agentNamed('contain'), INCIDENT);

      expect((await listOwnGrants(w.deps, agent)).map((g) => g.id)).toEqual([first.id, second.id, third.id]);
      expect((await listOwnGrants(w.deps, agent, INCIDENT)).map((g) => g.id)).toEqual([first.id, third.id]);
      expect((await listOwnGrants(w.deps, agent, OTHER_INCIDENT)).map((g) => g.id)).toEqual([second.id]);
      expect((await listOwnGrants(w.deps, agentNamed('contain'))).map((g) => g.id)).toEqual([theirs.id]);
      expect(await listOwnGrants(w.deps, agent, 'INC-UNKNOWN')).toEqual([]);
    });

    it('asks the store for one incident only when one is named: no incidentId member otherwise (the port takes no undefined)', async () => {
      const asked: unknown[] = [];
      const recording: Store = {
        ...w.store,
        listGrantsByAgent: (agentId, options) => {
          asked.push(options);
          return w.store.listGrantsByAgent(agentId, options);
        },
      };
      const deps = { store: recording };
      await listOwnGrants(deps, agent, INCIDENT);
      await listOwnGrants(deps, agent);
      expect(asked).toHaveLength(2);
      expect(asked[0]).toStrictEqual({ incidentId: INCIDENT });
      expect(asked[1]).toStrictEqual({});
    });
  });

  describe('listProfilesFor', () => {
    it('offers every profile with its longest TTL and whether this agent may request it', async () => {
      const offer = {
        name: 'p',
        description: '',
        provider: 'held',
        tier: 'read',
        // min(profile maxTtl 900, provider maximum 3600)
        maxTtlSeconds: 900,
        approvalRequired: false,
      };
      expect(await listProfilesFor(w.deps, agent)).toEqual([{ ...offer, allowed: true, decidedBy: ['profiles.p.agents'] }]);
      // Not a lower-case name: the profile's pattern does not match it.
      expect(await listProfilesFor(w.deps, { ...agent, id: 'spiffe://dev.local/agent/Triage' })).toEqual([
        { ...offer, allowed: false, decidedBy: ['profiles.p.agents'] },
      ]);
    });

    describe('for an incident, with a policy', () => {
      /** A policy answering from a script by `approved`, recording what it was asked. */
      const scripted = (asIs: PolicyDecision, approved: PolicyDecision = asIs, notes: Record<string, string> = {}) => {
        const asked: PolicyRequest[] = [];
        return {
          asked,
          annotationsAsked: [] as string[],
          decide(r: PolicyRequest): PolicyDecision {
            asked.push(r);
            return r.approved ? approved : asIs;
          },
          annotations(id: string) {
            this.annotationsAsked.push(id);
            return notes;
          },
        };
      };
      const allow = (...policyIds: string[]): PolicyDecision => ({ effect: 'allow', policyIds, errors: [] });
      const deny = (...policyIds: string[]): PolicyDecision => ({ effect: 'deny', policyIds, errors: [] });
      const offerOf = async (deps: Parameters<typeof listProfilesFor>[0], who = agent, incidentId: string | undefined = INCIDENT) => {
        const [offer] = await listProfilesFor(deps, who, incidentId);
        if (!offer) throw new Error('the world has profile p');
        return offer;
      };

      it('asks the policy as a grant request would: the default TTL, no purpose, the quarantine, the incident', async () => {
        const policy = scripted(allow('tier-read'));
        const offer = await offerOf({ ...w.deps, policy });
        expect(offer).toMatchObject({ allowed: true, decidedBy: ['profiles.p.agents', 'policy:tier-read'], approvalRequired: false });
        expect(policy.asked).toHaveLength(1);
        expect(policy.asked[0]).toMatchObject({
          ttlSeconds: 600,
          purpose: '',
          quarantined: false,
          approved: false,
          incident: { id: INCIDENT },
        });
        await quarantineAgent({ ...w.deps, nudgeRevocation: () => undefined }, agent.id, 'test', 'op');
        await offerOf({ ...w.deps, policy });
        expect(policy.asked[1]?.quarantined).toBe(true);
      });

      it('names what refused, and says when an allowed profile waits for approval, with the rule from the policy that asked', async () => {
        expect(await offerOf({ ...w.deps, policy: scripted(deny('ttl-cap')) })).toMatchObject({
          allowed: false,
          decidedBy: ['policy:ttl-cap'],
        });
        const asking = scripted(deny('needs-approval'), allow('tier-read'), { quorum: '2' });
        expect(await offerOf({ ...w.deps, policy: asking })).toMatchObject({ allowed: true, approvalRequired: true });
        expect(asking.annotationsAsked).toEqual(['needs-approval']);
      });

      it('refuses every profile for a closed or unknown incident without asking the policy', async () => {
        const policy = scripted(allow('tier-read'));
        await w.store.closeIncident(INCIDENT, T0, 'op');
        expect(await offerOf({ ...w.deps, policy })).toMatchObject({ allowed: false, decidedBy: ['incident'] });
        expect(await offerOf({ ...w.deps, policy }, agent, 'INC-NONE')).toMatchObject({ allowed: false, decidedBy: ['incident'] });
        expect(policy.asked).toHaveLength(0);
      });

      it('reads nothing of the incident for an agent no profile admits', async () => {
        let reads = 0;
        const counting: Store = { ...w.store, getIncident: async (id) => ((reads += 1), w.store.getIncident(id)) };
        await listProfilesFor({ ...w.deps, store: counting }, agent, INCIDENT);
        expect(reads).toBe(1);
        reads = 0;
        const stranger = { ...agent, id: 'spiffe://dev.local/agent/Stranger' };
        expect((await offerOf({ ...w.deps, store: counting }, stranger)).allowed).toBe(false);
        expect(reads).toBe(0);
      });

      it('passes on an error that is no refusal', async () => {
        const broken = {
          decide: () => {
            throw new Error('cedar fault');
          },
          annotations: () => ({}),
        };
        await expect(listProfilesFor({ ...w.deps, policy: broken }, agent, INCIDENT)).rejects.toThrow('cedar fault');
      });
    });

    it("caps the TTL at the provider's maximum when it is lower than the profile's", async () => {
      const [entry] = w.deps.catalog.profiles();
      if (!entry) throw new Error('the world has profile p');
      const lowCap = { ...entry.provider, capabilities: { ...entry.provider.capabilities, maxTtlSeconds: 120 } };
      const catalog: Catalog = { ...w.deps.catalog, profiles: () => [{ ...entry, provider: lowCap }] };
      expect((await listProfilesFor({ ...w.deps, catalog }, agent)).map((o) => o.maxTtlSeconds)).toEqual([120]);
    });
  });

  describe('introspectToken', () => {
    /** An introspector that verifies `<prefix>:<grantId>` and nothing else. */
    const verifying = (prefix: string): TokenIntrospector => ({
      async verifyIssued(token) {
        const [p, grantId] = token.split(':');
        return p === prefix && grantId ? { grantId, claims: { iss: prefix, sub: grantId } } : null;
      },
      publicJwks: () => ({ keys: [] }),
    });
    /** The world's catalog with three providers: one without an introspector, then `first`, then `second`. */
    const depsWithIntrospectors = () => {
      const held = w.deps.catalog.provider('held');
      if (!held) throw new Error('the world has provider held');
      const providers: Provider[] = [
        held,
        { ...held, name: 'first', introspector: verifying('first') },
        { ...held, name: 'second', introspector: verifying('second') },
      ];
      return { ...w.deps, catalog: { ...w.deps.catalog, providers: () => providers } };
    };

    const ALL = { kind: 'all' } as const;
    const only = (...audiences: string[]) => ({ kind: 'audiences', audiences: new Set(audiences) }) as const;

    it("tells an introspection client only of its own audiences' tokens, by aud as a string or a list", async () => {
      const grant = await issueAs();
      const held = w.deps.catalog.provider('held');
      if (!held) throw new Error('the world has provider held');
      const withAud = (aud: unknown): Provider => ({
        ...held,
        name: 'aud',
        introspector: { verifyIssued: async () => ({ grantId: grant.id, claims: { aud } }), publicJwks: () => ({ keys: [] }) },
      });
      const deps = (aud: unknown) => ({ ...w.deps, catalog: { ...w.deps.catalog, providers: () => [withAud(aud)] } });
      await expect(introspectToken(deps('urn:a'), 't', ALL)).resolves.toMatchObject({ active: true });
      await expect(introspectToken(deps('urn:a'), 't', only('urn:a'))).resolves.toMatchObject({ active: true });
      await expect(introspectToken(deps('urn:a'), 't', only('urn:b'))).resolves.toEqual({ active: false });
      await expect(introspectToken(deps(['urn:x', 'urn:a']), 't', only('urn:a'))).resolves.toMatchObject({ active: true });
      await expect(introspectToken(deps(['urn:x', 'urn:y']), 't', only('urn:a', 'urn:b'))).resolves.toEqual({ active: false });
      // No aud, or one that is not strings, belongs to no client.
      await expect(introspectToken(deps(undefined), 't', only('urn:a'))).resolves.toEqual({ active: false });
      await expect(introspectToken(deps([1, { a: 1 }]), 't', only('urn:a'))).resolves.toEqual({ active: false });
      await expect(introspectToken(deps(['urn:a', 2]), 't', only('urn:a'))).resolves.toMatchObject({ active: true });
      // An inactive grant stays inactive to its own client.
      await releaseGrant(w.deps, agent, grant.id);
      await expect(introspectToken(deps('urn:a'), 't', only('urn:a'))).resolves.toEqual({ active: false });
    });

    it('collects the introspectors of the providers that have one, in catalog order', () => {
      const deps = depsWithIntrospectors();
      expect(introspectorsOf(w.deps.catalog)).toEqual([]);
      expect(introspectorsOf(deps.catalog)).toEqual(
        deps.catalog
          .providers()
          .slice(1)
          .map((p) => p.introspector),
      );
    });

    it("answers active with the verifying provider's claims while the grant is active, whichever provider verifies it", async () => {
      const deps = depsWithIntrospectors();
      const grant = await issueAs();
      await expect(introspectToken(deps, `first:${grant.id}`, ALL)).resolves.toEqual({
        active: true,
        claims: { iss: 'first', sub: grant.id },
      });
      await expect(introspectToken(deps, `second:${grant.id}`, ALL)).resolves.toEqual({
        active: true,
        claims: { iss: 'second', sub: grant.id },
      });
    });

    it('answers inactive for a token no provider verifies', async () => {
      const deps = depsWithIntrospectors();
      const grant = await issueAs();
      await expect(introspectToken(deps, `first:${grant.id}`, ALL)).resolves.toMatchObject({ active: true });
      await expect(introspectToken(deps, `third:${grant.id}`, ALL)).resolves.toEqual({ active: false });
      await expect(introspectToken(w.deps, `first:${grant.id}`, ALL)).resolves.toEqual({ active: false });
    });

    it('answers inactive for a verified token whose grant the ledger does not hold', async () => {
      const deps = depsWithIntrospectors();
      const grant = await issueAs();
      await expect(introspectToken(deps, `second:${grant.id}`, ALL)).resolves.toMatchObject({ active: true });
      await expect(introspectToken(deps, 'second:g-not-in-the-ledger', ALL)).resolves.toEqual({ active: false });
    });

    it('answers inactive once the grant is released, while the token still verifies', async () => {
      const deps = depsWithIntrospectors();
      const grant = await issueAs();
      await expect(introspectToken(deps, `first:${grant.id}`, ALL)).resolves.toMatchObject({ active: true });
      await releaseGrant(w.deps, agent, grant.id);
      await expect(introspectToken(deps, `first:${grant.id}`, ALL)).resolves.toEqual({ active: false });
      await expect(introspectToken(deps, `second:${grant.id}`, ALL)).resolves.toEqual({ active: false });
    });

    it('answers inactive once the grant is past its expiry by the clock, before any sweep marks it', async () => {
      const deps = depsWithIntrospectors();
      const grant = await issueAs();
      w.now = grant.expiresAt - 1;
      await expect(introspectToken(deps, `first:${grant.id}`, ALL)).resolves.toMatchObject({ active: true });
      w.now = grant.expiresAt;
      expect((await w.store.getGrant(grant.id))?.state).toBe('active');
      await expect(introspectToken(deps, `first:${grant.id}`, ALL)).resolves.toEqual({ active: false });
    });
  });
});
