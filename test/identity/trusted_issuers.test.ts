/**
 * The trust table (src/identity/trusted_issuers.ts): one frozen entry per configured issuer, with
 * the rules, algorithms and key source its config names, and the routing that picks exactly one
 * entry for a token before its signature is checked.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { buildTrustTable, routeAgent, routeOperator, type TrustTable } from '../../src/identity/trusted_issuers.js';
import { createLogger } from '../../src/logging.js';
import { AUDIENCE, CI_ISS, createWorld, DEV_ISS, OPERATOR_AUDIENCE, OPERATOR_ISS, START, type World } from './identity_world.js';

let world: World | undefined;
afterEach(() => world?.cleanup());

function table(overrides?: (raw: Record<string, any>) => void): TrustTable {
  world = createWorld(() => START);
  return buildTrustTable(world.config(overrides), { logger: createLogger({ level: 'silent' }), now: () => START });
}

describe('trust table', () => {
  it('holds one frozen entry per trust domain, OIDC issuer and the operator issuer, in config order', () => {
    const t = table();
    expect([...t.spiffe.keys()]).toEqual(['dev.local', 'other.example']);
    expect([...t.oidc.keys()]).toEqual([CI_ISS]);
    expect(t.all.map((e) => e.label)).toEqual([
      'identity.agents.spiffe[dev.local]',
      'identity.agents.spiffe[other.example]',
      'identity.agents.oidc[ci]',
      'identity.operators',
    ]);
    for (const entry of t.all) expect(Object.isFrozen(entry)).toBe(true);
  });

  it('describes a SPIFFE trust domain: pinned issuer or spiffe://<td>, its rules and its bundle', () => {
    const t = table();
    const dev = t.spiffe.get('dev.local');
    expect(dev).toMatchObject({
      kind: 'spiffe',
      name: 'dev.local',
      issuer: DEV_ISS,
      trustDomain: 'dev.local',
      rules: { audience: AUDIENCE, allowMultipleAudiences: false, maxLifetimeSeconds: 3600, clockLeewaySeconds: 30, issuer: DEV_ISS },
      constraints: [],
      fileSource: true,
    });
    expect([...(dev?.algorithms ?? [])]).toEqual(['ES256', 'ES384', 'RS256', 'PS256']);
    expect(dev?.keySet.label).toBe('identity.agents.spiffe[dev.local].bundle');
    const other = t.spiffe.get('other.example');
    expect(other).toMatchObject({ issuer: 'spiffe://other.example', trustDomain: 'other.example' });
    expect(other?.rules).not.toHaveProperty('issuer');
  });

  it('describes an OIDC issuer and the operator issuer, with per-entry audiences and constraints', () => {
    const t = table((raw) => {
      raw.agents.oidc[0].audience = 'ci-audience';
      raw.agents.oidc[0].allowMultipleAudiences = true;
      raw.operators.maxLifetimeSeconds = 900;
    });
    const ci = t.oidc.get(CI_ISS);
    expect(ci).toMatchObject({
      kind: 'oidc',
      name: 'ci',
      issuer: CI_ISS,
      rules: { audience: 'ci-audience', allowMultipleAudiences: true, issuer: CI_ISS },
      fileSource: true,
    });
    expect(ci).not.toHaveProperty('trustDomain');
    expect(ci?.constraints.map((c) => c.claim)).toEqual(['/repository', '/ref']);
    expect(ci?.keySet.label).toBe('identity.agents.oidc[ci].keys');
    expect(t.operator).toMatchObject({
      kind: 'operator',
      label: 'identity.operators',
      name: 'operators',
      issuer: OPERATOR_ISS,
      rules: { audience: OPERATOR_AUDIENCE, maxLifetimeSeconds: 900, issuer: OPERATOR_ISS },
      fileSource: true,
    });
    expect(t.operator.keySet.label).toBe('identity.operators.keys');
    expect([...t.operator.algorithms]).toEqual(['ES256']);
  });

  it('marks a remote key source as not a file', () => {
    const t = table((raw) => {
      // Nothing listens on port 9 of loopback: the load fails at once, and nothing leaves the machine.
      raw.agents.spiffe[1].bundle = { endpoint: 'http://127.0.0.1:9/bundle' };
    });
    expect(t.spiffe.get('other.example')?.fileSource).toBe(false);
    expect(t.spiffe.get('dev.local')?.fileSource).toBe(true);
    for (const entry of t.all) entry.keySet.loaded.catch(() => undefined);
  });
});

describe('routing', () => {
  it('routes an agent token by a configured OIDC iss first, else by the trust domain of a SPIFFE sub', () => {
    const t = table();
    expect(routeAgent(t, { iss: CI_ISS, sub: 'spiffe://dev.local/a' }).trusted.label).toBe('identity.agents.oidc[ci]');
    expect(routeAgent(t, { iss: CI_ISS, sub: 'spiffe://dev.local/a' }).spiffeId).toBeUndefined();
    expect(routeAgent(t, { iss: DEV_ISS, sub: 'spiffe://dev.local/a' })).toMatchObject({
      trusted: { label: 'identity.agents.spiffe[dev.local]' },
      spiffeId: { id: 'spiffe://dev.local/a', trustDomain: 'dev.local' },
    });
    expect(routeAgent(t, { sub: 'spiffe://other.example/x' }).trusted.label).toBe('identity.agents.spiffe[other.example]');
    // iss is read as an own string member only.
    expect(routeAgent(t, { iss: [CI_ISS], sub: 'spiffe://other.example/x' }).trusted.label).toBe('identity.agents.spiffe[other.example]');
  });

  it('routes an operator token only by the operator issuer', () => {
    const t = table();
    expect(routeOperator(t, { iss: OPERATOR_ISS }).label).toBe('identity.operators');
    expect(() => routeOperator(t, { iss: 7 })).toThrow(expect.objectContaining({ code: 'ERR_TOKEN_CLAIMS' }));
  });
});
