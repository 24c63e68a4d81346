/**
 * A broker process that answers requests and webhooks but runs no worker: what a broker killed
 * between its 2xx to a webhook and applying the delivery leaves behind (test/e2e/webhook_crash.test.ts).
 * Run as `node --import tsx test/support/receiver_broker_child.ts --config FILE`.
 */
import { main } from '../../src/main.js';

main(process.argv.slice(2), { runWorker: false }).catch((err: unknown) => {
  process.stderr.write(`quartermaster (receiver-only test broker): ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
