/**
 * The contract every CLI command implements, kept apart from main.ts so commands never import
 * the entry module (no import cycles, docs/architecture.md "Layout").
 */

/** Exit codes: 0 success, 1 unexpected failure, 2 bad usage or a refusal (wrong mode, bad input). */
export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

export interface CliIo {
  /** Machine-readable output only (a token, a report): scripts capture it. */
  readonly stdout: (text: string) => void;
  /** Usage, refusals and diagnostics. */
  readonly stderr: (text: string) => void;
  /** The environment, handed over by the entry; commands read nothing else from the process. */
  readonly env: Readonly<Record<string, string | undefined>>;
}

export interface CliCommand {
  /** The words that select the command, e.g. `['dev', 'token']`. */
  readonly words: readonly string[];
  readonly summary: string;
  /** Full usage text, printed on `--help` and on bad arguments. */
  readonly usage: string;
  /** Runs with the arguments after the command words; resolves to the exit code. */
  run(args: readonly string[], io: CliIo): Promise<number>;
}
