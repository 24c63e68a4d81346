/**
 * `quartermaster provider emergency-deny`: the same flow as POST /v1/providers/{name}/emergency-deny
 * (maintenance/emergency_deny.ts) on the broker the config composes, for when the API is not an
 * option (no operator token at hand, the brokers down). Prints what was denied as JSON on stdout.
 */
import { userInfo } from 'node:os';
import { composeBroker } from '../compose.js';
import { BrokerError } from '../errors.js';
import { createLogger } from '../logging.js';
import { emergencyDeny } from '../maintenance/emergency_deny.js';
import { CliRefusal, command, loadCliConfig, parseOptions, plainTextOption } from './cli_support.js';
import { EXIT_OK } from './command.js';

const USAGE = `Usage: quartermaster provider emergency-deny --provider <name> --target <target> --reason <text> [--by <name>] [--config <file>]

Stops every credential of the target issued before now, whoever issued it: for aws_sts the
target is a role ARN, and every session of that role issued before now is denied (a Deny on
aws:TokenIssueTime in the broker's revocation policy), effective after IAM propagates it. New
grants issued afterwards work. Use it when a role's revocation policy is full or an incident's
credentials must stop at once. Audited with --by and --reason.

Options:
  --provider <name>  the configured provider (aws_sts)
  --target <target>  what to deny (aws_sts: arn:aws:iam::<account>:role/<name>)
  --reason <text>    why (audit log)
  --by <name>        who (audit log; default: cli:<your user name>)
  --config <file>    config file (default: $QUARTERMASTER_CONFIG, else the embedded default)
  -h, --help         show this help
`;

export const providerEmergencyDenyCommand = command({
  words: ['provider', 'emergency-deny'],
  summary: "deny every credential of a provider target issued before now (aws_sts: a role's sessions)",
  usage: USAGE,
  async run(args, io) {
    const { values } = parseOptions(args, {
      provider: { type: 'string' },
      target: { type: 'string' },
      reason: { type: 'string' },
      by: { type: 'string' },
      config: { type: 'string', short: 'c' },
    });
    if (values.provider === undefined || values.target === undefined) throw new CliRefusal('give --provider and --target', true);
    const reason = plainTextOption('--reason', values.reason);
    const by = plainTextOption('--by', values.by ?? `cli:${userInfo().username}`);
    const { config } = loadCliConfig(values.config, io);
    const logger = createLogger({ level: 'warn', destination: { write: (line: string) => io.stderr(line) } });
    const broker = await composeBroker(config, { logger, runWorker: false, processMetrics: false });
    try {
      const denied = await emergencyDeny(broker.deps, by, { provider: values.provider, target: values.target, reason });
      io.stdout(
        `${JSON.stringify({
          denied: {
            provider: values.provider,
            target: denied.target,
            denied_before: new Date(denied.deniedBefore).toISOString(),
            until: new Date(denied.until).toISOString(),
            by,
            reason,
          },
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
