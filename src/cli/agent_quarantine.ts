/**
 * `quartermaster agent quarantine <agent>` and `quartermaster agent lift <agent>`: the same flows
 * as POST /v1/agents/{agent}/quarantine and …/quarantine/lift (agents/quarantine.ts), on the broker
 * the config composes: every grant of the agent is queued for revocation (the running brokers'
 * workers revoke them) and the agent is refused new ones until a named operator lifts it.
 */
import { userInfo } from 'node:os';
import { liftQuarantine, quarantineAgent, type QuarantineRecord } from '../agents/quarantine.js';
import { composeBroker } from '../compose.js';
import { BrokerError } from '../errors.js';
import { createLogger } from '../logging.js';
import { CliRefusal, command, loadCliConfig, parseOptions, plainTextOption } from './cli_support.js';
import { EXIT_OK, type CliCommand } from './command.js';

const usage = (
  verb: string,
  what: string,
): string => `Usage: quartermaster agent ${verb} <agent-id> --reason <text> [--by <name>] [--config <file>]

${what} Needs the shared store (Redis): the embedded default's memory store lives inside the running
broker; use its API there (POST /v1/agents/{agent}/quarantine${verb === 'lift' ? '/lift' : ''}).

Options:
  --reason <text>    why (audit log; required)
  --by <name>        who (audit log; default: cli:<your user name>)
  --config <file>    config file (default: $QUARTERMASTER_CONFIG, else the embedded default)
  -h, --help         show this help
`;

const view = (q: QuarantineRecord) => ({ state: q.state, agent: q.agent, at: new Date(q.at).toISOString(), by: q.by, reason: q.reason });

function agentCommand(verb: 'quarantine' | 'lift', summary: string, what: string): CliCommand {
  return command({
    words: ['agent', verb],
    summary,
    usage: usage(verb, what),
    async run(args, io) {
      const { values, positionals } = parseOptions(
        args,
        { reason: { type: 'string' }, by: { type: 'string' }, config: { type: 'string', short: 'c' } },
        true,
      );
      if (positionals.length !== 1) throw new CliRefusal('give exactly one agent id', true);
      const agent = positionals[0] as string;
      const reason = plainTextOption('--reason', values.reason);
      const by = plainTextOption('--by', values.by ?? `cli:${userInfo().username}`);
      const { config, file } = loadCliConfig(values.config, io);
      if (config.store.kind === 'memory')
        throw new CliRefusal(`${file} uses the memory store, which only the running broker holds; use its API`);
      const logger = createLogger({ level: 'warn', destination: { write: (line: string) => io.stderr(line) } });
      const broker = await composeBroker(config, { logger, runWorker: false, processMetrics: false });
      try {
        if (verb === 'quarantine') {
          const outcome = await quarantineAgent(broker.deps, agent, reason, by);
          io.stdout(`${JSON.stringify({ quarantine: view(outcome.quarantine), grants_to_revoke: outcome.revoking.length })}\n`);
        } else {
          io.stdout(`${JSON.stringify({ quarantine: view(await liftQuarantine(broker.deps, agent, reason, by)) })}\n`);
        }
        return EXIT_OK;
      } catch (err) {
        if (err instanceof BrokerError && err.status < 500) throw new CliRefusal(`${err.message} (${err.code})`);
        throw err;
      } finally {
        await broker.close();
      }
    },
  });
}

export const agentQuarantineCommand = agentCommand(
  'quarantine',
  'quarantine an agent: revoke every grant of it and refuse it new ones',
  'Quarantines an agent as the API does: every live grant of it, in every incident, is queued for\nrevocation, and it gets no credentials until a named operator lifts the quarantine.',
);

export const agentLiftCommand = agentCommand(
  'lift',
  "lift an agent's quarantine",
  "Lifts an agent's quarantine as the API does: it may be granted credentials again.",
);
