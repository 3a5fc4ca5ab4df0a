// `dcr-provisioner demo`: the newcomer's run (see src/demo/run-demo.ts). With --once it exits after the
// summary: 0 when every sample tenant ended as expected, 1 otherwise.

import { Command } from 'commander';
import { runDemo } from '../demo/run-demo.js';
import { CommandFailed } from './cli-errors.js';

export function demoCommand(): Command {
  return new Command('demo')
    .description(
      'Run everything locally (Redis, a sandbox SMART server, worker, API, board) with sample tenants',
    )
    .option('--once', 'exit after the summary instead of running until Ctrl-C')
    .action(async (options: { once?: boolean }) => {
      const rows = await runDemo({ once: options.once ?? false });
      if (rows.some((row) => !row.asExpected)) throw new CommandFailed();
    });
}
