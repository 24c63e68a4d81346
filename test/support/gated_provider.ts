/**
 * A provider for crash tests whose revocations can be held open: `revokeGrant` is an HTTP call to
 * a gate the test process runs (revocation_gate.ts), which answers or holds each one as the test
 * says. So a test stops a broker with exactly the revocations it chose done and the rest in
 * flight, without pacing by the clock. It implements the public contract (src/sdk.ts) like a real
 * provider: strict config and params schemas, a secret credential, a handle without the secret.
 */
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { providerUnavailable, type Provider, type ProviderDeps, type ProviderFactory, type RevocationReceipt } from '../../src/sdk.js';

export const gatedConfigSchema = z
  .object({
    /** Base URL of the test's gate; the grant id is appended to `/revoke/`. */
    gateUrl: z.url({ protocol: /^http$/ }),
  })
  .strict();
export type GatedConfig = z.infer<typeof gatedConfigSchema>;

export const gatedParamsSchema = z.object({}).strict();
export type GatedParams = z.infer<typeof gatedParamsSchema>;

export const gatedProvider = {
  name: 'gated' as const,
  configSchema: gatedConfigSchema,
  profileParamsSchema: gatedParamsSchema,
  async create(config: GatedConfig, deps: ProviderDeps): Promise<Provider<GatedParams>> {
    const base = config.gateUrl.replace(/\/+$/, '');
    return {
      name: 'gated',
      // Upstream per grant and no revokeIncident: a close revokes grant by grant, one gate call each.
      capabilities: { grantRevocation: 'upstream', incidentRevocation: false, minTtlSeconds: 1, maxTtlSeconds: 3600 },
      async issue(req) {
        req.signal.throwIfAborted();
        return {
          credential: { token: randomBytes(24).toString('base64url'), token_type: 'Bearer' },
          secretFields: ['token'],
          handle: { ref: req.grantId },
          expiresAt: deps.now() + req.ttlSeconds * 1000,
        };
      },
      async revokeGrant(req): Promise<RevocationReceipt> {
        let res: Response;
        try {
          res = await fetch(`${base}/revoke/${encodeURIComponent(req.grantId)}`, { method: 'POST', signal: req.signal });
          await res.arrayBuffer();
        } catch (err) {
          throw providerUnavailable('gate unreachable', err);
        }
        if (!res.ok) throw providerUnavailable(`gate answered ${res.status}`);
        return { grantId: req.grantId, outcome: 'revoked', confirmed: true };
      },
      async health() {
        return { ok: true };
      },
      async close() {},
    };
  },
} satisfies ProviderFactory<GatedConfig, GatedParams>;
