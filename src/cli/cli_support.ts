/**
 * What every CLI command shares: refusals (exit 2 with the reason on stderr), strict option
 * parsing, and loading the config the way the broker does (--config, else $QUARTERMASTER_CONFIG,
 * else the embedded default).
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { ConfigError, defaultConfigPath, loadConfigFile } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { hasUnsafeCharacters } from '../logging.js';
import { EXIT_OK, EXIT_USAGE, type CliCommand, type CliIo } from './command.js';

/** Bad input or a refusal: exit 2 with the reason on stderr (and the usage, when it helps). */
export class CliRefusal extends Error {
  constructor(
    message: string,
    readonly showUsage = false,
  ) {
    super(message);
  }
}

/**
 * A command that answers `-h`/`--help` with its usage, and whose CliRefusals become exit 2 with
 * `quartermaster <words>: <reason>`. Its own options need not declare help.
 */
export function command(spec: Omit<CliCommand, 'run'> & { run(args: readonly string[], io: CliIo): Promise<number> }): CliCommand {
  return {
    ...spec,
    async run(args, io) {
      if (args.includes('--help') || args.includes('-h')) {
        io.stdout(spec.usage);
        return EXIT_OK;
      }
      try {
        return await spec.run(args, io);
      } catch (err) {
        if (!(err instanceof CliRefusal)) throw err;
        io.stderr(`quartermaster ${spec.words.join(' ')}: ${err.message}\n${err.showUsage ? `\n${spec.usage}` : ''}`);
        return EXIT_USAGE;
      }
    },
  };
}

export function parseOptions<O extends NonNullable<ParseArgsConfig['options']>>(
  args: readonly string[],
  options: O,
  allowPositionals = false,
) {
  try {
    return parseArgs({ args: [...args], options, strict: true, allowPositionals });
  } catch (err) {
    // node:util parseArgs reports unknown options and missing values in its message.
    throw new CliRefusal(err instanceof Error ? err.message : 'invalid arguments', true);
  }
}

/** The config file the command works on, validated like the broker's. */
export function loadCliConfig(explicit: string | undefined, io: CliIo): { readonly config: Config; readonly file: string } {
  const file = explicit ?? (io.env.QUARTERMASTER_CONFIG || defaultConfigPath());
  try {
    return { config: loadConfigFile(file), file };
  } catch (err) {
    if (err instanceof ConfigError) throw new CliRefusal(err.message);
    throw err;
  }
}

/** Free text an operator gives (a name, a reason): bounded, no control or format characters. */
export function plainTextOption(option: string, value: string | undefined, max = 500): string {
  if (value === undefined || value === '' || value.length > max || hasUnsafeCharacters(value)) {
    throw new CliRefusal(`${option} must be 1-${max} characters without control characters`, true);
  }
  return value;
}
