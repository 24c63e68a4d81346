/**
 * `quartermaster dev token` as users run it: a real child process (`node --import tsx
 * src/cli/main.ts …`) against a temp config whose keyDir is a temp dir (never the repo's var/).
 */
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeJwt } from 'jose';
import { stringify } from 'yaml';
import { describe, it } from 'vitest';
import { loadConfigFile } from '../../src/config/load.js';
import { createIdentity } from '../../src/identity/verifier.js';
import { createLogger } from '../../src/logging.js';
import { runCli } from '../support/cli.js';

const AGENT_ISS = 'https://dev.quartermaster.local/agents';
const OPERATOR_ISS = 'https://dev.quartermaster.local/operators';

interface Sandbox {
  readonly keyDir: string;
  /** Writes a config (the development shape, plus overrides) and returns its path. */
  writeConfig(name: string, overrides?: Record<string, unknown>): string;
}

/** A temp dir per test (tests run concurrently: each CLI run is a separate process). */
function sandbox(onTestFinished: (fn: () => void) => void): Sandbox {
  const dir = mkdtempSync(join(tmpdir(), 'qm-cli-'));
  onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
  const keyDir = join(dir, 'keys');
  return {
    keyDir,
    writeConfig(name, overrides = {}) {
      const config: Record<string, unknown> = {
        mode: 'development',
        store: { kind: 'memory' },
        identity: {
          audience: 'quartermaster',
          agents: {
            spiffe: [
              {
                trustDomain: 'dev.local',
                issuer: AGENT_ISS,
                bundle: { file: join(keyDir, 'agent-bundle.json') },
                algorithms: ['ES256'],
                maxLifetimeSeconds: 3600,
              },
            ],
          },
          operators: { issuer: OPERATOR_ISS, keys: { file: join(keyDir, 'operator-jwks.json') }, algorithms: ['ES256'] },
        },
        devIssuer: { keyDir, agentIssuer: AGENT_ISS, operatorIssuer: OPERATOR_ISS },
        profiles: {},
        ...overrides,
      };
      const file = join(dir, name);
      writeFileSync(file, stringify(config));
      return file;
    },
  };
}

const cli = runCli;

async function identityFor(configFile: string) {
  return createIdentity(loadConfigFile(configFile).identity, { logger: createLogger({ level: 'silent' }), now: Date.now });
}

describe.concurrent('dev token', () => {
  it('prints only an agent JWT and a newline, and the broker config verifies it', async ({ expect, onTestFinished }) => {
    const { keyDir, writeConfig } = sandbox(onTestFinished);
    const config = writeConfig('dev.yaml');
    const run = await cli(['dev', 'token', '--agent', 'spiffe://dev.local/agent/triage', '--config', config]);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\n$/);
    const token = run.stdout.trimEnd();
    const agent = await (await identityFor(config)).authenticateAgent(token);
    expect(agent).toMatchObject({ id: 'spiffe://dev.local/agent/triage', trustDomain: 'dev.local', issuerName: 'dev.local' });
    const claims = decodeJwt(token);
    expect((claims.exp ?? 0) - (claims.iat ?? 0)).toBe(600);
    expect(readdirSync(keyDir).sort()).toEqual([
      'agent-bundle.json',
      'agent-signing-key.json',
      'operator-jwks.json',
      'operator-signing-key.json',
    ]);
  });

  it('prints an introspection client token: for the introspection audience, not for agent endpoints', async ({
    expect,
    onTestFinished,
  }) => {
    const config = sandbox(onTestFinished).writeConfig('dev.yaml');
    const run = await cli(['dev', 'token', '--introspection-client', 'spiffe://dev.local/rs/demo-api', '--config', config]);
    expect(run.code).toBe(0);
    const token = run.stdout.trimEnd();
    expect(decodeJwt(token).aud).toBe('quartermaster/introspect');
    const identity = await identityFor(config);
    await expect(identity.authenticateIntrospectionCaller(token)).resolves.toMatchObject({ id: 'spiffe://dev.local/rs/demo-api' });
    await expect(identity.authenticateAgent(token)).rejects.toMatchObject({ code: 'ERR_TOKEN_AUDIENCE' });
    const both = await cli([
      'dev',
      'token',
      '--agent',
      'spiffe://dev.local/a',
      '--introspection-client',
      'spiffe://dev.local/b',
      '--config',
      config,
    ]);
    expect([both.code, both.stderr]).toEqual([
      2,
      expect.stringContaining('give exactly one of --agent, --introspection-client or --operator'),
    ]);
  });

  it('prints an operator JWT with the operator role, honouring --ttl', async ({ expect, onTestFinished }) => {
    const config = sandbox(onTestFinished).writeConfig('dev.yaml');
    const run = await cli(['dev', 'token', '--operator', 'alice@example.com', '--ttl', '120', '--config', config]);
    expect(run.code).toBe(0);
    const token = run.stdout.trimEnd();
    const identity = await identityFor(config);
    await expect(identity.authenticateOperator(token)).resolves.toMatchObject({
      subject: 'alice@example.com',
      roles: ['operator'],
    });
    await expect(identity.authenticateAgent(token)).rejects.toMatchObject({ code: 'ERR_TOKEN_ISSUER_UNTRUSTED' });
    const claims = decodeJwt(token);
    expect((claims.exp ?? 0) - (claims.iat ?? 0)).toBe(120);
  });

  it('reads the config named by QUARTERMASTER_CONFIG', async ({ expect, onTestFinished }) => {
    const config = sandbox(onTestFinished).writeConfig('env.yaml');
    const run = await cli(['dev', 'token', '--agent', 'spiffe://dev.local/agent/env'], { QUARTERMASTER_CONFIG: config });
    expect(run.code).toBe(0);
    await expect((await identityFor(config)).authenticateAgent(run.stdout.trimEnd())).resolves.toMatchObject({
      id: 'spiffe://dev.local/agent/env',
    });
  });

  it('refuses a production-mode config', async ({ expect, onTestFinished }) => {
    const { writeConfig } = sandbox(onTestFinished);
    expect((await cli(['dev', 'token', '--agent', 'spiffe://dev.local/agent/a', '--config', writeConfig('dev.yaml')])).code).toBe(0);
    const production = writeConfig('prod.yaml', {
      mode: 'production',
      store: { kind: 'redis', url: 'redis://127.0.0.1:6379' },
      devIssuer: undefined,
    });
    const run = await cli(['dev', 'token', '--agent', 'spiffe://dev.local/agent/a', '--config', production]);
    expect(run.code).toBe(2);
    expect(run.stdout).toBe('');
    expect(run.stderr).toMatch(/production mode/);
  });

  it('refuses a development config without devIssuer', async ({ expect, onTestFinished }) => {
    const { writeConfig } = sandbox(onTestFinished);
    const run = await cli([
      'dev',
      'token',
      '--agent',
      'spiffe://dev.local/agent/a',
      '--config',
      writeConfig('nodev.yaml', { devIssuer: undefined }),
    ]);
    expect(run.code).toBe(2);
    expect(run.stdout).toBe('');
    expect(run.stderr).toMatch(/devIssuer/);
  });

  it.for([
    ['an agent id that is not a SPIFFE ID', ['--agent', 'triage-bot'], /SPIFFE ID/],
    ['a SPIFFE ID with a dot-dot segment', ['--agent', 'spiffe://dev.local/agent/../admin'], /SPIFFE ID/],
    ['a trust domain that is not configured', ['--agent', 'spiffe://prod.example/agent/a'], /identity\.agents\.spiffe/],
    ['a ttl above the issuer maximum', ['--agent', 'spiffe://dev.local/agent/a', '--ttl', '7200'], /maxLifetimeSeconds/],
    ['a ttl that is not a number', ['--agent', 'spiffe://dev.local/agent/a', '--ttl', '10m'], /--ttl/],
    ['both --agent and --operator', ['--agent', 'spiffe://dev.local/agent/a', '--operator', 'alice'], /exactly one/],
    ['neither --agent nor --operator', [], /exactly one/],
    ['an unknown option', ['--agent', 'spiffe://dev.local/agent/a', '--audience', 'x'], /Usage/],
  ] as const)('refuses %s with exit 2 and nothing on stdout', async ([, args, message], { expect, onTestFinished }) => {
    const config = sandbox(onTestFinished).writeConfig('dev.yaml');
    const run = await cli(['dev', 'token', ...args, '--config', config]);
    expect(run.code).toBe(2);
    expect(run.stdout).toBe('');
    expect(run.stderr).toMatch(message);
  });

  it('prints usage on --help (exit 0) and on an unknown command (exit 2)', async ({ expect }) => {
    const [help, top, unknown, none] = await Promise.all([
      cli(['dev', 'token', '--help']),
      cli(['--help']),
      cli(['dev', 'tokens']),
      cli([]),
    ]);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^Usage: quartermaster dev token/);
    expect(top.code).toBe(0);
    expect(top.stdout).toMatch(/dev token/);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/unknown command/);
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/missing command/);
  });
});
