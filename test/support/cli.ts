/** Runs the real CLI (`src/cli/main.ts`) as a child process, as `npm run -s cli -- …` does. */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

export interface CliRun {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export async function runCli(args: readonly string[], env: Record<string, string> = {}): Promise<CliRun> {
  // Only what the CLI needs: no QUARTERMASTER_CONFIG from the developer's shell leaks in.
  const baseEnv = Object.fromEntries(
    Object.entries(process.env).filter(([k, v]) => k !== 'QUARTERMASTER_CONFIG' && v !== undefined),
  ) as Record<string, string>;
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], {
      cwd: process.cwd(),
      env: { ...baseEnv, ...env },
    });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: unknown; stdout?: string; stderr?: string };
    if (typeof e.code !== 'number') throw err;
    return { code: e.code, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}
