#!/usr/bin/env node
// The `dcr-provisioner` command. Each subcommand only adapts arguments and output; the work is done by
// the library. Exit codes: 0 success, 1 failure, 2 usage error.

import { Command, CommanderError } from 'commander';
import { ConfigError } from '../config/index.js';
import { isProvisioningError } from '../failures/index.js';
import { productVersion } from '../version.js';
import { checkMetadataCommand } from './check-metadata.js';
import { CommandFailed, UsageError } from './cli-errors.js';
import { demoCommand } from './demo.js';
import { discoverCommand } from './discover.js';
import { enqueueCommand } from './enqueue.js';
import { reindexCommand } from './reindex.js';
import { rotateCommand } from './rotate.js';
import { serviceCommands } from './run-service.js';
import { sandboxCommand } from './sandbox.js';
import { statusCommand } from './status.js';

export const EXIT = { ok: 0, failure: 1, usage: 2 } as const;

export function buildProgram(): Command {
  const program = new Command('dcr-provisioner')
    .description('Register OAuth clients with SMART on FHIR authorization servers (RFC 7591).')
    .version(productVersion() ?? 'unknown')
    .exitOverride()
    .showHelpAfterError();
  for (const command of serviceCommands()) program.addCommand(command);
  program.addCommand(demoCommand());
  program.addCommand(discoverCommand());
  program.addCommand(checkMetadataCommand());
  program.addCommand(enqueueCommand());
  program.addCommand(statusCommand());
  program.addCommand(rotateCommand());
  program.addCommand(reindexCommand());
  program.addCommand(sandboxCommand());
  // Usage errors must reach reportError (exit 2) from subcommands too, not end the process with 1.
  for (const command of program.commands) command.exitOverride().showHelpAfterError();
  return program;
}

/** Prints what went wrong in one line a user can act on, and returns the exit code. */
export function reportError(err: unknown): number {
  if (err instanceof CommanderError) {
    // Help and version are "errors" to commander; they already printed what they had to.
    return err.exitCode === 0 ? EXIT.ok : EXIT.usage;
  }
  if (err instanceof CommandFailed) return EXIT.failure;
  if (err instanceof UsageError) {
    process.stderr.write(`error: ${err.message}\n`);
    return EXIT.usage;
  }
  if (err instanceof ConfigError) {
    process.stderr.write(`${err.message}\n`);
    return EXIT.usage;
  }
  if (isProvisioningError(err)) {
    process.stderr.write(`error: ${err.toFailedReason()}\n`);
    return EXIT.failure;
  }
  process.stderr.write(`error: ${err instanceof Error ? err.message : String(err)}\n`);
  return EXIT.failure;
}

export async function main(argv: readonly string[] = process.argv): Promise<number> {
  try {
    await buildProgram().parseAsync([...argv]);
    return EXIT.ok;
  } catch (err) {
    return reportError(err);
  }
}

process.exitCode = await main();
