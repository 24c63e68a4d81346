/**
 * The trust configuration most identity tests run against, written to a temp dir:
 *
 * - SPIFFE trust domain `dev.local`, issuer pinned to https://spire.dev.local, bundle with an
 *   ES256 key, an RSA key (RS256 and PS256), and an `x509-svid` key that must never verify a JWT;
 * - SPIFFE trust domain `other.example`, no pinned issuer, its own ES256 key;
 * - OIDC issuer `ci` (https://ci.example.test), RS256, with claim constraints on `/repository`
 *   (equals acme/ops) and `/ref` (pattern refs/heads/(main|release-[0-9]+));
 * - the operator issuer (https://operators.example.test), ES256.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';
import { configSchema } from '../../src/config/schema.js';
import { BrokerError } from '../../src/errors.js';
import type { IdentityConfig } from '../../src/config/identity_schema.js';
import { createLogger, type Logger } from '../../src/logging.js';
import type { Identity } from '../../src/identity/types.js';
import { createIdentity, type IdentityDeps } from '../../src/identity/verifier.js';
import { createSigner, withAlg, type Signer, type TokenSpec } from './token_factory.js';

export const AUDIENCE = 'quartermaster';
/** identity.operators.audience by default. */
export const OPERATOR_AUDIENCE = 'quartermaster/operators';
export const DEV_ISS = 'https://spire.dev.local';
export const CI_ISS = 'https://ci.example.test';
export const OPERATOR_ISS = 'https://operators.example.test';
export const AGENT_ID = 'spiffe://dev.local/agent/triage';
export const START = Date.UTC(2030, 0, 1, 12, 0, 0);

export interface Signers {
  readonly devEs: Signer;
  readonly devRsa: Signer;
  readonly devPs: Signer;
  readonly devX509: Signer;
  readonly other: Signer;
  readonly ci: Signer;
  readonly operator: Signer;
  /** In no key set at all. */
  readonly stranger: Signer;
}

let cached: Signers | undefined;
/** RSA generation is slow: one set of keys per test file. */
export function signers(): Signers {
  if (!cached) {
    const devRsa = createSigner('RS256', 'dev-rsa');
    cached = {
      devEs: createSigner('ES256', 'dev-es'),
      devRsa,
      devPs: withAlg(devRsa, 'PS256'),
      devX509: createSigner('ES256', 'dev-x509'),
      other: createSigner('ES256', 'other-es'),
      ci: createSigner('RS256', 'ci-rsa'),
      operator: createSigner('ES256', 'op-es'),
      stranger: createSigner('ES256', 'stranger'),
    };
  }
  return cached;
}

export const bundleOf = (...keys: Array<Record<string, unknown>>): Record<string, unknown> => ({
  spiffe_sequence: 1,
  keys: keys.map((k) => ({ use: 'jwt-svid', ...k })),
});
export const jwksOf = (...keys: Array<Record<string, unknown>>): Record<string, unknown> => ({ keys });

export interface World {
  readonly dir: string;
  readonly files: { readonly dev: string; readonly other: string; readonly ci: string; readonly operators: string };
  config(overrides?: (raw: Record<string, any>) => void): IdentityConfig;
  boot(options?: {
    config?: IdentityConfig;
    logger?: Logger;
    now?: () => number;
    onKeySetRefresh?: IdentityDeps['onKeySetRefresh'];
  }): Promise<Identity>;
  write(file: string, doc: unknown): void;
  cleanup(): void;
}

export function createWorld(now: () => number): World {
  const s = signers();
  const dir = mkdtempSync(join(tmpdir(), 'qm-identity-'));
  const files = {
    dev: join(dir, 'dev-bundle.json'),
    other: join(dir, 'other-bundle.json'),
    ci: join(dir, 'ci-jwks.json'),
    operators: join(dir, 'operators-jwks.json'),
  };
  const write = (file: string, doc: unknown): void => writeFileSync(file, typeof doc === 'string' ? doc : JSON.stringify(doc));
  write(files.dev, bundleOf(s.devEs.jwk, s.devRsa.jwk, { ...s.devX509.jwk, use: 'x509-svid' }));
  write(files.other, bundleOf(s.other.jwk));
  write(files.ci, jwksOf({ ...s.ci.jwk, use: 'sig', alg: 'RS256' }));
  write(files.operators, jwksOf(s.operator.jwk));
  const config = (overrides?: (raw: Record<string, any>) => void): IdentityConfig => {
    const raw: Record<string, any> = {
      audience: AUDIENCE,
      agents: {
        spiffe: [
          {
            trustDomain: 'dev.local',
            issuer: DEV_ISS,
            bundle: { file: files.dev },
            algorithms: ['ES256', 'ES384', 'RS256', 'PS256'],
            maxLifetimeSeconds: 3600,
            clockLeewaySeconds: 30,
          },
          { trustDomain: 'other.example', bundle: { file: files.other }, algorithms: ['ES256'] },
        ],
        oidc: [
          {
            name: 'ci',
            issuer: CI_ISS,
            keys: { file: files.ci },
            algorithms: ['RS256'],
            claims: [
              { claim: '/repository', equals: 'acme/ops' },
              { claim: '/ref', pattern: 'refs/heads/(main|release-[0-9]+)' },
            ],
          },
        ],
      },
      operators: {
        issuer: OPERATOR_ISS,
        keys: { file: files.operators },
        algorithms: ['ES256'],
        rolesClaim: 'roles',
        operatorRole: 'operator',
      },
    };
    overrides?.(raw);
    return configSchema.shape.identity.parse(raw);
  };
  return {
    dir,
    files,
    config,
    write,
    boot: (options = {}) =>
      createIdentity(options.config ?? config(), {
        logger: options.logger ?? createLogger({ level: 'silent' }),
        now: options.now ?? now,
        ...(options.onKeySetRefresh ? { onKeySetRefresh: options.onKeySetRefresh } : {}),
      }),
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** Valid tokens, one per kind of trust entry, issued at `nowSec`. */
export function specs(nowSec: () => number) {
  const s = signers();
  const times = () => ({ iat: nowSec(), exp: nowSec() + 600 });
  return {
    agent: (): TokenSpec => ({
      header: { alg: 'ES256', typ: 'JWT', kid: s.devEs.kid },
      payload: { iss: DEV_ISS, sub: AGENT_ID, aud: AUDIENCE, ...times(), jti: 'jti-1' },
      signer: s.devEs,
    }),
    other: (): TokenSpec => ({
      header: { alg: 'ES256', kid: s.other.kid },
      payload: { sub: 'spiffe://other.example/ns/agents/sa/forensics', aud: AUDIENCE, ...times() },
      signer: s.other,
    }),
    ci: (): TokenSpec => ({
      header: { alg: 'RS256', typ: 'JWT', kid: s.ci.kid },
      payload: {
        iss: CI_ISS,
        sub: 'repo:acme/ops:ref:refs/heads/main',
        aud: AUDIENCE,
        repository: 'acme/ops',
        ref: 'refs/heads/main',
        ...times(),
      },
      signer: s.ci,
    }),
    operator: (): TokenSpec => ({
      header: { alg: 'ES256', typ: 'JWT', kid: s.operator.kid },
      payload: { iss: OPERATOR_ISS, sub: 'alice@example.com', aud: OPERATOR_AUDIENCE, ...times(), roles: ['operator'] },
      signer: s.operator,
    }),
  };
}

/** The BrokerError a verification was refused with; fails the test if it was accepted. */
export async function refusal(promise: Promise<unknown>): Promise<BrokerError> {
  try {
    await promise;
  } catch (err) {
    expect(err).toBeInstanceOf(BrokerError);
    return err as BrokerError;
  }
  throw new Error('expected a refusal');
}
