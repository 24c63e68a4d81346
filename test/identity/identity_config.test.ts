/**
 * The identity config section (identity_schema.ts): every refusal names its path, so an operator
 * finds the line; a trust configuration that would be ambiguous or unsafe never loads.
 */
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { ConfigError, parseConfig } from '../../src/config/load.js';
import { testConfigObject } from '../support/test_config.js';

function problemsWith(change: (identity: Record<string, any>) => void): readonly string[] {
  const config = testConfigObject({ keyDir: '/tmp/qm-keys-unused' });
  const identity = structuredClone(config.identity) as Record<string, any>;
  change(identity);
  try {
    parseConfig(stringify({ ...config, identity }));
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  return [];
}

const td = (extra: Record<string, unknown> = {}) => ({
  trustDomain: 'prod.example',
  bundle: { endpoint: 'https://spire.example:8443' },
  algorithms: ['ES256'],
  ...extra,
});
const oidc = (extra: Record<string, unknown> = {}) => ({
  name: 'ci',
  issuer: 'https://token.actions.githubusercontent.com',
  keys: { discovery: true },
  algorithms: ['RS256'],
  ...extra,
});

describe('identity config', () => {
  it('loads the test config, a bundle endpoint and a discovered OIDC issuer', () => {
    expect(problemsWith(() => undefined)).toEqual([]);
    expect(
      problemsWith((i) => {
        i.agents.spiffe.push(td());
        i.agents.oidc = [oidc()];
      }),
    ).toEqual([]);
  });

  it.each([
    [
      'no agent trust at all',
      (i: any) => {
        i.agents = {};
      },
      'identity.agents: trust at least one SPIFFE trust domain or OIDC issuer',
    ],
    [
      'a duplicate trust domain',
      (i: any) => {
        i.agents.spiffe.push(td({ trustDomain: 'dev.local' }));
      },
      /^identity\.agents\.spiffe\.1\.trustDomain: duplicate trust domain/,
    ],
    [
      'an upper-case trust domain',
      (i: any) => {
        i.agents.spiffe.push(td({ trustDomain: 'Prod.example' }));
      },
      /^identity\.agents\.spiffe\.1\.trustDomain: /,
    ],
    [
      'EdDSA for JWT-SVIDs',
      (i: any) => {
        i.agents.spiffe.push(td({ algorithms: ['EdDSA'] }));
      },
      /^identity\.agents\.spiffe\.1\.algorithms\.0: /,
    ],
    [
      'HS256 for an OIDC issuer',
      (i: any) => {
        i.agents.oidc = [oidc({ algorithms: ['HS256'] })];
      },
      /^identity\.agents\.oidc\.0\.algorithms\.0: /,
    ],
    [
      'none',
      (i: any) => {
        i.agents.oidc = [oidc({ algorithms: ['none'] })];
      },
      /^identity\.agents\.oidc\.0\.algorithms\.0: /,
    ],
    [
      'a plain-http bundle endpoint off loopback',
      (i: any) => {
        i.agents.spiffe.push(td({ bundle: { endpoint: 'http://spire.example/bundle' } }));
      },
      /^identity\.agents\.spiffe\.1\.bundle\.endpoint: must be an https URL/,
    ],
    [
      'userinfo in a jwksUri',
      (i: any) => {
        i.agents.oidc = [oidc({ keys: { jwksUri: 'https://user:pw@idp.example/jwks' } })];
      },
      /^identity\.agents\.oidc\.0\.keys\.jwksUri: /,
    ],
    [
      'discovery for an issuer that is not a URL',
      (i: any) => {
        i.agents.oidc = [oidc({ issuer: 'kubernetes' })];
      },
      'identity.agents.oidc.0.issuer: discovery needs an https issuer URL (http only on a loopback host)',
    ],
    [
      'an OIDC issuer twice',
      (i: any) => {
        i.agents.oidc = [oidc(), oidc({ name: 'ci2' })];
      },
      /^identity\.agents\.oidc\.1\.issuer: duplicate issuer/,
    ],
    [
      'an OIDC issuer that a trust domain pins',
      (i: any) => {
        i.agents.oidc = [oidc({ issuer: i.agents.spiffe[0].issuer })];
      },
      /^identity\.agents\.oidc\.0\.issuer: duplicate issuer/,
    ],
    [
      'the operator issuer as an agent issuer',
      (i: any) => {
        i.agents.oidc = [oidc({ issuer: i.operators.issuer })];
      },
      'identity.operators.issuer: operator issuer must differ from every agent issuer',
    ],
    [
      'a cooldown longer than the refresh interval',
      (i: any) => {
        i.agents.spiffe.push(td({ bundle: { endpoint: 'https://spire.example', refreshSeconds: 60, cooldownSeconds: 120 } }));
      },
      'identity.agents.spiffe.1.bundle.cooldownSeconds: must not exceed refreshSeconds',
    ],
    [
      'a staleness bound under two refreshes',
      (i: any) => {
        i.agents.spiffe.push(td({ bundle: { endpoint: 'https://spire.example', refreshSeconds: 600, maxStalenessSeconds: 900 } }));
      },
      'identity.agents.spiffe.1.bundle.maxStalenessSeconds: must be at least twice refreshSeconds',
    ],
    [
      'both file and endpoint',
      (i: any) => {
        i.agents.spiffe.push(td({ bundle: { file: '/b.json', endpoint: 'https://spire.example' } }));
      },
      /^identity\.agents\.spiffe\.1\.bundle/,
    ],
    [
      'an unknown key in a source',
      (i: any) => {
        i.agents.oidc = [oidc({ keys: { discovery: true, timeoutMS: 5 } })];
      },
      /^identity\.agents\.oidc\.0\.keys.*timeoutMS/,
    ],
    [
      'a claim path that is not a JSON Pointer',
      (i: any) => {
        i.agents.oidc = [oidc({ claims: [{ claim: 'repository', equals: 'a' }] })];
      },
      /^identity\.agents\.oidc\.0\.claims\.0\.claim: must be a JSON Pointer/,
    ],
    [
      'a constraint with both equals and pattern',
      (i: any) => {
        i.agents.oidc = [oidc({ claims: [{ claim: '/r', equals: 'a', pattern: 'a' }] })];
      },
      'identity.agents.oidc.0.claims.0: give exactly one of equals or pattern',
    ],
    [
      'a constraint with neither',
      (i: any) => {
        i.agents.oidc = [oidc({ claims: [{ claim: '/r' }] })];
      },
      'identity.agents.oidc.0.claims.0: give exactly one of equals or pattern',
    ],
    [
      'an invalid pattern',
      (i: any) => {
        i.agents.oidc = [oidc({ claims: [{ claim: '/r', pattern: 'acme/(ops' }] })];
      },
      'identity.agents.oidc.0.claims.0.pattern: invalid regular expression',
    ],
    [
      'a clock leeway above 60 s',
      (i: any) => {
        i.agents.spiffe[0].clockLeewaySeconds = 120;
      },
      /^identity\.agents\.spiffe\.0\.clockLeewaySeconds: /,
    ],
    [
      'the old v0 agents list',
      (i: any) => {
        i.agents = [{ name: 'dev' }];
      },
      /^identity\.agents: /,
    ],
  ])('refuses %s, naming the path', (_name, change, expected) => {
    const problems = problemsWith(change);
    if (typeof expected === 'string') expect(problems).toContain(expected);
    else expect(problems.some((p) => expected.test(p))).toBe(true);
  });
});

describe('introspection clients config', () => {
  const client = (extra: Record<string, unknown> = {}) => ({
    name: 'alerts-api',
    id: 'spiffe://dev.local/rs/alerts-api',
    audiences: ['urn:alerts-api'],
    ...extra,
  });

  it('loads clients, with or without an explicit introspection audience', () => {
    expect(problemsWith((i) => (i.introspection = { clients: [client()] }))).toEqual([]);
    expect(problemsWith((i) => (i.introspection = { audience: 'urn:qm-introspect', clients: [client()] }))).toEqual([]);
  });

  it.each([
    [
      "the agents' audience as the introspection audience",
      { audience: 'quartermaster', clients: [client()] },
      'identity.introspection.audience',
    ],
    [
      'two clients with one name',
      { clients: [client(), client({ id: 'spiffe://dev.local/rs/other' })] },
      'identity.introspection.clients.1.name: duplicate introspection client name',
    ],
    [
      'two clients with one workload id',
      { clients: [client(), client({ name: 'other' })] },
      'identity.introspection.clients.1.id: duplicate introspection client id',
    ],
    ['a client without audiences', { clients: [client({ audiences: [] })] }, 'identity.introspection.clients.0.audiences'],
  ])('refuses %s', (_name, introspection, problem) => {
    expect(problemsWith((i) => (i.introspection = { clients: [client()] }))).toEqual([]);
    const problems = problemsWith((i) => (i.introspection = introspection));
    expect(problems.some((p) => p.startsWith(problem))).toBe(true);
  });

  it("refuses an introspection audience an agent issuer accepts its agents' tokens for", () => {
    const problems = problemsWith((i) => {
      i.agents.spiffe[0].audience = 'urn:shared';
      i.introspection = { audience: 'urn:shared', clients: [client()] };
    });
    expect(problems.some((p) => p.startsWith('identity.introspection.audience: must differ from every audience'))).toBe(true);
  });
});
