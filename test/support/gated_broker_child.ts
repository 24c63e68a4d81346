/**
 * The broker process of test/e2e/crash_recovery.test.ts: src/main.ts's own `main` (config file,
 * PORT, logger, SIGTERM handling, startBroker), with the gated test provider next to the
 * built-ins. Run as `node --import tsx test/support/gated_broker_child.ts --config FILE`.
 */
import { builtInProviders } from '../../providers/index.js';
import { main } from '../../src/main.js';
import { gatedProvider } from './gated_provider.js';

main(process.argv.slice(2), { providers: [...builtInProviders, gatedProvider] }).catch((err: unknown) => {
  process.stderr.write(`quartermaster (gated test broker): ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
