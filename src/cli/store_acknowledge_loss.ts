/**
 * `quartermaster store acknowledge-loss --by <name> --reason <text>`: after Redis lost its data
 * (store/integrity.ts), a named operator lets the brokers serve again on the emptied store. It
 * talks to the store the config names, as the broker does, and calls the same flow as
 * POST /v1/store/acknowledge-loss; every running broker serves again on its next marker check.
 */
import { createAuditLog } from '../audit/audit_log.js';
import { BrokerError } from '../errors.js';
import { createLogger } from '../logging.js';
import { acknowledgeStoreLoss } from '../maintenance/acknowledge_store_loss.js';
import { guardStore } from '../store/guarded_store.js';
import { createStoreIntegrity } from '../store/integrity.js';
import { openStore } from '../store/open_store.js';
import { CliRefusal, command, loadCliConfig, parseOptions, plainTextOption } from './cli_support.js';
import { EXIT_OK } from './command.js';

const USAGE = `Usage: quartermaster store acknowledge-loss --by <name> --reason <text> [--config <file>]

After the broker detected that its store lost its data (Redis restarted without persistence, was
flushed, or failed over to a replica without the data), every broker refuses requests until an
operator acknowledges the loss. This records who did and why in the audit log, and every broker
serves again on its next check (store.integrityCheckSeconds).

Options:
  --by <name>        the operator acknowledging (recorded in the audit log)
  --reason <text>    why serving on the emptied store is acceptable (recorded in the audit log)
  --config <file>    config file (default: $QUARTERMASTER_CONFIG, else the embedded default)
  -h, --help         show this help
`;

export const storeAcknowledgeLossCommand = command({
  words: ['store', 'acknowledge-loss'],
  summary: 'let the brokers serve again after a detected store data loss',
  usage: USAGE,
  async run(args, io) {
    const { values } = parseOptions(args, { by: { type: 'string' }, reason: { type: 'string' }, config: { type: 'string', short: 'c' } });
    const by = plainTextOption('--by', values.by);
    const reason = plainTextOption('--reason', values.reason);
    const { config, file } = loadCliConfig(values.config, io);
    const logger = createLogger({ level: 'warn', destination: { write: (line: string) => io.stderr(line) } });
    const backing = await openStore(config, logger);
    try {
      const integrity = createStoreIntegrity(backing.meta, { logger, now: Date.now, intervalMs: 60_000 });
      const audit = createAuditLog(guardStore(backing, integrity), logger, { dedupeSeconds: config.retention.auditDedupeSeconds });
      const loss = await acknowledgeStoreLoss({ integrity, audit, now: Date.now }, by, reason);
      io.stdout(
        `${JSON.stringify({ acknowledged: { loss_id: loss.id, detected_at: new Date(loss.detectedAt).toISOString(), by, reason } })}\n`,
      );
      return EXIT_OK;
    } catch (err) {
      if (err instanceof BrokerError && err.code === 'ERR_NO_STORE_LOSS') throw new CliRefusal(`${err.message} (${file})`);
      throw err;
    } finally {
      await backing.close();
    }
  },
});
