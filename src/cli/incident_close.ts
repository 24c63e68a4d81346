/**
 * `quartermaster incident close <id>`: the same close flow as POST /v1/incidents/{id}/close
 * (incidents/close_incident.ts) on the broker the config composes. It writes the tombstone and
 * enqueues every live grant; the running brokers' revocation workers revoke them (the CLI runs
 * none). Prints the incident and what will be revoked as JSON on stdout.
 */
import { userInfo } from 'node:os';
import { composeBroker } from '../compose.js';
import { BrokerError } from '../errors.js';
import { closeIncident } from '../incidents/close_incident.js';
import { createLogger } from '../logging.js';
import { CliRefusal, command, loadCliConfig, parseOptions, plainTextOption } from './cli_support.js';
import { EXIT_OK } from './command.js';

const USAGE = `Usage: quartermaster incident close <incident-id> [--by <name>] [--config <file>]

Closes an incident as POST /v1/incidents/{id}/close does: the closed tombstone first (nothing is
issued for it afterwards), then every live grant is queued for revocation, which the running
brokers carry out. Closing again is harmless. Needs the shared store (Redis): the embedded
default's memory store lives inside the running broker; close through its API there.

Options:
  --by <name>        who closes it (audit log; default: cli:<your user name>)
  --config <file>    config file (default: $QUARTERMASTER_CONFIG, else the embedded default)
  -h, --help         show this help
`;

export const incidentCloseCommand = command({
  words: ['incident', 'close'],
  summary: 'close an incident: tombstone, then revoke every credential of it',
  usage: USAGE,
  async run(args, io) {
    const { values, positionals } = parseOptions(args, { by: { type: 'string' }, config: { type: 'string', short: 'c' } }, true);
    if (positionals.length !== 1) throw new CliRefusal('give exactly one incident id', true);
    const id = positionals[0] as string;
    const by = plainTextOption('--by', values.by ?? `cli:${userInfo().username}`);
    const { config, file } = loadCliConfig(values.config, io);
    if (config.store.kind === 'memory')
      throw new CliRefusal(
        `${file} uses the memory store, which only the running broker holds; close through its API (POST /v1/incidents/${id}/close)`,
      );
    const logger = createLogger({ level: 'warn', destination: { write: (line: string) => io.stderr(line) } });
    const broker = await composeBroker(config, { logger, runWorker: false, processMetrics: false });
    try {
      const result = await closeIncident(broker.deps, id, by);
      io.stdout(
        `${JSON.stringify({
          incident: {
            id: result.incident.id,
            status: result.incident.status,
            closed_at: new Date(result.incident.closedAt ?? Date.now()).toISOString(),
            closed_by: result.incident.closedBy,
          },
          closed_now: result.closedNow,
          grants_to_revoke: result.revoking.length,
        })}\n`,
      );
      return EXIT_OK;
    } catch (err) {
      if (err instanceof BrokerError && err.status < 500) throw new CliRefusal(`${err.message} (${err.code})`);
      throw err;
    } finally {
      await broker.close();
    }
  },
});
