import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { ConfigError, defaultConfigPath, loadConfigFile, parseConfig } from '../../src/config/load.js';
import { testConfigObject } from '../support/test_config.js';

const problemsOf = (text: string): readonly string[] => {
  try {
    parseConfig(text);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  throw new Error('config was accepted');
};

describe('config', () => {
  it('loads the embedded default, frozen', () => {
    const config = loadConfigFile(defaultConfigPath());
    expect(config.mode).toBe('development');
    expect(config.store.kind).toBe('memory');
    expect(config.server).toMatchObject({ host: '127.0.0.1', port: 8080 });
    expect(Object.isFrozen(config.profiles)).toBe(true);
  });

  it('loads the documented production example', () => {
    const config = loadConfigFile('config/production.example.yaml');
    expect(config.mode).toBe('production');
    expect(config.store.kind).toBe('redis');
  });

  it('reports an unknown key with its path', () => {
    const ok = testConfigObject();
    expect(() => parseConfig(stringify(ok))).not.toThrow();
    const bad = { ...ok, revocation: { ...(ok.revocation as object), concurrency_typo: 3 } };
    expect(problemsOf(stringify(bad)).join('\n')).toMatch(/^revocation: .*concurrency_typo/m);
  });

  it('reports a wrong type with its full path', () => {
    const ok = testConfigObject();
    const profiles = ok.profiles as Record<string, Record<string, unknown>>;
    const bad = { ...ok, profiles: { demo: { ...profiles.demo, maxTtl: 'long' } } };
    expect(problemsOf(stringify(bad))).toEqual([expect.stringMatching(/^profiles\.demo\.maxTtl: /)]);
  });

  it('refuses the memory store and the dev issuer in production mode', () => {
    const problems = problemsOf(stringify({ ...testConfigObject(), mode: 'production' }));
    expect(problems).toContain('store.kind: the memory store loses every grant on restart; production mode requires redis');
    expect(problems).toContain('devIssuer: the development token issuer is refused in production mode');
  });

  it('refuses an operator issuer that is also an agent issuer', () => {
    const ok = testConfigObject();
    const identity = ok.identity as { agents: { spiffe: Array<{ issuer: string }> }; operators: Record<string, unknown> };
    const bad = { ...ok, identity: { ...identity, operators: { ...identity.operators, issuer: identity.agents.spiffe[0]!.issuer } } };
    expect(problemsOf(stringify(bad))).toContain('identity.operators.issuer: operator issuer must differ from every agent issuer');
  });

  it('refuses duplicate YAML keys instead of keeping the last one', () => {
    const text = readFileSync(defaultConfigPath(), 'utf8');
    expect(() => parseConfig(text)).not.toThrow();
    expect(problemsOf(text.replace('mode: development', 'mode: development\nmode: production'))[0]).toMatch(/^YAML: DUPLICATE_KEY/);
  });

  it('refuses an invalid agent pattern and a defaultTtl above maxTtl', () => {
    const ok = testConfigObject();
    const demo = (ok.profiles as Record<string, Record<string, unknown>>).demo!;
    const bad = { ...ok, profiles: { demo: { ...demo, agents: ['spiffe://(unclosed'], defaultTtl: 901 } } };
    expect(problemsOf(stringify(bad))).toEqual(
      expect.arrayContaining(['profiles.demo.defaultTtl: must not exceed maxTtl', 'profiles.demo.agents.0: invalid regular expression']),
    );
  });

  it('names an unreadable file without echoing its content', () => {
    expect(() => loadConfigFile('/nonexistent/quartermaster.yaml')).toThrow(/cannot read file: ENOENT/);
  });

  it('refuses an identity.maxTokenBytes that would not fit in a request Node accepts', () => {
    const ok = testConfigObject();
    const identity = ok.identity as Record<string, unknown>;
    const fits = { ...ok, identity: { ...identity, maxTokenBytes: 12_288 }, server: { ...(ok.server as object), maxHeaderBytes: 16_384 } };
    expect(() => parseConfig(stringify(fits))).not.toThrow();
    const tooBig = { ...fits, identity: { ...identity, maxTokenBytes: 12_289 } };
    expect(problemsOf(stringify(tooBig))).toEqual([
      expect.stringMatching(/^identity\.maxTokenBytes: must be at most server\.maxHeaderBytes \(16384\) minus 4096 bytes/u),
    ]);
    const raised = { ...tooBig, server: { ...(ok.server as object), maxHeaderBytes: 32_768 } };
    expect(() => parseConfig(stringify(raised))).not.toThrow();
  });

  it('fills every default from the one place each is written when a whole section is absent', () => {
    const { server: _server, revocation: _revocation, logging: _logging, ...rest } = testConfigObject();
    void _server;
    void _revocation;
    void _logging;
    const config = parseConfig(stringify(rest));
    expect(config.server).toEqual({
      host: '127.0.0.1',
      port: 8080,
      bodyLimitBytes: 65_536,
      maxHeaderBytes: 16_384,
      shutdownGraceSeconds: 20,
      trustProxy: false,
      allowNonLoopbackInDevelopment: false,
    });
    expect(config.logging).toEqual({ level: 'info' });
    expect(config.revocation).toMatchObject({
      concurrency: 16,
      batchSize: 64,
      leaseSeconds: 5,
      deadlineSeconds: 300,
      receiptLanesWhileServing: 2,
    });
    expect(config.identity.tokenCache).toEqual({ maxEntries: 10_000 });
    expect(config.retention).toEqual({
      endedGrantsSeconds: 2_592_000,
      auditDedupeSeconds: 604_800,
      repeatWindowSeconds: 60,
      sweepSeconds: 30,
    });
  });

  it('keeps dedupe keys at least an hour and counting windows at most an hour', () => {
    const withRetention = (retention: Record<string, number>): string => stringify({ ...testConfigObject(), retention });
    expect(parseConfig(withRetention({ auditDedupeSeconds: 3600, repeatWindowSeconds: 0 })).retention).toMatchObject({
      auditDedupeSeconds: 3600,
      repeatWindowSeconds: 0,
    });
    expect(problemsOf(withRetention({ auditDedupeSeconds: 3599 })).join('\n')).toMatch(/retention\.auditDedupeSeconds/u);
    expect(problemsOf(withRetention({ repeatWindowSeconds: 3601 })).join('\n')).toMatch(/retention\.repeatWindowSeconds/u);
    expect(problemsOf(withRetention({ endedGrantsSeconds: 0 })).join('\n')).toMatch(/retention\.endedGrantsSeconds/u);
  });

  it('turns every deviation detector on by default, and refuses a signal source name taken twice or by the detectors', () => {
    const withDeviation = (deviation: Record<string, unknown> | undefined): string => {
      const cfg: Record<string, unknown> = { ...testConfigObject() };
      if (deviation === undefined) delete cfg.deviation;
      else cfg.deviation = deviation;
      return stringify(cfg);
    };
    const detectors = parseConfig(withDeviation(undefined)).deviation.detectors;
    expect(Object.values(detectors).map((d) => d.enabled)).toEqual([true, true, true, true, true]);
    expect(detectors.requestRate).toEqual({ enabled: true, threshold: 300, windowSeconds: 60, severity: 'high' });
    const source = (name: string) => ({ name, secretFiles: ['/run/secrets/s'] });
    expect(parseConfig(withDeviation({ sources: [source('siem'), source('edr')] })).deviation.sources).toHaveLength(2);
    expect(problemsOf(withDeviation({ sources: [source('siem'), source('siem')] })).join('\n')).toMatch(/deviation\.sources\.1\.name/u);
    expect(problemsOf(withDeviation({ sources: [source('quartermaster')] })).join('\n')).toMatch(/deviation\.sources\.0\.name/u);
    expect(problemsOf(withDeviation({ detectors: { requestRate: { threshold: 0 } } })).join('\n')).toMatch(
      /deviation\.detectors\.requestRate\.threshold/u,
    );
  });

  describe('production refusals', () => {
    const production = (over: (cfg: Record<string, any>) => void = () => undefined): string[] => {
      const cfg: Record<string, any> = {
        ...testConfigObject(),
        mode: 'production',
        store: { kind: 'redis', url: 'rediss://redis.prod.example:6380/0' },
      };
      cfg.identity = { ...cfg.identity, fingerprintKeyFile: '/run/secrets/fingerprint-key' };
      cfg.audit = { chain: { keyFile: '/run/secrets/audit-checkpoint.jwk' } };
      delete cfg.devIssuer;
      cfg.providers = {};
      cfg.profiles = {};
      over(cfg);
      try {
        parseConfig(stringify(cfg));
        return [];
      } catch (err) {
        if (err instanceof ConfigError) return [...err.problems];
        throw err;
      }
    };

    it('needs the audit checkpoint key, unless the chain is off', () => {
      expect(production()).toEqual([]);
      expect(
        production((c) => {
          delete c.audit;
        }),
      ).toEqual([expect.stringMatching(/^audit\.chain\.keyFile: the audit chain signs checkpoints with an Ed25519 private JWK/u)]);
      expect(
        production((c) => {
          c.audit = { chain: { enabled: false } };
        }),
      ).toEqual([]);
    });

    it('needs the SET signing key with revocation event receivers, and https to them beyond loopback', () => {
      const receiver = { name: 'mcp', url: 'https://mcp.example/events', audience: 'urn:mcp' };
      expect(
        production((c) => {
          c.events = { receivers: [receiver], keyFile: '/run/secrets/set.jwk' };
        }),
      ).toEqual([]);
      expect(
        production((c) => {
          c.events = { receivers: [receiver] };
        }),
      ).toEqual([expect.stringMatching(/^events\.keyFile: revocation events are signed with an Ed25519 private JWK/u)]);
      expect(
        production((c) => {
          c.events = { receivers: [{ ...receiver, url: 'http://mcp.example/events' }], keyFile: '/run/secrets/set.jwk' };
        }),
      ).toEqual([expect.stringMatching(/^events\.receivers\.0\.url: production mode sends notices over https only/u)]);
    });

    it('accepts TLS everywhere, loopback exceptions, and pinned agent patterns', () => {
      expect(production()).toEqual([]);
      expect(
        production((c) => {
          c.store.url = 'redis://127.0.0.1:6379';
        }),
      ).toEqual([]);
      expect(
        production((c) => {
          c.server.publicUrl = 'https://quartermaster.example.com';
        }),
      ).toEqual([]);
      expect(
        production((c) => {
          c.profiles = { p: { provider: 'jwt', maxTtl: 900, tier: 'read', agents: ['spiffe://prod\\.example\\.com/ns/ir/sa/[a-z-]+'] } };
        }),
      ).not.toContainEqual(expect.stringMatching(/agents/u));
    });

    it('needs a fingerprint key shared by the replicas', () => {
      expect(
        production((c) => {
          delete c.identity.fingerprintKeyFile;
        }),
      ).toEqual([expect.stringMatching(/^identity\.fingerprintKeyFile: production mode needs a fingerprint key shared by every replica/u)]);
    });

    it('refuses plain redis:// beyond loopback', () => {
      expect(
        production((c) => {
          c.store.url = 'redis://redis.prod.example:6379/0';
        }),
      ).toEqual(['store.url: production mode reaches Redis over TLS (rediss://) unless it is on loopback']);
    });

    it('refuses plain http issuers and public URL beyond loopback', () => {
      const problems = production((c) => {
        c.identity.operators.issuer = 'http://sso.example.com';
        c.identity.agents.spiffe[0].issuer = 'http://spire.example.com';
        c.server.publicUrl = 'http://quartermaster.example.com';
      });
      expect(problems).toEqual(
        expect.arrayContaining([
          'identity.operators.issuer: production mode trusts only https issuers (http on loopback only)',
          'identity.agents.spiffe.0.issuer: production mode trusts only https issuers (http on loopback only)',
          'server.publicUrl: production mode needs an https public URL (tokens name it as their issuer)',
        ]),
      );
    });

    it.each(['.*', '.+', 'spiffe://.*', 'spiffe://[^/]+/ns/probe/sa/probe', 'https://.*#.*'])(
      'refuses the agent pattern %s, which pins no trust domain or issuer',
      (pattern) => {
        const problems = production((c) => {
          c.profiles = { p: { provider: 'jwt', maxTtl: 900, tier: 'read', agents: ['spiffe://prod\\.example\\.com/x', pattern] } };
        });
        expect(problems).toContainEqual(expect.stringMatching(/^profiles\.p\.agents\.1: matches agents of any trust domain or issuer/u));
      },
    );
  });

  it('keeps a development broker on loopback unless told otherwise', () => {
    const cfg = testConfigObject();
    expect(() => parseConfig(stringify(cfg))).not.toThrow();
    const exposed = { ...cfg, server: { ...(cfg.server as object), host: '0.0.0.0' } };
    expect(problemsOf(stringify(exposed))).toEqual([expect.stringMatching(/^server\.host: development mode listens on loopback only/u)]);
    expect(() =>
      parseConfig(stringify({ ...exposed, server: { ...(exposed.server as object), allowNonLoopbackInDevelopment: true } })),
    ).not.toThrow();
  });
});
