/**
 * CLI entry (`npm run -s cli -- <command> …`). main.ts only dispatches: each command lives in its
 * own file and is listed in COMMANDS, so later commands (`policy validate`, `incident close`, …)
 * add one file and one line here. Commands write through `CliIo` (command.ts) rather than the
 * process, so stdout stays machine-readable (a token, a report) and everything else goes to stderr.
 */
import { pathToFileURL } from 'node:url';
import { EXIT_FAILURE, EXIT_OK, EXIT_USAGE, type CliCommand, type CliIo } from './command.js';
import { agentLiftCommand, agentQuarantineCommand } from './agent_quarantine.js';
import { auditKeygenCommand, auditVerifyCommand } from './audit.js';
import { devTokenCommand } from './dev_token.js';
import { incidentCloseCommand } from './incident_close.js';
import { policyTestCommand, policyValidateCommand } from './policy.js';
import { providerEmergencyDenyCommand } from './provider_emergency_deny.js';
import { storeAcknowledgeLossCommand } from './store_acknowledge_loss.js';

const COMMANDS: readonly CliCommand[] = [
  agentQuarantineCommand,
  agentLiftCommand,
  auditKeygenCommand,
  auditVerifyCommand,
  devTokenCommand,
  incidentCloseCommand,
  policyTestCommand,
  policyValidateCommand,
  providerEmergencyDenyCommand,
  storeAcknowledgeLossCommand,
];

export function usage(): string {
  const width = Math.max(...COMMANDS.map((c) => c.words.join(' ').length));
  const lines = COMMANDS.map((c) => `  ${c.words.join(' ').padEnd(width)}  ${c.summary}`);
  return `Usage: quartermaster <command> [options]\n\nCommands:\n${lines.join('\n')}\n\nRun "quartermaster <command> --help" for a command's options.\n`;
}

export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  const [first] = argv;
  if (first === '--help' || first === '-h' || first === 'help') {
    io.stdout(usage());
    return EXIT_OK;
  }
  const command = COMMANDS.find((c) => c.words.every((word, i) => argv[i] === word));
  if (!command) {
    io.stderr(`${first === undefined ? 'missing command' : `unknown command: ${argv.slice(0, 2).join(' ')}`}\n\n${usage()}`);
    return EXIT_USAGE;
  }
  return command.run(argv.slice(command.words.length), io);
}

const entry = process.argv[1];
if (entry !== undefined && import.meta.url === pathToFileURL(entry).href) {
  const io: CliIo = {
    stdout: (text) => process.stdout.write(text),
    stderr: (text) => process.stderr.write(text),
    env: process.env,
  };
  runCli(process.argv.slice(2), io).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      process.stderr.write(`quartermaster: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exitCode = EXIT_FAILURE;
    },
  );
}
