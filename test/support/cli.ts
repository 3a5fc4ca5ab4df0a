// Runs the built `dcr-provisioner` binary (dist/, built once by the global setup) with an environment,
// and answers its exit code and output instead of throwing on a non-zero exit.

import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const binary = path.resolve(import.meta.dirname, '../../dist/src/cli/main.js');

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** A runner for one test file: `baseEnv` on top of the process environment, `env` on top of that. */
export function cliRunner(baseEnv: Record<string, string>) {
  return async (args: string[], env: Record<string, string> = {}): Promise<CliResult> => {
    try {
      const { stdout, stderr } = await run(process.execPath, [binary, ...args], {
        env: { ...process.env, ...baseEnv, ...env },
      });
      return { code: 0, stdout, stderr };
    } catch (err) {
      const e = err as { code: number; stdout: string; stderr: string };
      return { code: e.code, stdout: e.stdout, stderr: e.stderr };
    }
  };
}
