/**
 * Who may send signals (docs/deviation.md "Sending signals"): the detection systems configured in
 * `deviation.sources`, each signing with Standard Webhooks under its own secrets (several during a
 * rotation). The signature says which source sent a delivery: it is checked against each source's
 * secrets, over the exact raw body, before any JSON is parsed.
 */
import type { Config } from '../config/schema.js';
import { BrokerError } from '../errors.js';
import { readSecretText } from '../secret_files.js';
import { badSignature, standardWebhookKey, verifyStandardWebhook, type StandardWebhookHeaders } from '../webhooks/signatures.js';

export interface SignalSources {
  /** Whether any source signs with Standard Webhooks. */
  readonly configured: boolean;
  /** The source whose secret signed the delivery; 400 malformed, 401 when none did. */
  verify(body: Buffer, headers: StandardWebhookHeaders, now: number): string;
}

export async function createSignalSources(config: Pick<Config, 'deviation' | 'webhooks' | 'mode'>): Promise<SignalSources> {
  const strict = config.mode !== 'development';
  const sources: Array<{ name: string; keys: Buffer[] }> = [];
  for (const [i, source] of config.deviation.sources.entries()) {
    const values = await Promise.all(
      source.secretFiles.map((file, j) =>
        readSecretText(file, { setting: `deviation.sources[${i}].secretFiles[${j}]`, strictPermissions: strict }),
      ),
    );
    try {
      sources.push({ name: source.name, keys: values.map((v) => standardWebhookKey(v.trim())) });
    } catch {
      throw new BrokerError(
        'ERR_CONFIG',
        500,
        `deviation.sources[${i}].secretFiles: each file must hold a Standard Webhooks secret (whsec_ followed by base64)`,
      );
    }
  }
  const tolerance = config.webhooks.toleranceSeconds;
  return {
    configured: sources.length > 0,
    verify(body, headers, now) {
      if (sources.length === 0)
        throw new BrokerError('ERR_WEBHOOK_NOT_CONFIGURED', 404, 'no signal source signs with Standard Webhooks here');
      for (const source of sources) {
        try {
          verifyStandardWebhook(body, headers, source.keys, now, tolerance);
          return source.name;
        } catch (err) {
          // A malformed delivery is malformed for every source; a stale timestamp is stale for every one.
          if (err instanceof BrokerError && (err.code === 'ERR_WEBHOOK_MALFORMED' || /timestamp/u.test(err.message))) throw err;
        }
      }
      throw badSignature('no webhook-signature matches');
    },
  };
}
